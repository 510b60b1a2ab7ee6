import { z } from 'zod';

const port = z.number().int().min(0).max(65535);

/**
 * The `webrtc` config section: WHEP play and WHIP ingest (`POST /{app}/{name}/whep|whip` on the
 * HTTP port). Media goes over ICE/UDP: by default every session shares one UDP port (ICE UDP
 * mux, the one port to open on a firewall); with `udpPort: 0` each session takes its own port
 * from `portRange`.
 */
export const webrtcConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** The one UDP port of every session (ICE UDP mux, MediaMTX's default 8189); 0: a port per session from portRange. */
    udpPort: port.default(8189),
    /** Ports for per-session sockets when udpPort is 0 ([0, 0]: any free port). */
    portRange: z
      .tuple([port, port])
      .default([0, 0])
      .refine(([lo, hi]) => lo <= hi, 'portRange must be [low, high] with low <= high'),
    /**
     * Addresses to announce as ICE host candidates besides the bound one: the LAN or public
     * address of this machine as clients reach it (NAT, container, several interfaces).
     */
    announceAddresses: z.array(z.string().min(1)).default([]),
    /** STUN/TURN servers, e.g. "stun:10.0.0.2:3478" (air-gapped sites usually have none). */
    iceServers: z.array(z.string().min(1)).default([]),
    /** A session whose ICE does not connect within this is closed (and its slot freed). */
    connectTimeoutMs: z.number().int().min(1000).default(10000),
    /**
     * A connected session whose peer sends nothing (a WHEP reader no RTCP reports, a WHIP
     * publisher no RTP) for this long is closed: a browser tab that vanished without DELETE.
     */
    peerTimeoutMs: z.number().int().min(2000).default(10000),
    /** WHEP + WHIP sessions at once; more are refused with SG_ERR_WEBRTC_LIMIT (503). */
    maxSessions: z.number().int().min(1).default(500),
    /**
     * WHIP publishers are asked for a keyframe (RTCP PLI) this often: browsers only send one on
     * request, and a GOP cache needs one for every new reader of FLV, HLS, RTMP or RTSP.
     */
    whipKeyframeIntervalMs: z.number().int().min(250).default(2000),
    /**
     * A WHIP publisher's missing video packet is asked for again (RTCP NACK) as soon as the gap
     * shows; the packets after it wait this long for the retransmission before the gap is given
     * up (and a keyframe asked for). Delays the picture only while a packet is missing.
     */
    whipRetransmitWaitMs: z.number().int().min(0).max(1000).default(100),
    /**
     * Negotiate transport-wide congestion feedback with WHIP publishers that offer it (browsers):
     * their rate control then measures the path instead of creeping up from 300 kbps. Arrival
     * times are taken in the event loop, so a gateway too busy to read packets on time is seen
     * as a congested path (the publisher lowers its rate); false leaves publishers on loss reports.
     */
    whipTransportCc: z.boolean().default(true),
    /**
     * The event loop's delay (p99 over a second) past which the process counts as overloaded:
     * new WHIP/WHEP sessions are refused (SG_ERR_WEBRTC_LIMIT, 503), and after 2 s more the
     * newest WHIP sessions are closed one a second until it keeps up. 0: never.
     */
    overloadLagMs: z.number().int().min(0).default(500),
    /** RTP payload limit of packets we send (SRTP and UDP/IP headers come on top; 1200 passes VPNs). */
    maxRtpPayload: z.number().int().min(500).max(1400).default(1200),
  });

export type WebRtcConfig = z.infer<typeof webrtcConfigSchema>;
