/**
 * The UDP ports ICE needs, when another process has them: a clear error and nothing else. A
 * failed ICE gathering inside libdatachannel's answer used to abort the whole process
 * (node-datachannel does not catch there); now the WHIP/WHEP request gets 503 and every other
 * stream goes on. The mux port (webrtc.udpPort) is bound for the gateway's whole run when free.
 */
import { createSocket, type Socket } from 'node:dgram';
import { describe, expect, test } from 'vitest';
import { startGateway, waitFor } from '../helpers/gateway.js';
import { obsWhip } from '../helpers/obs-whip.js';
import { hasTool } from '../helpers/tools.js';
import { freeUdpPort } from '../helpers/webrtc-client.js';

/** Another process's socket on `port` (same effect: the bind is refused). */
async function hold(port: number): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(port, '127.0.0.1', () => resolve());
  });
  return s;
}

async function canBind(port: number): Promise<boolean> {
  try {
    (await hold(port)).close();
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!hasTool('ffmpeg'))('WebRTC UDP ports taken by another process', () => {
  test('webrtc.udpPort in use: the gateway starts and says so, WHIP answers 503 until the port is free, then holds it', async () => {
    const port = await freeUdpPort();
    const other = await hold(port);
    let released = false;
    const gw = await startGateway({ webrtc: { udpPort: port } });
    try {
      expect(gw.logs.some((l) => l.level === 40 && new RegExp(`WebRTC ICE UDP port ${port} on 127\\.0\\.0\\.1: .*in use by another process`).test(String(l.msg)))).toBe(true);
      const refused = await obsWhip(`${gw.http}/live/busy/whip`, { seconds: 1 });
      expect(refused.status).toBe(503);
      expect(JSON.parse(refused.answer).error).toMatchObject({ code: 'SG_ERR_WEBRTC_LIMIT', message: expect.stringMatching(new RegExp(`no UDP port for ICE \\(webrtc\\.udpPort ${port} taken by another process\\?\\)`)) });
      await refused.stop();
      // The other process lets go: the next session binds the port itself.
      other.close();
      released = true;
      const obs = await obsWhip(`${gw.http}/live/free/whip`, { seconds: 1 });
      expect(obs.status, obs.answer).toBe(201);
      await obs.connected;
      await obs.stop();
      // And holds it from then on.
      expect(gw.logs.some((l) => new RegExp(`WebRTC ICE UDP port ${port} is free again: bound`).test(String(l.msg)))).toBe(true);
      expect(await canBind(port)).toBe(false);
    } finally {
      if (!released) other.close();
      await gw.stop();
    }
  });

  test('the mux port stays bound between sessions, and is free again once the gateway stops', async () => {
    const port = await freeUdpPort();
    const gw = await startGateway({ webrtc: { udpPort: port } });
    try {
      // No session yet: libjuice alone would not have bound it, and another process could take it.
      expect(await canBind(port)).toBe(false);
      const obs = await obsWhip(`${gw.http}/live/mux/whip`, { seconds: 1 });
      expect(obs.status, obs.answer).toBe(201);
      await obs.connected;
      await obs.stop();
      expect(await canBind(port)).toBe(false);
    } finally {
      await gw.stop();
    }
    await waitFor('the port free once the gateway stopped', () => canBind(port), 5000);
  });

  test('webrtc.portRange used up: WHIP answers 503 SG_ERR_WEBRTC_LIMIT, the process and its other streams go on', async () => {
    const port = await freeUdpPort();
    const gw = await startGateway({ webrtc: { udpPort: 0, portRange: [port, port] } });
    try {
      const first = await obsWhip(`${gw.http}/live/first/whip`, { seconds: 6 });
      expect(first.status, first.answer).toBe(201);
      await first.connected;
      // The range's one port is the first session's now: the second cannot gather a candidate.
      const second = await obsWhip(`${gw.http}/live/second/whip`, { seconds: 1 });
      expect(second.status).toBe(503);
      const body = JSON.parse(second.answer) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('SG_ERR_WEBRTC_LIMIT');
      expect(body.error.message).toMatch(new RegExp(`no UDP port for ICE \\(webrtc\\.portRange ${port}-${port} used up\\?\\)`));
      await second.stop();
      // Still serving: the first publish is a live stream, the API answers.
      const stream = await fetch(`${gw.http}/api/v1/streams/live/first`);
      expect(stream.status).toBe(200);
      expect(((await stream.json()) as any).publisher.protocol).toBe('whip');
      await first.stop();
      // The port is back: a new session gets it.
      const again = await obsWhip(`${gw.http}/live/again/whip`, { seconds: 1 });
      expect(again.status, again.answer).toBe(201);
      await again.connected;
      await again.stop();
    } finally {
      await gw.stop();
    }
  });
});
