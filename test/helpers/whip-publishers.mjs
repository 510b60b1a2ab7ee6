// WHIP load generator in its own process (plain JS, like whep-readers.mjs, so the bench runs it
// without a build): COUNT libdatachannel peers each publish H.264 + Opus to
// ORIGIN/{prefix}{K}/whip, K = FIRST .. FIRST+COUNT-1.
//
// Media: ONE ffmpeg process per load process sends a clip as plain RTP to two local UDP ports
// (H.264 packetization-mode 1, pt 102; Opus, pt 111), and this process fans every packet out to
// every publisher's track: bytes 8..11 (SSRC) rewritten to the publisher's own, the payload type
// to the one the answer chose, then Track.sendMessageBinary of the whole RTP packet. A track with
// no packetizer sends what it is given as RTP (libdatachannel only SRTP-protects it), so the
// per-publisher cost here is one native call and one SRTP encryption per packet. Each track has
// an RtcpSrReporter (sender reports once a second, as browsers send) on an RtpPacketizationConfig
// with the same SSRC; it only counts what passes and adds the SR, it packetizes nothing.
//
// The clip (--clip FILE, MPEG-TS with H.264 carrying SPS/PPS in band at each IDR, and Opus) is
// played with `-re -stream_loop -1 -c copy`: encoding 720p25 live costs about a core on this
// machine, which would make the load generator the limit before the gateway. Without --clip this
// process encodes one itself first (encodeClip below, what the bench does once for all processes).
//
// Protocol with the parent: one stdout line {"ready":...,"ffmpegPid":N,"publishers":[...]} once
// every publisher has connected (or failed); then it runs until stdin ends or SIGTERM, closes
// the sessions (DELETE) and prints one final JSON line: per publisher {path,status,connected,
// packets,bytes,sendFailures}, the packets received from ffmpeg, and its own CPU since ready.
//   node test/helpers/whip-publishers.mjs --origin http://127.0.0.1:8080 --count 4 [--first 0]
//        [--prefix live/pub] [--clip FILE] [--no-sr]
import { execFileSync, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import nodeDataChannel from 'node-datachannel';

const { PeerConnection, Video, Audio, RtcpSrReporter, RtpPacketizationConfig } = nodeDataChannel;

const { values } = parseArgs({
  options: {
    origin: { type: 'string' },
    count: { type: 'string', default: '1' },
    first: { type: 'string', default: '0' },
    prefix: { type: 'string', default: 'live/pub' },
    clip: { type: 'string' },
    'no-sr': { type: 'boolean', default: false },
    // Encode a clip and exit (the bench calls this once): --encode-clip FILE
    'encode-clip': { type: 'string' },
    size: { type: 'string', default: '1280x720' },
    bitrate: { type: 'string', default: '2M' },
  },
});

const VIDEO_PT = 102;
const AUDIO_PT = 111;

/** 20 s of 25 fps H.264 baseline (GOP 25, zerolatency, CBR-ish) + Opus 48 kHz stereo, in MPEG-TS. */
export function encodeClip(file, size = '1280x720', bitrate = '2M') {
  execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=25`,
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', '20', '-map', '0:v', '-map', '1:a',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-profile:v', 'baseline', '-pix_fmt', 'yuv420p',
    '-g', '25', '-keyint_min', '25', '-sc_threshold', '0',
    '-b:v', bitrate, '-maxrate', bitrate, '-bufsize', bitrate,
    '-c:a', 'libopus', '-b:a', '64k', '-ac', '2',
    '-f', 'mpegts', file,
  ], { stdio: 'ignore' });
}

if (values['encode-clip']) {
  encodeClip(values['encode-clip'], values.size, values.bitrate);
  process.exit(0);
}

const origin = values.origin;
if (!origin) throw new Error('--origin http://HOST:PORT is required');
const count = Number(values.count);
const first = Number(values.first);

const work = mkdtempSync(join(tmpdir(), 'sg-whip-'));
// One certificate for every peer of this process (see whep-readers.mjs).
const certificate = { certificatePemFile: join(work, 'c.pem'), keyPemFile: join(work, 'k.pem') };
execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', certificate.keyPemFile, '-out', certificate.certificatePemFile, '-days', '2', '-subj', '/CN=load'], { stdio: 'ignore' });

let clip = values.clip;
if (!clip) {
  clip = join(work, 'clip.ts');
  encodeClip(clip, values.size, values.bitrate);
}

/** The payload type the answer gave the section of `mid` (the first on its m= line). */
function answeredPayloadType(sdp, mid, fallback) {
  let current = null;
  let pt = null;
  for (const line of sdp.split(/\r?\n/)) {
    if (line.startsWith('m=')) {
      if (current === mid && pt !== null) return pt;
      current = null;
      pt = Number(line.split(' ')[3]);
    } else if (line.startsWith('a=mid:')) current = line.slice(6).trim();
  }
  return current === mid && Number.isInteger(pt) ? pt : fallback;
}

async function publisher(k) {
  const path = `${values.prefix}${k}`;
  const pc = new PeerConnection(`pub${k}`, { iceServers: [], bindAddress: '127.0.0.1', ...certificate });
  const p = { path, status: 0, connected: false, packets: 0, bytes: 0, sendFailures: 0, pc, location: null, tracks: [] };
  const connected = new Promise((resolve) => pc.onStateChange((s) => s === 'connected' && resolve()));
  const gathered = new Promise((resolve) => {
    pc.onGatheringStateChange((s) => s === 'complete' && resolve());
    setTimeout(resolve, 2000);
  });
  const ssrcs = [(0x10000000 + k * 2) >>> 0, (0x10000000 + k * 2 + 1) >>> 0];
  const v = new Video('0', 'SendOnly');
  v.addH264Codec(VIDEO_PT, 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f');
  v.addSSRC(ssrcs[0], path, path, 'video0');
  const vt = pc.addTrack(v);
  const a = new Audio('1', 'SendOnly');
  a.addOpusCodec(AUDIO_PT);
  a.addSSRC(ssrcs[1], path, path, 'audio0');
  const at = pc.addTrack(a);
  if (!values['no-sr']) {
    vt.setMediaHandler(new RtcpSrReporter(new RtpPacketizationConfig(ssrcs[0], path, VIDEO_PT, 90000)));
    at.setMediaHandler(new RtcpSrReporter(new RtpPacketizationConfig(ssrcs[1], path, AUDIO_PT, 48000)));
  }
  // RTCP from the gateway (receiver reports, PLIs): read and dropped. The clip has an IDR every
  // second, which is what a PLI would ask for.
  vt.onMessage(() => {});
  at.onMessage(() => {});
  pc.setLocalDescription();
  await gathered;
  const post = () => fetch(`${origin}/${path}/whip`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription().sdp });
  let res;
  try {
    res = await post();
  } catch (error) {
    // Once more on a reset: a kept-alive connection the gateway closed as it was reused (seen
    // at 160 publishers, when the gateway's event loop lagged seconds behind).
    process.stderr.write(`${path}: POST failed (${error.cause?.code ?? error.message}), once more\n`);
    try {
      res = await post();
    } catch (again) {
      process.stderr.write(`${path}: POST failed again (${again.cause?.code ?? again.message})\n`);
      return p;
    }
  }
  p.status = res.status;
  p.location = res.headers.get('Location');
  const answer = await res.text();
  if (res.status !== 201) {
    process.stderr.write(`${path}: WHIP answered ${res.status}: ${answer.slice(0, 200)}\n`);
    return p;
  }
  pc.setRemoteDescription(answer, 'answer');
  await Promise.race([connected, new Promise((resolve) => setTimeout(resolve, 10000))]);
  p.connected = pc.state() === 'connected';
  // [track, ssrc, payload type] per kind: 0 video, 1 audio.
  p.tracks = [
    { track: vt, ssrc: ssrcs[0], pt: answeredPayloadType(answer, '0', VIDEO_PT) },
    { track: at, ssrc: ssrcs[1], pt: answeredPayloadType(answer, '1', AUDIO_PT) },
  ];
  return p;
}

// The two RTP inputs from ffmpeg.
const sockets = await Promise.all([0, 1].map(() => new Promise((resolve) => {
  const s = createSocket('udp4');
  s.bind(0, '127.0.0.1', () => resolve(s));
})));
const received = [0, 0];
let publishers = [];

sockets.forEach((s, kind) => {
  s.on('message', (pkt) => {
    if (pkt.length < 12) return; // ffmpeg sends its RTCP to port+1, not here
    received[kind]++;
    const marker = pkt[1] & 0x80;
    for (const p of publishers) {
      const t = p.tracks[kind];
      if (!t || !p.connected) continue;
      // Rewritten in place, sent, next publisher: sendMessageBinary copies the bytes synchronously.
      pkt.writeUInt32BE(t.ssrc, 8);
      pkt[1] = marker | t.pt;
      try {
        if (t.track.sendMessageBinary(pkt)) {
          p.packets++;
          p.bytes += pkt.length;
        } else p.sendFailures++;
      } catch {
        p.sendFailures++;
      }
    }
  });
});

// Connect first (a few at a time: see whep-readers.mjs about peers created at the same moment),
// then start the media, so every publisher starts at the same keyframe of the clip.
const all = [];
for (let i = 0; i < count; i += 4) {
  all.push(...(await Promise.all(Array.from({ length: Math.min(4, count - i) }, (_, j) => publisher(first + i + j)))));
}
publishers = all;

const [vPort, aPort] = sockets.map((s) => s.address().port);
const ffmpeg = spawn('ffmpeg', [
  '-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', clip,
  '-map', '0:v', '-c', 'copy', '-f', 'rtp', '-payload_type', String(VIDEO_PT), `rtp://127.0.0.1:${vPort}?pkt_size=1200`,
  '-map', '0:a', '-c', 'copy', '-f', 'rtp', '-payload_type', String(AUDIO_PT), `rtp://127.0.0.1:${aPort}?pkt_size=1200`,
], { stdio: ['ignore', 'ignore', 'pipe'] });
let ffmpegErr = '';
ffmpeg.stderr.on('data', (d) => (ffmpegErr = (ffmpegErr + d).slice(-2000)));

