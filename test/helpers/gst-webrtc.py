#!/usr/bin/python3
"""A WebRTC peer that is neither a browser nor libdatachannel: GStreamer's webrtcbin (libnice ICE,
its own DTLS-SRTP), driven as a WHIP publisher (RFC 9725) or a WHEP player (draft-ietf-wish-whep).
It stands in for hardware encoders and OBS. Debian 12 packages no whipsink/whipclientsink
(gst-plugins-rs), so the HTTP side is done here with urllib: offer, wait for ICE gathering, POST
application/sdp, set the 201 answer, DELETE the Location at the end.

usage: gst-webrtc.py whip URL [--seconds N] [--token T] [--size WxH]
       gst-webrtc.py whep URL [--seconds N] [--token T]

Needs python3-gi, gir1.2-gst-plugins-bad-1.0 (GstWebRTC), gstreamer1.0-nice (libnice's ICE elements),
gstreamer1.0-plugins-{base,good,bad,ugly} and gstreamer1.0-libav (WHEP decodes with avdec_h264).

Prints one JSON object a line on stdout:
  {"event":"offer", ...}  {"event":"answer","status":201,"location":...}  {"event":"connected"}
  {"event":"stats", ...}  {"event":"deleted","status":200}  {"event":"closed"}
  WHEP ends with {"event":"result","frames":..,"width":..,"height":..,"audioBuffers":..}.
Failures print {"event":"error","message":...} and exit 1; a non-201 answer exits 2.
"""
import argparse
import ipaddress
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import gi

gi.require_version('Gst', '1.0')
gi.require_version('GstSdp', '1.0')
gi.require_version('GstWebRTC', '1.0')
from gi.repository import GLib, Gst, GstSdp, GstWebRTC  # noqa: E402

# How long ICE gathering may take before the offer goes out with what it has.
GATHER_TIMEOUT_S = 5
# How long ICE + DTLS may take after the answer.
CONNECT_TIMEOUT_S = 10


def emit(event: str, **fields) -> None:
    print(json.dumps({'event': event, **fields}), flush=True)


def whip_pipeline(size: str) -> str:
    width, height = size.split('x')
    # bframes=0 and constrained baseline: what a WebRTC receiver expects from a camera; x264 repeats
    # SPS/PPS before each IDR and rtph264pay config-interval=-1 sends them with every keyframe.
    return (
        'webrtcbin name=webrtc bundle-policy=max-bundle '
        f'videotestsrc is-live=true pattern=ball ! video/x-raw,width={width},height={height},framerate=25/1 '
        '! videoconvert ! queue ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=50 bitrate=1000 bframes=0 '
        '! video/x-h264,profile=constrained-baseline '
        '! rtph264pay config-interval=-1 aggregate-mode=zero-latency pt=96 '
        '! application/x-rtp,media=video,encoding-name=H264,payload=96 ! webrtc. '
        'audiotestsrc is-live=true wave=sine freq=440 ! audioconvert ! audioresample ! queue ! opusenc '
        '! rtpopuspay pt=111 ! application/x-rtp,media=audio,encoding-name=OPUS,payload=111 ! webrtc. '
    )


# What a WHEP player offers to receive: H.264 (packetization-mode 1), then Opus, PCMA, PCMU.
WHEP_VIDEO_CAPS = (
    'application/x-rtp,media=video,encoding-name=H264,payload=102,clock-rate=90000,'
    'packetization-mode=(string)1,profile-level-id=(string)42e01f,level-asymmetry-allowed=(string)1'
)
WHEP_AUDIO_CAPS = (
    'application/x-rtp,media=audio,encoding-name=OPUS,payload=111,clock-rate=48000,encoding-params=(string)2;'
    'application/x-rtp,media=audio,encoding-name=PCMA,payload=8,clock-rate=8000;'
    'application/x-rtp,media=audio,encoding-name=PCMU,payload=0,clock-rate=8000'
)


def sections(sdp: str) -> list[dict]:
    """Each media section's kind, port, mid, direction and codecs (for the status lines)."""
    out: list[dict] = []
    for line in sdp.splitlines():
        if line.startswith('m='):
            kind, port = line[2:].split(' ')[:2]
            out.append({'kind': kind, 'port': int(port), 'mid': None, 'direction': 'sendrecv', 'codecs': []})
        elif out and line.startswith('a=mid:'):
            out[-1]['mid'] = line[6:]
        elif out and line[2:] in ('sendrecv', 'sendonly', 'recvonly', 'inactive'):
            out[-1]['direction'] = line[2:]
        elif out and line.startswith('a=rtpmap:'):
            out[-1]['codecs'].append(line[9:])
    return out


