import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configWith, parseConfig } from '../../../gateway/config.js';
import { ROOM_ERROR_CODES } from '../../../gateway/rooms/errors.js';

describe('rooms config', () => {
  it('has a default for every field', () => {
    expect(configWith().rooms).toEqual({
      enabled: true,
      historySize: 100,
      persist: false,
      fsync: false,
      maxMessageBytes: 16384,
      ratePerSecond: 5,
      rateBurst: 10,
      maxRefusals: 20,
      refusalWindowMs: 10000,
      maxParticipants: 1000,
      maxRooms: 1000,
      kickBanMs: 60000,
      maxNameLength: 64,
      hostNames: [],
      hostRule: 'names',
      maxBufferedBytes: 4 * 1024 * 1024,
      pingIntervalMs: 30000,
      maxFileBytes: 100 * 1024 * 1024,
      maxFilesPerRoom: 100,
      fileIdleTimeoutMs: 3_600_000,
      publish: 'open',
      maxPublishers: 16,
      audioCleanup: [],
    });
  });

  it.each([
    { rooms: { historySize: -1 }, message: /rooms\.historySize/ },
    { rooms: { ratePerSecond: 0 }, message: /rooms\.ratePerSecond/ },
    { rooms: { maxMessageBytes: 10 }, message: /rooms\.maxMessageBytes/ },
    { rooms: { hostRule: 'everyone' }, message: /rooms\.hostRule/ },
    { rooms: { hostNames: [''] }, message: /rooms\.hostNames/ },
    { rooms: { maxFileBytes: 0 }, message: /rooms\.maxFileBytes/ },
    { rooms: { maxFilesPerRoom: 0 }, message: /rooms\.maxFilesPerRoom/ },
    { rooms: { historysize: 5 }, message: /unknown key rooms\.historysize/ },
  ])('rejects $rooms', ({ rooms, message }) => {
    expect(() => parseConfig({ rooms })).toThrow(message);
  });
});

describe('rooms protocol document', () => {
  it('lists every error code', () => {
    const doc = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    for (const code of ROOM_ERROR_CODES) expect(doc, code).toContain(`\`${code}\``);
  });
});
