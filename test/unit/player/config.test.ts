/** The player's one config object: defaults, merging, and each rejected contradiction. */
import { describe, expect, test } from 'vitest';
import { latencyPresets, mergeConfig, playerDefaultConfig, PlayerConfigError, tuningOf, type PlayerOptions } from '../../../player/src/config.js';
import { Backoff } from '../../../player/src/controller/retry.js';

const ORIGIN = 'http://gw.example:8080';

describe('mergeConfig', () => {
  test('defaults: HTTP-FLV, low latency, muted autoplay, the page origin as server', () => {
    const c = mergeConfig({ stream: 'live/cam1' }, ORIGIN);
    expect(c).toMatchObject({ ...playerDefaultConfig, stream: 'live/cam1', server: ORIGIN });
    expect(tuningOf(c)).toEqual(latencyPresets.low);
  });

  test('options override the defaults; retry and tuning are merged field by field', () => {
    const c = mergeConfig({ stream: 'room/42/alice', transport: 'ws', latency: 'balanced', token: 't', retry: { maxDelayMs: 9000 }, latencyTuning: { targetBufferS: 0.8 } }, ORIGIN);
    expect(c.transport).toBe('ws');
    expect(c.token).toBe('t');
    expect(c.retry).toEqual({ ...playerDefaultConfig.retry, maxDelayMs: 9000 });
    expect(tuningOf(c)).toEqual({ ...latencyPresets.balanced, targetBufferS: 0.8 });
  });

  test.each(['http', 'ws', 'hls', 'webrtc', 'auto'] as const)('transport %s is accepted', (transport) => {
    expect(mergeConfig({ stream: 'live/cam1', transport }, ORIGIN).transport).toBe(transport);
  });

  test('does not share nested objects with the defaults', () => {
    const c = mergeConfig({ stream: 'live/cam1' }, ORIGIN);
    c.retry.initialDelayMs = 1;
    expect(playerDefaultConfig.retry.initialDelayMs).toBe(500);
  });

  test.each<[string, PlayerOptions, RegExp]>([
    ['no stream', { stream: '' }, /stream must be a path like "live\/cam1"/],
    ['a stream without app', { stream: 'cam1' }, /stream must be a path/],
    ['a stream with a bad character', { stream: 'live/cam 1' }, /stream must be a path/],
    ['an unknown transport', { stream: 'live/cam1', transport: 'rtsp' as never }, /transport must be one of http, ws, hls, webrtc, auto; got "rtsp"/],
    ['an unknown latency', { stream: 'live/cam1', latency: 'zero' as never }, /latency must be one of low, balanced; got "zero"/],
    ['a jump below target + tolerance', { stream: 'live/cam1', latencyTuning: { jumpBufferS: 0.1 } }, /jumpBufferS must exceed targetBufferS \+ toleranceS/],
    ['a catch-up rate below 1', { stream: 'live/cam1', latencyTuning: { catchUpRate: 0.9 } }, /catchUpRate must be between 1 and 2/],
    ['a catch-up rate above 2', { stream: 'live/cam1', latencyTuning: { catchUpRate: 3 } }, /catchUpRate must be between 1 and 2/],
    ['unmuted autoplay without controls', { stream: 'live/cam1', muted: false }, /autoplay with sound needs controls/],
    ['a zero retry delay', { stream: 'live/cam1', retry: { initialDelayMs: 0 } }, /retry needs initialDelayMs > 0/],
    ['a retry factor below 1', { stream: 'live/cam1', retry: { factor: 0.5 } }, /factor >= 1/],
    ['a max delay below the first', { stream: 'live/cam1', retry: { initialDelayMs: 6000 } }, /maxDelayMs >= initialDelayMs/],
  ])('rejects %s with SG_PLAYER_ERR_CONFIG and a message that says what to change', (_name, options, message) => {
    let error: unknown;
    try {
      mergeConfig(options, ORIGIN);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PlayerConfigError);
    expect((error as PlayerConfigError).code).toBe('SG_PLAYER_ERR_CONFIG');
    expect((error as Error).message).toMatch(message);
  });

  test('unmuted autoplay is fine with controls, or without autoplay', () => {
    expect(() => mergeConfig({ stream: 'live/cam1', muted: false, controls: true }, ORIGIN)).not.toThrow();
    expect(() => mergeConfig({ stream: 'live/cam1', muted: false, autoplay: false }, ORIGIN)).not.toThrow();
  });

  test('every preset passes its own validation', () => {
    for (const latency of Object.keys(latencyPresets) as (keyof typeof latencyPresets)[]) {
      expect(() => mergeConfig({ stream: 'live/cam1', latency }, ORIGIN)).not.toThrow();
    }
  });
});

describe('Backoff', () => {
  test('grows by the factor up to the ceiling, with at most ±20 % jitter', () => {
    const b = new Backoff({ initialDelayMs: 500, factor: 2, maxDelayMs: 3000 });
    const raw = [500, 1000, 2000, 3000, 3000];
    for (const r of raw) {
      const d = b.next();
      expect(d).toBeGreaterThanOrEqual(r * 0.8);
      expect(d).toBeLessThanOrEqual(r * 1.2);
    }
    expect(b.failures).toBe(5);
    b.reset();
    expect(b.failures).toBe(0);
    expect(b.next()).toBeLessThanOrEqual(600);
  });
});
