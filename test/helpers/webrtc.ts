/**
 * WHEP and WHIP clients in the page: the browser's own RTCPeerConnection, driven the way a WHEP
 * player or a WHIP publisher does it (offer, POST application/sdp, answer, DELETE on the
 * Location). Page code is plain JavaScript in strings (see browser.ts).
 */
import type { Page } from 'playwright-core';

export interface WhepResult {
  status: number;
  location: string | null;
  body: string;
}

/**
 * Page code that sends the session through a UDP relay on 127.0.0.1:`via` (a lossy link): the
 * offer goes without its candidates, so the gateway learns the client's address only from
 * checks that came through the relay, and every candidate of the answer points at the relay.
 */
function viaRelay(via: number | undefined): string {
  if (via === undefined) return 'const offerSdp = (s) => s; const answerSdp = (s) => s;';
  return `const offerSdp = (s) => s.split('\\r\\n').filter((l) => !l.startsWith('a=candidate:') && l !== 'a=end-of-candidates').join('\\r\\n');
    const answerSdp = (s) => s.split('\\r\\n').filter((l) => !l.startsWith('a=candidate:') || / UDP /i.test(l)).map((l) => l.startsWith('a=candidate:') ? l.replace(/^(a=candidate:\\S+ \\d+ \\S+ \\d+ )\\S+ \\d+/, (_, head) => head + '127.0.0.1 ${via}') : l).join('\\r\\n');`;
}

/**
 * Starts a WHEP play of `url` into <video id="v"> (created when missing). Resolves with the
 * POST's status, Location and body; window.whep holds { pc, location }.
 */
export async function whepPlay(page: Page, url: string, opts: { audio?: boolean; video?: boolean; via?: number } = {}): Promise<WhepResult> {
  return page.evaluate(`(async () => {
    ${viaRelay(opts.via)}
    let v = document.getElementById('v');
    if (!v) { v = document.createElement('video'); v.id = 'v'; v.muted = true; v.autoplay = true; v.playsInline = true; v.style.width = '640px'; document.body.appendChild(v); }
    const pc = new RTCPeerConnection();
    if (${opts.video !== false}) pc.addTransceiver('video', { direction: 'recvonly' });
    if (${opts.audio !== false}) pc.addTransceiver('audio', { direction: 'recvonly' });
    const ms = new MediaStream();
    pc.ontrack = (e) => { ms.addTrack(e.track); v.srcObject = ms; v.play().catch(() => {}); };
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((r) => { if (pc.iceGatheringState === 'complete') return r(); pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && r()); setTimeout(r, 1500); });
    const res = await fetch(${JSON.stringify(url)}, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: offerSdp(pc.localDescription.sdp) });
    const body = await res.text();
    const location = res.headers.get('Location');
    window.whep = { pc, location };
    if (res.status === 201) await pc.setRemoteDescription({ type: 'answer', sdp: answerSdp(body) });
    return { status: res.status, location, body };
  })()`);
}

/**
 * Publishes the fake camera and microphone over WHIP to `url` (getUserMedia with echo
 * cancellation, noise suppression and auto gain on, as the publish page does). window.whip
 * holds { pc, location, stream }.
 */
export async function whipPublish(page: Page, url: string, opts: { width?: number; height?: number; audio?: boolean; via?: number } = {}): Promise<WhepResult> {
  return page.evaluate(`(async () => {
    ${viaRelay(opts.via)}
    const stream = await navigator.mediaDevices.getUserMedia({
      video: { width: ${opts.width ?? 640}, height: ${opts.height ?? 360}, frameRate: 25 },
      audio: ${opts.audio === false ? 'false' : '{ echoCancellation: true, noiseSuppression: true, autoGainControl: true }'},
    });
    const pc = new RTCPeerConnection();
    for (const t of stream.getTracks()) pc.addTransceiver(t, { direction: 'sendonly' });
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((r) => { if (pc.iceGatheringState === 'complete') return r(); pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && r()); setTimeout(r, 1500); });
    const res = await fetch(${JSON.stringify(url)}, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: offerSdp(pc.localDescription.sdp) });
    const body = await res.text();
    const location = res.headers.get('Location');
    window.whip = { pc, location, stream };
    if (res.status === 201) await pc.setRemoteDescription({ type: 'answer', sdp: answerSdp(body) });
    return { status: res.status, location, body };
  })()`);
}

/** Waits until the page's peer connection (`whep` or `whip`) reports `connected`. */
export async function waitConnected(page: Page, which: 'whep' | 'whip', timeoutMs = 10_000): Promise<void> {
  await page.waitForFunction(`window.${which} && window.${which}.pc.connectionState === 'connected'`, undefined, { timeout: timeoutMs, polling: 100 });
}

/** The page's inbound-rtp stats per kind (frames decoded, packets, bytes, jitter buffer delay). */
export async function inboundStats(page: Page): Promise<Record<string, Record<string, number>>> {
  return page.evaluate(`(async () => {
    const out = {};
    (await window.whep.pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp') out[s.kind] = { packetsReceived: s.packetsReceived, bytesReceived: s.bytesReceived, framesDecoded: s.framesDecoded || 0, packetsLost: s.packetsLost, jitterBufferDelay: s.jitterBufferDelay, jitterBufferEmittedCount: s.jitterBufferEmittedCount, totalSamplesReceived: s.totalSamplesReceived || 0, audioLevel: s.audioLevel || 0 };
    });
    return out;
  })()`);
}
