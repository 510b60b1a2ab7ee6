/**
 * Opus packet facts the containers need (RFC 6716): how many 48 kHz samples a packet holds, read
 * from its TOC byte (§3.1) and, for code 3 packets, the frame count byte (§3.2.5). Pure.
 */

/** Samples per frame at 48 kHz for each TOC config (§3.1 Table 2): SILK 0-11, Hybrid 12-15, CELT 16-31. */
const FRAME_SAMPLES: readonly number[] = [
  480, 960, 1920, 2880, 480, 960, 1920, 2880, 480, 960, 1920, 2880, // SILK NB/MB/WB: 10, 20, 40, 60 ms
  480, 960, 480, 960, // Hybrid SWB/FB: 10, 20 ms
  120, 240, 480, 960, 120, 240, 480, 960, 120, 240, 480, 960, 120, 240, 480, 960, // CELT: 2.5, 5, 10, 20 ms
];

/** Default duration used when a packet cannot be read (20 ms, what libopus and browsers send). */
export const OPUS_DEFAULT_PACKET_SAMPLES = 960;

/** Most audio one packet may hold (§3.2.5: 120 ms). */
const MAX_PACKET_SAMPLES = 5760;

/**
 * 48 kHz samples in one Opus packet: frame size from the TOC config times the frame count (code
 * 0: one frame, 1 and 2: two, 3: the count M in the next byte's low 6 bits). A packet too short
 * to say, or claiming more than 120 ms (§3.4 R5), gets the 20 ms default.
 */
export function opusPacketSamples(packet: Buffer): number {
  if (packet.length === 0) return OPUS_DEFAULT_PACKET_SAMPLES;
  const toc = packet[0]!;
  const frame = FRAME_SAMPLES[toc >> 3]!;
  const code = toc & 3;
  let frames: number;
  if (code === 0) frames = 1;
  else if (code !== 3) frames = 2;
  else if (packet.length < 2) return OPUS_DEFAULT_PACKET_SAMPLES;
  else frames = packet[1]! & 0x3f;
  const samples = frame * frames;
  return samples > 0 && samples <= MAX_PACKET_SAMPLES ? samples : OPUS_DEFAULT_PACKET_SAMPLES;
}

/** Whether stereo is coded in this packet (TOC bit s, §3.1). */
export function opusPacketStereo(packet: Buffer): boolean {
  return packet.length > 0 && (packet[0]! & 0x04) !== 0;
}
