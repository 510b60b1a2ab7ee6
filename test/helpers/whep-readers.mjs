// WHEP load client in its own process (plain JS so tests and the bench run it without a build):
// N libdatachannel peers offer to receive H.264 + audio from URL, and after WARMUP_MS count what
// arrives for MEASURE_MS. Prints one JSON line: per reader { status, frames, keyframes, gaps,
// audioPackets, bytes } and the process CPU time. A separate process keeps the load generator's
// event loop and ICE threads apart from the gateway's, as real viewers are.
//   node test/helpers/whep-readers.mjs URL COUNT [MEASURE_MS] [WARMUP_MS]
// WHEP_BYTES_ONLY=1: no packet reaches JavaScript (no onMessage; libdatachannel still decrypts,
// counts and sends receiver reports) except for the first reader of the process, which counts as
// usual: a sample. A load process then holds many more readers (for the readers-per-core bench).
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodeDataChannel from 'node-datachannel';

const { PeerConnection, Video, Audio, RtcpReceivingSession } = nodeDataChannel;
if (process.env.WHEP_DEBUG) nodeDataChannel.initLogger(process.env.WHEP_DEBUG, (level, msg) => process.stderr.write(`ND ${level} ${msg}\n`));
const [url, countArg, measureArg, warmupArg] = process.argv.slice(2);
const count = Number(countArg ?? 1);
const measureMs = Number(measureArg ?? 5000);
const warmupMs = Number(warmupArg ?? 1000);
const bytesOnly = process.env.WHEP_BYTES_ONLY === '1';

function firstNalType(p) {
  const t = p[0] & 0x1f;
  if (t === 24 && p.length > 3) return p[3] & 0x1f;
  if (t === 28 && p.length > 1) return p[1] & 0x1f;
  return t;
}

// One certificate for every peer of this process: libdatachannel's own, generated lazily, can
// differ between peers created at the same moment (see gateway/protocols/webrtc/certificate.ts).
// (openssl is on every Debian machine; the gateway builds its own in pure Node.)
const certDir = mkdtempSync(join(tmpdir(), 'sg-whep-'));
const certificate = { certificatePemFile: join(certDir, 'c.pem'), keyPemFile: join(certDir, 'k.pem') };
execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', certificate.keyPemFile, '-out', certificate.certificatePemFile, '-days', '2', '-subj', '/CN=load'], { stdio: 'ignore' });

async function reader(index) {
  // In bytes-only mode the first reader of the process still counts, as a sample.
  const counting = !bytesOnly || index === 0;
  const pc = new PeerConnection('load', { iceServers: [], bindAddress: '127.0.0.1', ...certificate });
  const r = { status: 0, frames: 0, keyframes: 0, gaps: 0, audioPackets: 0, bytes: 0, connected: false, pc, location: null };
  const connected = new Promise((resolve) => pc.onStateChange((s) => s === 'connected' && resolve()));
  const gathered = new Promise((resolve) => {
    pc.onGatheringStateChange((s) => s === 'complete' && resolve());
    setTimeout(resolve, 2000);
  });
  const v = new Video('0', 'RecvOnly');
  v.addH264Codec(102, 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f');
  const vt = pc.addTrack(v);
  vt.setMediaHandler(new RtcpReceivingSession());
  let expected = -1;
  let frameStart = true;
  if (counting) vt.onMessage((m) => {
    if (m.length < 12 || (m[1] >= 200 && m[1] <= 206)) return;
    r.bytes += m.length;
    const seq = m.readUInt16BE(2);
    if (expected >= 0 && seq !== expected) r.gaps++;
    expected = (seq + 1) & 0xffff;
    if (frameStart) {
      const cc = (m[0] & 0x0f) * 4;
      const ext = m[0] & 0x10 ? 4 + m.readUInt16BE(12 + cc + 2) * 4 : 0;
      const nal = firstNalType(m.subarray(12 + cc + ext));
      if (nal === 5 || nal === 7) r.keyframes++;
    }
    frameStart = (m[1] & 0x80) !== 0;
    if (frameStart) r.frames++;
  });
  const a = new Audio('1', 'RecvOnly');
  a.addOpusCodec(111);
  a.addAudioCodec(8, 'PCMA/8000/1');
  a.addAudioCodec(0, 'PCMU/8000/1');
  const at = pc.addTrack(a);
  at.setMediaHandler(new RtcpReceivingSession());
  if (counting) at.onMessage((m) => {
    if (m.length < 12 || (m[1] >= 200 && m[1] <= 206)) return;
    r.audioPackets++;
    r.bytes += m.length;
  });
  pc.setLocalDescription();
  await gathered;
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription().sdp });
  r.status = res.status;
  r.location = res.headers.get('Location');
  const answer = await res.text();
  if (res.status !== 201) return r;
  try {
    pc.setRemoteDescription(answer, 'answer');
  } catch (error) {
    process.stderr.write(`client error: ${error.message}; state ${pc.state()} ice ${pc.iceState()} gathering ${pc.gatheringState()} signaling ${pc.signalingState()}\n`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    throw error;
  }
  await Promise.race([connected, new Promise((resolve) => setTimeout(resolve, 10000))]);
  r.connected = pc.state() === 'connected';
  return r;
}

// One after the other: libdatachannel peers of one process created at the same moment sometimes
// close before their answer arrives (seen with 10 at once); the gateway side takes them in
// parallel across the processes a test starts.
const readers = [];
readers.push(...(await Promise.all(Array.from({ length: count }, (_, i) => reader(i)))));
await new Promise((resolve) => setTimeout(resolve, warmupMs));
const start = readers.map((r) => ({ frames: r.frames, audio: r.audioPackets, bytes: r.bytes }));
const cpu0 = process.cpuUsage();
const t0 = Date.now();
await new Promise((resolve) => setTimeout(resolve, measureMs));
const seconds = (Date.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const out = readers.map((r, i) => ({
  status: r.status,
  connected: r.connected,
  keyframes: r.keyframes,
  gaps: r.gaps,
  fps: bytesOnly && i > 0 ? null : (r.frames - start[i].frames) / seconds,
  audioPps: bytesOnly && i > 0 ? null : (r.audioPackets - start[i].audio) / seconds,
  kbps: bytesOnly && i > 0 ? null : ((r.bytes - start[i].bytes) * 8) / 1000 / seconds,
  location: r.location,
}));
const origin = new URL(url).origin;
await Promise.all(readers.map((r) => (r.location ? fetch(origin + r.location, { method: 'DELETE' }).catch(() => {}) : undefined)));
for (const r of readers) r.pc.close();
process.stdout.write(JSON.stringify({ readers: out, cpuPercent: ((cpu.user + cpu.system) / 1000 / (seconds * 1000)) * 100 }) + '\n');
setTimeout(() => process.exit(0), 200);