class Client:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.mode = args.mode
        self.loop = GLib.MainLoop()
        self.location: str | None = None
        self.exit_code = 0
        self.connected_at: float | None = None
        self.stopping = False
        self.frames = 0
        self.width = None
        self.height = None
        self.audio_buffers = 0
        self.audio_caps = None
        self.video_caps = None
        self.answer_codecs: list[str] = []
        self.offer_requested = False
        self.offer_sent = False
        if self.mode == 'whip':
            self.pipe = Gst.parse_launch(whip_pipeline(args.size))
            self.webrtc = self.pipe.get_by_name('webrtc')
            for pad in self.webrtc.sinkpads:
                pad.get_property('transceiver').set_property('direction', GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY)
        else:
            self.pipe = Gst.Pipeline.new('whep')
            self.webrtc = Gst.ElementFactory.make('webrtcbin', 'webrtc')
            self.webrtc.set_property('bundle-policy', GstWebRTC.WebRTCBundlePolicy.MAX_BUNDLE)
            self.pipe.add(self.webrtc)
            recv = GstWebRTC.WebRTCRTPTransceiverDirection.RECVONLY
            self.webrtc.emit('add-transceiver', recv, Gst.Caps.from_string(WHEP_VIDEO_CAPS))
            self.webrtc.emit('add-transceiver', recv, Gst.Caps.from_string(WHEP_AUDIO_CAPS))
            self.webrtc.connect('pad-added', self._on_incoming)
        self._loopback_ice()
        self.webrtc.connect('on-negotiation-needed', self._on_negotiation_needed)
        self.webrtc.connect('notify::ice-gathering-state', self._on_gathering)
        self.webrtc.connect('notify::connection-state', self._on_connection_state)
        self.webrtc.connect('notify::ice-connection-state', self._on_ice_state)
        bus = self.pipe.get_bus()
        bus.add_signal_watch()
        bus.connect('message::error', self._on_error)

    def _loopback_ice(self) -> None:
        """libnice leaves loopback addresses out when it gathers; a gateway on 127.0.0.1 (the tests)
        is only reachable from one, so name the URL's loopback address (or --local-ip) as the one
        to gather on."""
        local = self.args.local_ip
        if not local:
            host = urllib.parse.urlsplit(self.args.url).hostname or ''
            try:
                if host == 'localhost' or ipaddress.ip_address(host).is_loopback:
                    local = '127.0.0.1' if host == 'localhost' else host
            except ValueError:
                pass
        if local:
            # Kept for the life of the process: webrtcbin 1.22's ice-agent getter hands out a
            # reference it does not own, so dropping the wrapper would free the agent under it.
            self.ice_agent = self.webrtc.get_property('ice-agent')
            self.ice_agent.emit('add-local-ip-address', local)

    # -- negotiation ------------------------------------------------------------------------

    def _on_negotiation_needed(self, _element) -> None:
        # One offer per run: WHIP/WHEP have no renegotiation.
        if self.offer_requested:
            return
        self.offer_requested = True
        promise = Gst.Promise.new_with_change_func(self._on_offer_created, None)
        self.webrtc.emit('create-offer', None, promise)

    def _on_offer_created(self, promise: Gst.Promise, _data) -> None:
        reply = promise.get_reply()
        offer = reply.get_value('offer') if reply else None
        if offer is None:
            GLib.idle_add(self.fail, f'create-offer failed: {reply}')
            return
        self.webrtc.emit('set-local-description', offer, Gst.Promise.new())
        # Gathering starts with the local description; give it a bound.
        GLib.timeout_add_seconds(GATHER_TIMEOUT_S, self._post_offer)

    def _on_gathering(self, _element, _pspec) -> None:
        if self.webrtc.get_property('ice-gathering-state') == GstWebRTC.WebRTCICEGatheringState.COMPLETE:
            GLib.idle_add(self._post_offer)

    def _post_offer(self) -> bool:
        if self.offer_sent or self.stopping:
            return False
        self.offer_sent = True
        sdp = self.webrtc.get_property('local-description').sdp.as_text()
        candidates = [l[len('a=candidate:'):] for l in sdp.splitlines() if l.startswith('a=candidate:')]
        emit('offer', sections=sections(sdp), candidates=candidates, sdp=sdp if self.args.verbose else None)
        if not candidates:
            return self.fail('ICE gathering found no candidate (no usable local address?)')
        headers = {'Content-Type': 'application/sdp'}
        if self.args.token:
            headers['Authorization'] = f'Bearer {self.args.token}'
        req = urllib.request.Request(self.args.url, data=sdp.encode(), method='POST', headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=15) as res:
                status, body, location = res.status, res.read().decode(), res.headers.get('Location')
        except urllib.error.HTTPError as e:
            status, body, location = e.code, e.read().decode(errors='replace'), None
        except OSError as e:
            return self.fail(f'POST {self.args.url} failed: {e}')
        if status != 201:
            emit('answer', status=status, body=body[:500])
            self.exit_code = 2
            emit('error', message=f'POST {self.args.url} answered {status}, not 201')
            self.quit()
            return False
        self.location = urllib.parse.urljoin(self.args.url, location) if location else None
        # The sections that carry media, with the codec the answer picked for each.
        self.answer_codecs = [f"{m['kind']} {m['codecs'][0]}" for m in sections(body) if m['direction'] != 'inactive' and m['codecs']]
        answer_candidates = [l[len('a=candidate:'):] for l in body.splitlines() if l.startswith('a=candidate:')]
        emit('answer', status=status, location=location, codecs=self.answer_codecs, sections=sections(body), candidates=answer_candidates,
             sdp=body if self.args.verbose else None)
        ok, msg = GstSdp.SDPMessage.new_from_text(body)
        if ok != GstSdp.SDPResult.OK:
            return self.fail('the answer is not SDP')
        answer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, msg)
        promise = Gst.Promise.new_with_change_func(self._on_answer_set, None)
        self.webrtc.emit('set-remote-description', answer, promise)
        GLib.timeout_add_seconds(CONNECT_TIMEOUT_S, self._connect_timeout)
        return False

    def _on_answer_set(self, promise: Gst.Promise, _data) -> None:
        reply = promise.get_reply()
        if reply is not None and reply.has_field('error'):
            GLib.idle_add(self.fail, f'set-remote-description failed: {reply.get_value("error")}')

    # -- connection -------------------------------------------------------------------------

    def _on_ice_state(self, _element, _pspec) -> None:
        state = self.webrtc.get_property('ice-connection-state')
        if state == GstWebRTC.WebRTCICEConnectionState.FAILED:
            GLib.idle_add(self.fail, 'ICE failed')

    def _on_connection_state(self, _element, _pspec) -> None:
        state = self.webrtc.get_property('connection-state')
        if state == GstWebRTC.WebRTCPeerConnectionState.CONNECTED and self.connected_at is None:
            self.connected_at = time.monotonic()
            GLib.idle_add(self._on_connected)
        elif state == GstWebRTC.WebRTCPeerConnectionState.FAILED:
            GLib.idle_add(self.fail, 'the peer connection failed (ICE or DTLS)')

    def _on_connected(self) -> bool:
        emit('connected')
        GLib.timeout_add(int(self.args.seconds * 1000), self.finish)
        GLib.timeout_add_seconds(1, self._stats_tick)
        return False

    def _connect_timeout(self) -> bool:
        if self.connected_at is None and not self.stopping:
            self.fail(f'not connected {CONNECT_TIMEOUT_S} s after the answer')
        return False

    # -- WHEP media -------------------------------------------------------------------------

    def _on_incoming(self, _element, pad: Gst.Pad) -> None:
        if pad.get_direction() != Gst.PadDirection.SRC:
            return
        decode = Gst.ElementFactory.make('decodebin')
        decode.connect('pad-added', self._on_decoded)
        self.pipe.add(decode)
        decode.sync_state_with_parent()
        pad.link(decode.get_static_pad('sink'))

    def _on_decoded(self, _element, pad: Gst.Pad) -> None:
        caps = pad.get_current_caps() or pad.query_caps(None)
        name = caps.get_structure(0).get_name()
        sink = Gst.ElementFactory.make('fakesink')
        sink.set_property('sync', False)
        sink.set_property('async', False)
        self.pipe.add(sink)
        sink.sync_state_with_parent()
        pad.link(sink.get_static_pad('sink'))
        if name.startswith('video/'):
            pad.add_probe(Gst.PadProbeType.BUFFER, self._video_buffer)
        elif name.startswith('audio/'):
            pad.add_probe(Gst.PadProbeType.BUFFER, self._audio_buffer)

    def _video_buffer(self, pad, _info):
        self.frames += 1
        if self.width is None:
            s = pad.get_current_caps().get_structure(0)
            self.width, self.height = s.get_value('width'), s.get_value('height')
            self.video_caps = s.to_string()
        return Gst.PadProbeReturn.OK

    def _audio_buffer(self, pad, _info):
        self.audio_buffers += 1
        if self.audio_caps is None:
            self.audio_caps = pad.get_current_caps().get_structure(0).to_string()
        return Gst.PadProbeReturn.OK

    # -- stats and the end ------------------------------------------------------------------

    def _stats_tick(self) -> bool:
        if self.stopping:
            return False
        promise = Gst.Promise.new_with_change_func(self._on_stats, None)
        self.webrtc.emit('get-stats', None, promise)
        return True

    def _on_stats(self, promise: Gst.Promise, _data) -> None:
        reply = promise.get_reply()
        if reply is None:
            return
        streams = []

        def each(_field_id, value):
            # webrtcbin 1.22 labels `kind` and `codec-id` of these from one transceiver for every
            # stream, so the clock rate of the RTP source tells video (90 kHz) from audio.
            if isinstance(value, Gst.Structure) and value.get_name() in ('outbound-rtp', 'inbound-rtp'):
                source = value.get_value('gst-rtpsource-stats')
                clock = source.get_value('clock-rate') if isinstance(source, Gst.Structure) else -1
                out = value.get_name() == 'outbound-rtp'
                packets = value.get_value('packets-sent' if out else 'packets-received')
                if packets:
                    streams.append({'direction': 'out' if out else 'in', 'ssrc': value.get_value('ssrc'),
                                    'kind': 'video' if clock == 90000 else 'audio', 'packets': packets,
                                    'bytes': value.get_value('bytes-sent' if out else 'bytes-received')})
            return True

        reply.foreach(each)
        out = {'streams': streams}
        if self.mode == 'whep':
            out.update(frames=self.frames, audioBuffers=self.audio_buffers)
        emit('stats', **out)

    def finish(self) -> bool:
        """The planned end: DELETE the WHIP/WHEP resource, then stop the pipeline."""
        if self.stopping:
            return False
        self.stopping = True
        if self.mode == 'whep':
            emit('result', frames=self.frames, width=self.width, height=self.height, audioBuffers=self.audio_buffers,
                 videoCaps=self.video_caps, audioCaps=self.audio_caps, codecs=self.answer_codecs)
        self.delete()
        self.quit()
        return False

    def delete(self) -> None:
        if not self.location:
            return
        req = urllib.request.Request(self.location, method='DELETE')
        if self.args.token:
            req.add_header('Authorization', f'Bearer {self.args.token}')
        try:
            with urllib.request.urlopen(req, timeout=5) as res:
                emit('deleted', status=res.status)
        except urllib.error.HTTPError as e:
            emit('deleted', status=e.code)
        except OSError as e:
            emit('deleted', status=None, message=str(e))
        self.location = None

    def fail(self, message: str) -> bool:
        # The first failure is the one to report (ICE failing also fails the peer connection).
        if self.stopping:
            return False
        self.exit_code = 1
        emit('error', message=message)
        self.stopping = True
        self.delete()
        self.quit()
        return False

    def _on_error(self, _bus, message: Gst.Message) -> None:
        err, debug = message.parse_error()
        self.fail(f'{message.src.get_name()}: {err.message} ({debug})')

    def quit(self) -> None:
        self.loop.quit()

    def run(self) -> int:
        self.pipe.set_state(Gst.State.PLAYING)
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, self.finish)
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, self.finish)
        self.loop.run()
        self.pipe.set_state(Gst.State.NULL)
        emit('closed')
        return self.exit_code


