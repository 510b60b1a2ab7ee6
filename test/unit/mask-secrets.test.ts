import { describe, expect, it } from 'vitest';
import { maskSecrets } from '../../gateway/log.js';

describe('maskSecrets', () => {
  const cases: [string, string][] = [
    ['rtmp://127.0.0.1:1935/live/cam?token=v1.k1.play.abc.123.sig', 'rtmp://127.0.0.1:1935/live/cam?token=***'],
    ["Input #0, flv, from 'rtmp://127.0.0.1:1935/live/cam?a=1&token=secret':", "Input #0, flv, from 'rtmp://127.0.0.1:1935/live/cam?a=1&token=***':"],
    ['rtsp://user:p4ss@10.0.0.5:554/stream1', 'rtsp://user:***@10.0.0.5:554/stream1'],
    ['-c:v copy -c:a aac -f flv', '-c:v copy -c:a aac -f flv'],
  ];
  for (const [input, expected] of cases) {
    it(`masks ${input.slice(0, 50)}`, () => expect(maskSecrets(input)).toBe(expected));
  }
});
