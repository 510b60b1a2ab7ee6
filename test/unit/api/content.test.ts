import { describe, expect, it } from 'vitest';
import { contentOf } from '../../../gateway/api/content.js';

describe('contentOf: which API URLs serve media, and for which path', () => {
  const cases: [string, ReturnType<typeof contentOf>][] = [
    ['/streams/live/cam1/snapshot.jpg', { action: 'play', path: 'live/cam1' }],
    ['/streams/live/cam1/snapshot.jpg/', { action: 'play', path: 'live/cam1' }],
    ['/STREAMS/live/cam1/Snapshot.Jpg', { action: 'play', path: 'live/cam1' }],
    ['/streams/a/b/c/snapshot.jpg', { action: 'play', path: 'a/b/c' }],
    ['/streams/live%2Fcam1/snapshot.jpg', { action: 'play', path: 'live/cam1' }],
    ['/recordings/cams/gate/2025-03-01T08-00-00.000Z.mp4', { action: 'play', path: 'cams/gate' }],
    ['/Recordings/cams/gate/2025-03-01T08-00-00.000Z-1.mp4/', { action: 'play', path: 'cams/gate' }],
    ['/rooms/ops/room1/messages', { action: 'room', path: 'ops/room1' }],
    ['/ROOMS/ops/room1/messages/', { action: 'room', path: 'ops/room1' }],
    ['/rooms/ops/room1/files', { action: 'room', path: 'ops/room1' }],
    ['/rooms/ops/room1/files/9f2c41d07ab3e815', { action: 'room', path: 'ops/room1' }],
    ['/rooms/ops/room1/Messages', undefined], // the rooms router reads that as the room ops/room1/Messages
    // metadata and anything else: not content
    ['/streams', undefined],
    ['/streams/live/cam1', undefined],
    ['/recordings', undefined],
    ['/recordings/cams/gate/notes.txt', undefined],
    ['/rooms/ops/room1', undefined],
    ['/streams/../snapshot.jpg', undefined],
    ['/streams/live/%E0%A4%A/snapshot.jpg', undefined], // a malformed escape
  ];
  for (const [url, expected] of cases) {
    it(`${url} -> ${expected ? `${expected.action} ${expected.path}` : 'not content'}`, () => {
      expect(contentOf(url)).toEqual(expected);
    });
  }
});
