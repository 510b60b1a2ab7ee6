import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, prettyLines } from '../../../gateway/log.js';

function sink(isTTY: boolean): { stream: Writable & { isTTY?: boolean }; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk, _enc, cb) {
      text += String(chunk);
      cb();
    },
  }) as Writable & { isTTY?: boolean };
  stream.isTTY = isTTY;
  return { stream, text: () => text };
}

describe('log format', () => {
  it('pretty prints time, level, context brackets, message and the other fields', () => {
    const line = JSON.stringify({ level: 40, time: Date.UTC(2026, 0, 2, 12, 0, 1, 123), pid: 7, component: 'rtmp', conn: '10.0.0.5:51234', path: 'live/cam1', msg: 'reader is too slow', dropped: 12, reason: 'lag 1200 ms' });
    expect(prettyLines(line + '\n')).toBe('12:00:01.123 WARN  [rtmp] [conn 10.0.0.5:51234] [live/cam1] reader is too slow dropped=12 reason="lag 1200 ms"\n');
  });

  it('pretty prints an error stack indented under its line', () => {
    const line = JSON.stringify({ level: 50, time: 0, msg: 'cannot start', err: { type: 'Error', message: 'EADDRINUSE', stack: 'Error: EADDRINUSE\n    at listen (net.js:1)' } });
    expect(prettyLines(line)).toBe('00:00:00.000 ERROR cannot start\n    Error: EADDRINUSE\n    at listen (net.js:1)\n');
  });

  it('passes a line that is not JSON through unchanged', () => {
    expect(prettyLines('plain words\n')).toBe('plain words\n');
  });

  it('auto writes JSON lines when the output is not a terminal', () => {
    const out = sink(false);
    createLogger('info', out.stream, 'auto').child({ component: 'http' }).info({ port: 8080 }, 'listening');
    const entry = JSON.parse(out.text());
    expect(entry).toMatchObject({ level: 30, component: 'http', port: 8080, msg: 'listening' });
  });

  it('auto writes readable lines on a terminal, coloured unless NO_COLOR', () => {
    const out = sink(true);
    createLogger('info', out.stream, 'auto').child({ component: 'http' }).info({ port: 8080 }, 'listening');
    const plain = out.text().replace(/\x1b\[\d+m/g, '');
    expect(plain).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  \[http\] listening port=8080\n$/);
  });

  it('json and pretty are forced whatever the output is', () => {
    const tty = sink(true);
    createLogger('info', tty.stream, 'json').info('x');
    expect(JSON.parse(tty.text()).msg).toBe('x');
    const pipe = sink(false);
    createLogger('info', pipe.stream, 'pretty').info('x');
    expect(pipe.text()).toMatch(/ INFO  x\n$/);
  });

  it('setLevelEverywhere reaches children made before the change, and their children', () => {
    const out = sink(false);
    const root = createLogger('info', out.stream, 'json');
    const conn = root.child({ component: 'rtmp' }).child({ conn: '1.2.3.4:5' });
    conn.debug('hidden');
    root.setLevelEverywhere('debug');
    conn.debug('shown');
    root.child({ component: 'hls' }).debug('new child too');
    const msgs = out.text().trim().split('\n').map((l) => JSON.parse(l).msg);
    expect(msgs).toEqual(['shown', 'new child too']);
  });
});
