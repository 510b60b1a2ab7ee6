import { describe, expect, it } from 'vitest';
import { RoomError } from '../../../gateway/rooms/errors.js';
import { parseClientMessage, validateName } from '../../../gateway/rooms/protocol.js';

describe('parseClientMessage', () => {
  it.each([
    { name: 'chat', raw: { type: 'chat', text: 'hi' }, parsed: { type: 'chat', text: 'hi' } },
    { name: 'chat with a string ref', raw: { type: 'chat', text: 'hi', ref: 'a1' }, parsed: { type: 'chat', text: 'hi', ref: 'a1' } },
    { name: 'data to all by default', raw: { type: 'data', payload: { x: 1 } }, parsed: { type: 'data', to: 'all', payload: { x: 1 }, binary: false } },
    { name: 'data to host', raw: { type: 'data', to: 'host', payload: null }, parsed: { type: 'data', to: 'host', payload: null, binary: false } },
    { name: 'data to one id', raw: { type: 'data', to: 7, payload: 'x' }, parsed: { type: 'data', to: 7, payload: 'x', binary: false } },
    { name: 'binary announcement', raw: { type: 'data', to: 'host', binary: true, ref: 3 }, parsed: { type: 'data', to: 'host', binary: true, ref: 3 } },
    { name: 'kick with ban', raw: { type: 'kick', participant: 2, banMs: 0, reason: 'x' }, parsed: { type: 'kick', participant: 2, banMs: 0, reason: 'x' } },
    { name: 'mute', raw: { type: 'mute', participant: 2 }, parsed: { type: 'mute', participant: 2, media: 'chat' } },
    { name: 'unmute', raw: { type: 'unmute', participant: 2 }, parsed: { type: 'unmute', participant: 2, media: 'chat' } },
    { name: 'audio mute', raw: { type: 'mute', participant: 2, media: 'audio' }, parsed: { type: 'mute', participant: 2, media: 'audio' } },
    { name: 'grant', raw: { type: 'grant', participant: 2, ref: 'g' }, parsed: { type: 'grant', participant: 2, ref: 'g' } },
    { name: 'revoke', raw: { type: 'revoke', participant: 2, reason: 'over time' }, parsed: { type: 'revoke', participant: 2, reason: 'over time' } },
    { name: 'close', raw: { type: 'close' }, parsed: { type: 'close' } },
  ])('accepts $name', ({ raw, parsed }) => {
    expect(parseClientMessage(raw)).toEqual(parsed);
  });

  it.each([
    { name: 'an array', raw: [1], message: /JSON object/ },
    { name: 'a string', raw: 'chat', message: /JSON object/ },
    { name: 'no type', raw: { text: 'hi' }, message: /unknown message type/ },
    { name: 'an unknown type', raw: { type: 'dance' }, message: /supported: chat, data/ },
    // JSON.parse('{"type":{"toString":1}}'): String() of it threw a TypeError (an untyped 1011 close).
    { name: 'a type that is an object with a bad toString', raw: { type: { toString: 1 } }, message: /unknown message type of kind object/ },
    { name: 'empty chat', raw: { type: 'chat', text: '' }, message: /non-empty string/ },
    { name: 'chat text as a number', raw: { type: 'chat', text: 5 }, message: /non-empty string/ },
    { name: 'data without payload', raw: { type: 'data', to: 'all' }, message: /"payload" is required/ },
    { name: 'data to a bad target', raw: { type: 'data', to: 'hosts', payload: 1 }, message: /"to" must be/ },
    { name: 'data to id 0', raw: { type: 'data', to: 0, payload: 1 }, message: /"to" must be/ },
    { name: 'binary with a payload', raw: { type: 'data', binary: true, payload: 1 }, message: /next binary frame/ },
    { name: 'kick without participant', raw: { type: 'kick' }, message: /participant id/ },
    { name: 'kick with a negative ban', raw: { type: 'kick', participant: 1, banMs: -1 }, message: /banMs/ },
    { name: 'a mute of video', raw: { type: 'mute', participant: 1, media: 'video' }, message: /"media" must be "chat"/ },
    { name: 'grant without participant', raw: { type: 'grant' }, message: /participant id/ },
    { name: 'a long ref', raw: { type: 'chat', text: 'x', ref: 'r'.repeat(65) }, message: /"ref"/ },
  ])('refuses $name with SG_ERR_ROOM_INVALID_MESSAGE', ({ raw, message }) => {
    expect(() => parseClientMessage(raw)).toThrow(message);
    try {
      parseClientMessage(raw);
    } catch (error) {
      expect(error).toBeInstanceOf(RoomError);
      expect((error as RoomError).code).toBe('SG_ERR_ROOM_INVALID_MESSAGE');
    }
  });
});

describe('validateName', () => {
  it('trims and accepts ordinary names, including non-ASCII ones', () => {
    expect(validateName('  alice ', 64)).toBe('alice');
    expect(validateName('Łukasz <b>', 64)).toBe('Łukasz <b>');
  });

  it.each([
    { name: 'missing', value: null },
    { name: 'blank', value: '   ' },
    { name: 'too long', value: 'x'.repeat(65) },
    { name: 'with a newline', value: 'a\nb' },
    { name: 'with a NUL', value: 'a\u0000b' },
  ])('refuses a name that is $name', ({ value }) => {
    expect(() => validateName(value, 64)).toThrow(expect.objectContaining({ code: 'SG_ERR_ROOM_INVALID_NAME' }));
  });
});
