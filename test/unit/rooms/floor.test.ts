import { describe, expect, it } from 'vitest';
import { Floor, participantStream, streamNameOf } from '../../../gateway/rooms/floor.js';
import { isValidPath } from '../../../gateway/core/path.js';

describe('talkback floor', () => {
  it.each([
    ['alice', 'alice'],
    ['Gate 3', 'Gate-3'],
    ['_mix', '-mix'],
    ['..', '--'],
    ['Zoë/ops', 'Zo--ops'],
  ])('the stream name of %j is %j, a valid path component', (name, expected) => {
    expect(streamNameOf(name)).toBe(expected);
    expect(isValidPath(`room/42/${streamNameOf(name)}`)).toBe(true);
  });

  it('a participant stream is one component below its room; the room\'s own streams are not', () => {
    expect(participantStream('room/42/alice')).toEqual({ room: 'room/42', name: 'alice' });
    expect(participantStream('room/42/_mix')).toBeUndefined();
    expect(participantStream('room/42')).toBeUndefined();
    expect(participantStream('room/42/a/b')).toBeUndefined();
  });

  it('a grant gives a key that matches only its name; a revoke takes it and refuses until the next grant', () => {
    const floor = new Floor();
    const key = floor.grant('alice');
    expect(floor.keyMatches('alice', key)).toBe(true);
    expect(floor.keyMatches('bob', key)).toBe(false);
    expect(floor.keyMatches('alice', `${key}x`)).toBe(false);
    expect(floor.keyMatches('alice', undefined)).toBe(false);
    expect(floor.grant('alice')).toBe(key);
    floor.revoke('alice');
    expect(floor.isRevoked('alice')).toBe(true);
    expect(floor.keyMatches('alice', key)).toBe(false);
    const next = floor.grant('alice');
    expect(next).not.toBe(key);
    expect(floor.isRevoked('alice')).toBe(false);
  });
});