const cpu0 = process.cpuUsage();
const t0 = Date.now();
process.stdout.write(JSON.stringify({ ready: true, pid: process.pid, ffmpegPid: ffmpeg.pid, publishers: all.map((p) => ({ path: p.path, status: p.status, connected: p.connected })) }) + '\n');

// The parent gone (the bench failed): nothing to report to, stop.
process.stdout.on('error', () => process.exit(0));

let finished = false;
async function finish() {
  if (finished) return;
  finished = true;
  const seconds = (Date.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  ffmpeg.kill('SIGTERM');
  await Promise.all(all.map((p) => (p.location ? fetch(origin + p.location, { method: 'DELETE' }).catch(() => {}) : undefined)));
  for (const p of all) p.pc.close();
  for (const s of sockets) s.close();
  process.stdout.write(JSON.stringify({
    pid: process.pid,
    seconds,
    cpuPercent: ((cpu.user + cpu.system) / 1000 / (seconds * 1000)) * 100,
    rtpFromFfmpeg: { video: received[0], audio: received[1] },
    ffmpegError: ffmpegErr.trim() || undefined,
    publishers: all.map((p) => ({ path: p.path, status: p.status, connected: p.connected, packets: p.packets, bytes: p.bytes, sendFailures: p.sendFailures })),
  }) + '\n');
  setTimeout(() => process.exit(0), 200);
}
process.stdin.resume();
process.stdin.on('end', finish);
process.on('SIGTERM', finish);
ffmpeg.on('exit', (code) => {
  if (!finished) process.stderr.write(`ffmpeg exited (${code}): ${ffmpegErr}\n`);
});
