import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAvcDecoderConfig, parseH264Sps } from '../../gateway/codecs/index.js';
import { parseVideoTagBody } from '../../gateway/formats/flv-tag.js';
import { publish, type Publisher } from '../helpers/ffmpeg.js';
import { isKeyframeTag, isSequenceHeaderTag, readFlv, videoTags } from '../helpers/flv-client.js';
import { sleep, startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';
import { encodeAmf0 } from '../../gateway/formats/amf0.js';
import { rawRtmp, waitForText } from '../helpers/rtmp-client.js';
import { hasTool } from '../helpers/tools.js';

function sps(tagBody: Buffer) {
  const tag = parseVideoTagBody(tagBody);
  if (tag.type !== 'config') throw new Error('not a sequence header');
  return parseH264Sps(parseAvcDecoderConfig(tag.config).sps[0]!);
}

describe.skipIf(!hasTool('ffmpeg'))('hub behaviour with real publishers and readers', () => {
  let g: TestGateway;
  const pubs: Publisher[] = [];

  beforeAll(async () => {
    g = await startGateway({
      hub: { publisherGraceMs: 4000, maxReaderLagMs: 500, maxReaderQueueBytes: 1024 * 1024, readerStallTimeoutMs: 4000 },
    });
  });

  afterAll(async () => {
    await Promise.all(pubs.map((p) => p.stop()));
    await g?.stop();
  });

  it('gives a late joiner the codec headers and then the cached keyframe at once (10 s GOP)', async () => {
    pubs.push(publish(`${g.rtmp}/live/longgop`, { gop: 250, fps: 25 }));
    await waitFor('stream ready', () => g.gw.registry.get('live/longgop')?.ready, 15_000);
    await sleep(3000);
    const stream = g.gw.registry.get('live/longgop')!;
    const joinedAt = stream.lastDts;
    expect(joinedAt).toBeGreaterThan(2000);
    const cap = readFlv(`${g.http}/live/longgop.flv`);
    await waitFor('a keyframe', () => cap.tags.some(isKeyframeTag), 5000);
    const firstMedia = cap.tags.findIndex((t) => (t.type === 8 || t.type === 9) && !isSequenceHeaderTag(t));
    // script data, then the sequence headers, before any frame
    expect(cap.tags[0]!.type).toBe(18);
    const between = cap.tags.slice(1, firstMedia).filter((t) => t.type !== 18); // latency stamps are script tags
    expect(between.every(isSequenceHeaderTag)).toBe(true);
    expect(between.map((t) => t.type).sort()).toEqual([8, 9]);
    // the first video frame is the cached keyframe from before the join, not the next one (10 s later)
    const firstVideo = videoTags(cap.tags).find((t) => !isSequenceHeaderTag(t))!;
    expect(isKeyframeTag(firstVideo)).toBe(true);
    expect(firstVideo.timestamp).toBeLessThan(joinedAt - 2000);
    // and the frames after it bring the reader to the live edge in the same burst
    await waitFor('caught up to the join point', () => videoTags(cap.tags).some((t) => t.timestamp >= joinedAt), 3000);
    cap.close();
  });

  it('refuses a second publisher on a path and keeps the first', async () => {
    const first = publish(`${g.rtmp}/live/dup`, {});
    pubs.push(first);
    await waitFor('first publisher ready', () => g.gw.registry.get('live/dup')?.ready, 15_000);
    const owner = g.gw.registry.get('live/dup')!.publisher!.remoteAddress;
    // the protocol's own error: onStatus NetStream.Publish.BadName, then the connection closes
    const raw = await rawRtmp(Number(new URL(g.rtmp).port));
    raw.command('connect', 1, { app: 'live', tcUrl: 'rtmp://127.0.0.1/live' });
    await waitForText(raw, 'NetConnection.Connect.Success');
    raw.command('createStream', 2, null);
    raw.message(8, 20, 1, 0, encodeAmf0('publish', 3, null, 'dup', 'live'));
    await waitForText(raw, 'NetStream.Publish.BadName');
    await raw.closed;
    const second = publish(`${g.rtmp}/live/dup`, {});
    pubs.push(second);
    const code = await Promise.race([second.exited, sleep(10_000).then(() => 'still running')]);
    expect(code).not.toBe(0);
    expect(code).not.toBe('still running');
    expect(g.gw.registry.get('live/dup')!.publisher!.remoteAddress).toBe(owner);
    expect(g.logs.some((l) => String(l.msg).includes('publish refused') && String(l.msg).includes('already has a publisher'))).toBe(true);
  });

  it('keeps readers through a publisher reconnect and hands them the new codec headers', async () => {
    const a = publish(`${g.rtmp}/live/re`, { size: '320x240' });
    pubs.push(a);
    await waitFor('stream ready', () => g.gw.registry.get('live/re')?.ready, 15_000);
    const cap = readFlv(`${g.http}/live/re.flv`);
    await waitFor('frames before the drop', () => videoTags(cap.tags).length > 20);
    await a.stop();
    await sleep(500);
    expect(g.gw.registry.get('live/re')?.state).toBe('waiting');
    const before = cap.tags.length;
    const b = publish(`${g.rtmp}/live/re`, { size: '480x272' });
    pubs.push(b);
    await waitFor('frames from the new publisher', () => cap.tags.slice(before).filter(isKeyframeTag).length > 0, 15_000);
    await waitFor('more frames', () => videoTags(cap.tags.slice(before)).length > 10);
    const headers = videoTags(cap.tags).filter(isSequenceHeaderTag);
    expect(headers.length).toBeGreaterThanOrEqual(2);
    expect(sps(headers[0]!.body)).toMatchObject({ width: 320, height: 240 });
    expect(sps(headers.at(-1)!.body)).toMatchObject({ width: 480, height: 272 });
    const times = videoTags(cap.tags).filter((t) => !isSequenceHeaderTag(t)).map((t) => t.timestamp);
    for (let i = 1; i < times.length; i++) expect(times[i]!).toBeGreaterThanOrEqual(times[i - 1]!);
    const entry = await (await fetch(`${g.http}/api/v1/streams/live/re`)).json();
    expect(entry.video).toMatchObject({ width: 480, height: 272 });
    expect(entry.publishCount).toBe(2);
    cap.close();
  });

  it('ends readers when the publisher does not return within the grace period', async () => {
    const p = publish(`${g.rtmp}/live/gone`, {});
    pubs.push(p);
    await waitFor('stream ready', () => g.gw.registry.get('live/gone')?.ready, 15_000);
    const cap = readFlv(`${g.http}/live/gone.flv`);
    await waitFor('frames', () => cap.tags.length > 10);
    await p.stop();
    const ended = await Promise.race([cap.ended.then(() => 'ended'), sleep(9000).then(() => 'open')]);
    expect(ended).toBe('ended');
    expect(g.gw.registry.get('live/gone')).toBeUndefined();
  });

  it('drops the publisher on DELETE /api/v1/streams/{app}/{name}', async () => {
    const p = publish(`${g.rtmp}/live/kick`, {});
    pubs.push(p);
    await waitFor('stream ready', () => g.gw.registry.get('live/kick')?.ready, 15_000);
    const res = await fetch(`${g.http}/api/v1/streams/live/kick`, { method: 'DELETE' });
    expect(res.status).toBe(204);
    const code = await Promise.race([p.exited, sleep(10_000).then(() => 'still running')]);
    expect(code).not.toBe('still running');
    expect(g.gw.registry.get('live/kick')).toBeUndefined();
  });

  it('bounds a stalled reader, counts its drops, closes it, and does not slow the others', async () => {
    const p = publish(`${g.rtmp}/live/fast`, { realtime: false, size: '640x480', bitrate: '6M', duration: 40, gop: 25 });
    pubs.push(p);
    await waitFor('stream ready', () => g.gw.registry.get('live/fast')?.ready, 15_000);
    const stalled = connect(Number(new URL(g.http).port), '127.0.0.1');
    stalled.write('GET /live/fast.flv HTTP/1.1\r\nHost: x\r\n\r\n');
    stalled.pause(); // never read: the kernel buffers fill, then write() returns false
    const healthy = readFlv(`${g.http}/live/fast.flv`);
    const stream = g.gw.registry.get('live/fast')!;
    let maxQueued = 0;
    const stalledStats = () => stream.readerStats().find((r) => r.remoteAddress.endsWith(`:${stalled.localPort}`));
    await waitFor('drops on the stalled reader', () => {
      const s = stalledStats();
      if (s) maxQueued = Math.max(maxQueued, s.queuedBytes);
      return (s?.droppedFrames ?? 0) > 0;
    }, 30_000, 20);
    const entry = await (await fetch(`${g.http}/api/v1/streams/live/fast`)).json();
    expect(entry.droppedFrames).toBeGreaterThan(0);
    // the queue never outgrows its byte cap (1 MiB + one frame)
    expect(maxQueued).toBeLessThan(1024 * 1024 + 512 * 1024);
    // every other reader got every frame
    const others = stream.readerStats().filter((r) => !r.remoteAddress.endsWith(`:${stalled.localPort}`));
    expect(others.length).toBeGreaterThan(0);
    for (const r of others) expect(r.droppedFrames).toBe(0);
    // a reader that keeps failing is closed after readerStallTimeoutMs
    await waitFor('stalled reader closed', () => stalledStats() === undefined, 20_000, 100);
    expect(healthy.tags.length).toBeGreaterThan(100);
    stalled.destroy();
    healthy.close();
  }, 90_000);
});
