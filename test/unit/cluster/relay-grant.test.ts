import { describe, expect, it } from 'vitest';
import { signRelay, verifyRelay } from '../../../gateway/cluster/relay-grant.js';
import { mergeStreamEntries } from '../../../gateway/cluster/workers.js';

describe('relay grants', () => {
  const now = 1_800_000_000_000;
  it('accepts a grant for its path with the same secret', () => {
    expect(verifyRelay('s', 'live/cam1', signRelay('s', 'live/cam1', now), now)).toBe(true);
  });
  const refused: [string, () => boolean][] = [
    ['another path', () => verifyRelay('s', 'live/cam2', signRelay('s', 'live/cam1', now), now)],
    ['another secret', () => verifyRelay('t', 'live/cam1', signRelay('s', 'live/cam1', now), now)],
    ['an expired grant', () => verifyRelay('s', 'live/cam1', signRelay('s', 'live/cam1', now), now + 61_000)],
    ['no secret configured', () => verifyRelay('', 'live/cam1', signRelay('s', 'live/cam1', now), now)],
    ['garbage', () => verifyRelay('s', 'live/cam1', 'x.y', now)],
    ['an expiry far ahead', () => verifyRelay('s', 'live/cam1', signRelay('s', 'live/cam1', now + 3_600_000), now)],
  ];
  for (const [name, check] of refused) it(`refuses ${name}`, () => expect(check()).toBe(false));
});

describe('mergeStreamEntries (the whole box from its workers)', () => {
  it('keeps the owner entry and adds up readers, taking the relays off the owner', () => {
    const owner = { path: 'live/cam1', publisher: { protocol: 'rtmp' }, readers: { count: 3, flv: 3 }, bitrateKbps: { in: 1000, out: 3000 }, worker: 0 };
    const relay = { path: 'live/cam1', publisher: { protocol: 'edge-pull' }, readers: { count: 2, 'ws-flv': 2 }, bitrateKbps: { in: 1000, out: 2000 }, worker: 1 };
    const [merged] = mergeStreamEntries([[owner], [relay]]);
    expect(merged).toMatchObject({ publisher: { protocol: 'rtmp' }, readers: { count: 4, flv: 2, 'ws-flv': 2 }, bitrateKbps: { in: 1000, out: 5000 } });
    expect(merged!.workers).toEqual([
      { worker: 0, readers: 3, relay: false },
      { worker: 1, readers: 2, relay: true },
    ]);
  });
});
