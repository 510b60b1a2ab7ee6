import { StreamgateError } from '../../core/errors.js';

/** A WHIP/WHEP body that is not a usable WebRTC offer or trickle fragment (SG_ERR_SDP_INVALID: HTTP 400). */
export class SdpInvalidError extends StreamgateError {
  constructor(message: string, what = 'SDP offer') {
    super('SG_ERR_SDP_INVALID', `bad ${what}: ${message}`);
  }
}

/** webrtc.maxSessions sessions are open already (SG_ERR_WEBRTC_LIMIT: HTTP 503). */
export class WebRtcLimitError extends StreamgateError {
  constructor(max: number) {
    super('SG_ERR_WEBRTC_LIMIT', `${max} WebRTC sessions are open (webrtc.maxSessions); try again later`);
  }
}

/** The process is overloaded (webrtc.overloadLagMs): no new sessions for now (SG_ERR_WEBRTC_LIMIT: HTTP 503). */
export class WebRtcOverloadError extends StreamgateError {
  constructor(lagMs: number, limitMs: number) {
    super('SG_ERR_WEBRTC_LIMIT', `the gateway is overloaded: its event loop is ${lagMs} ms behind (webrtc.overloadLagMs ${limitMs}); try again later or another node`);
  }
}

/**
 * ICE could not gather a local candidate: the UDP port (webrtc.udpPort) is taken by another
 * process, or every port of webrtc.portRange is in use (SG_ERR_WEBRTC_LIMIT: HTTP 503).
 */
export class WebRtcNoPortError extends StreamgateError {
  constructor(detail: string, where: string) {
    super('SG_ERR_WEBRTC_LIMIT', `no UDP port for ICE (${where}): ${detail}; try again later`);
  }
}

/** ICE or DTLS did not complete, or the peer went away (SG_ERR_WEBRTC_FAILED). */
export class WebRtcFailedError extends StreamgateError {
  constructor(message: string) {
    super('SG_ERR_WEBRTC_FAILED', message);
  }
}
