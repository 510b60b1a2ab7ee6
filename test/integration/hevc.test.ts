import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildHevcDecoderConfig,
  h265NalType,
  nalusToLengthPrefixed,
  parseHevcDecoderConfig,
  splitAnnexB,
  splitLengthPrefixed,
} from '../../gateway/codecs/index.js';
import { parseVideoTagBody } from '../../gateway/formats/flv-tag.js';
import { isSequenceHeaderTag, readFlv, videoTags } from '../helpers/flv-client.js';
import { startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';
import { rtmpPublisher, type RawRtmp } from '../helpers/rtmp-client.js';
import { hasTool } from '../helpers/tools.js';

interface AccessUnit {
  nalus: Buffer[];
  keyframe: boolean;
}

/** Groups an H.265 Annex-B stream into access units (a VCL NAL with first_slice_segment_in_pic_flag starts one). */
function accessUnits(es: Buffer): { vps: Buffer; sps: Buffer; pps: Buffer; aus: AccessUnit[] } {
  let vps: Buffer | undefined;
  let sps: Buffer | undefined;
  let pps: Buffer | undefined;
  const aus: AccessUnit[] = [];
  let current: AccessUnit | undefined;
  for (const nal of splitAnnexB(es)) {
    const type = h265NalType(nal);
    if (type === 32) vps ??= nal;
    if (type === 33) sps ??= nal;
    if (type === 34) pps ??= nal;
    if (type < 32) {
      if (nal[2]! & 0x80 || !current) {
        current = { nalus: [], keyframe: false };
        aus.push(current);
      }
      current.nalus.push(nal);
      if (type >= 16 && type <= 23) current.keyframe = true;
    }
  }
  return { vps: vps!, sps: sps!, pps: pps!, aus };
}

/** Builds the two tag-body forms a publisher may send: Enhanced RTMP (hvc1) and legacy codec id 12. */
function configBody(form: 'enhanced' | 'legacy', hvcc: Buffer): Buffer {
  if (form === 'enhanced') return Buffer.concat([Buffer.from([0x80 | (1 << 4) | 0]), Buffer.from('hvc1'), hvcc]);
  return Buffer.concat([Buffer.from([(1 << 4) | 12, 0, 0, 0, 0]), hvcc]);
}

function frameBody(form: 'enhanced' | 'legacy', au: AccessUnit): Buffer {
  const ft = au.keyframe ? 1 : 2;
  const data = nalusToLengthPrefixed(au.nalus);
  if (form === 'enhanced') return Buffer.concat([Buffer.from([0x80 | (ft << 4) | 1]), Buffer.from('hvc1'), Buffer.from([0, 0, 0]), data]);
  return Buffer.concat([Buffer.from([(ft << 4) | 12, 1, 0, 0, 0]), data]);
}

describe.skipIf(!hasTool('ffmpeg'))('H.265 over RTMP (Enhanced RTMP and legacy codec id 12) out as Enhanced FLV', () => {
  let g: TestGateway;
  let es: ReturnType<typeof accessUnits>;
  let hvcc: Buffer;
  const clients: RawRtmp[] = [];

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-hevc-'));
    const file = join(dir, 'clip.hevc');
    execFileSync('ffmpeg', [
      '-hide_banner', '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-t', '2',
      '-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'keyint=25:min-keyint=25:bframes=0:log-level=error',
      '-f', 'hevc', file,
    ]);
    es = accessUnits(readFileSync(file));
    hvcc = buildHevcDecoderConfig([es.vps], [es.sps], [es.pps]);
    g = await startGateway();
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await g?.stop();
  });

  for (const form of ['enhanced', 'legacy'] as const) {
    it(`accepts the ${form} form and serves hvc1 Enhanced FLV with the hvcC, NAL units and timestamps intact`, async () => {
      const path = `live/hevc-${form}`;
      const c = await rtmpPublisher(Number(new URL(g.rtmp).port), 'live', `hevc-${form}`);
      clients.push(c);
      c.message(6, 9, 1, 0, configBody(form, hvcc), 60000);
      // send the first second, then let a reader join, then the rest
      const send = (from: number, to: number) => {
        for (let i = from; i < to; i++) c.message(6, 9, 1, i * 40, frameBody(form, es.aus[i]!), 60000);
      };
      send(0, 25);
      await waitFor('stream ready', () => g.gw.registry.get(path)?.ready);
      const cap = readFlv(`${g.http}/${path}.flv`);
      await waitFor('cached frames', () => videoTags(cap.tags).length >= 26);
      send(25, es.aus.length);
      await waitFor('all frames', () => videoTags(cap.tags).length >= es.aus.length + 1, 10_000);

      const entry = await (await fetch(`${g.http}/api/v1/streams/${path}`)).json();
      expect(entry.video).toMatchObject({ codec: 'H265', width: 320, height: 240 });

      const tags = videoTags(cap.tags);
      expect(isSequenceHeaderTag(tags[0]!)).toBe(true);
      const seq = parseVideoTagBody(tags[0]!.body);
      expect(tags[0]!.body[0]! & 0x80).toBe(0x80); // Enhanced FLV
      expect(tags[0]!.body.toString('latin1', 1, 5)).toBe('hvc1');
      expect(seq.type === 'config' && seq.codec === 'H265' && seq.config.equals(hvcc)).toBe(true);
      const record = parseHevcDecoderConfig(hvcc);
      expect(record.sps[0]!.equals(es.sps)).toBe(true);

      const frames = tags.slice(1).map((t) => ({ t: t.timestamp, body: parseVideoTagBody(t.body), raw: t.body }));
      expect(frames.length).toBe(es.aus.length);
      frames.forEach((f, i) => {
        expect(f.raw.toString('latin1', 1, 5)).toBe('hvc1');
        if (f.body.type !== 'frame') throw new Error('expected a coded frame');
        expect(f.body.codec).toBe('H265');
        expect(f.body.keyframe).toBe(es.aus[i]!.keyframe);
        const nalus = splitLengthPrefixed(f.body.data);
        expect(nalus.map(h265NalType)).toEqual(es.aus[i]!.nalus.map(h265NalType));
        expect(Buffer.concat(nalus).equals(Buffer.concat(es.aus[i]!.nalus))).toBe(true);
        expect(f.t).toBe(i * 40);
      });
      expect(h265NalType(splitLengthPrefixed((frames[0]!.body as { data: Buffer }).data)[0]!)).toBeGreaterThanOrEqual(16);
      cap.close();
      c.close();
    });
  }
});