def main() -> int:
    p = argparse.ArgumentParser(description='WHIP publish / WHEP play with GStreamer webrtcbin')
    p.add_argument('mode', choices=['whip', 'whep'])
    p.add_argument('url')
    p.add_argument('--seconds', type=float, default=10, help='how long to stay connected (default 10)')
    p.add_argument('--token', help='sent as Authorization: Bearer TOKEN')
    p.add_argument('--size', default='640x360', help='WHIP test picture size (default 640x360)')
    p.add_argument('--local-ip', help='the one local address ICE gathers on (default: the URL host when loopback)')
    p.add_argument('--verbose', action='store_true', help='print the offer and answer SDP')
    args = p.parse_args()
    Gst.init(None)
    missing = [e for e in ('webrtcbin', 'nicesrc', 'nicesink') if Gst.ElementFactory.find(e) is None]
    if missing:
        emit('error', message=f'missing GStreamer elements: {", ".join(missing)} (apt-get install gstreamer1.0-nice gstreamer1.0-plugins-bad gir1.2-gst-plugins-bad-1.0)')
        return 1
    code = Client(args).run()
    # No interpreter teardown: finalizing the wrappers would release the ICE agent's borrowed
    # reference (see _loopback_ice) and crash after the work is done.
    sys.stdout.flush()
    os._exit(code)


if __name__ == '__main__':
    sys.exit(main())
