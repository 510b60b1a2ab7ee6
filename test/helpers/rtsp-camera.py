#!/usr/bin/python3
"""A stand-in IP camera for tests: GStreamer's own RTSP server (gst-rtsp-server, Debian package
gir1.2-gst-rtsp-server-1.0), so the peer our RTSP client talks to is code nobody here wrote.

usage: rtsp-camera.py [PORT]   (PORT 0 or absent: any free port)

Three servers in one process, because GstRTSPAuth is per server, not per mount:
  open   rtsp://127.0.0.1:PORT/h264        H.264 (x264enc), no B-frames
         rtsp://127.0.0.1:PORT/h265pcma    H.265 (x265enc) + G.711 A-law
         rtsp://127.0.0.1:PORT/h264pcma    H.264 + G.711 A-law
  basic  rtsp://user:secret@127.0.0.1:BASIC/h264    Basic auth only
  digest rtsp://user:secret@127.0.0.1:DIGEST/h264   Digest auth only
Prints one JSON line {"port":..,"basic":..,"digest":..} on stdout once listening.
Pass BASIC and DIGEST ports as argv[2], argv[3] to restart on the same ports.
"""
import json
import sys

import gi

gi.require_version('Gst', '1.0')
gi.require_version('GstRtsp', '1.0')
gi.require_version('GstRtspServer', '1.0')
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

Gst.init(None)

VIDEO_H264 = (
    'videotestsrc is-live=true pattern=ball ! video/x-raw,format=I420,width=320,height=240,framerate=25/1 '
    '! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 bframes=0 '
    '! video/x-h264,profile=baseline ! rtph264pay name=pay0 pt=96 config-interval=-1'
)
VIDEO_H265_PCMA = (
    'videotestsrc is-live=true ! video/x-raw,format=I420,width=320,height=240,framerate=25/1 '
    '! x265enc tune=zerolatency speed-preset=ultrafast key-int-max=25 '
    '! rtph265pay name=pay0 pt=96 config-interval=-1 '
    'audiotestsrc is-live=true wave=sine ! audio/x-raw,rate=8000,channels=1 '
    '! alawenc ! rtppcmapay name=pay1 pt=8'
)

VIDEO_H264_PCMA = (
    VIDEO_H264 + ' '
    'audiotestsrc is-live=true wave=sine ! audio/x-raw,rate=8000,channels=1 ! alawenc ! rtppcmapay name=pay1 pt=8'
)


def factory(launch: str, role: str | None = None) -> GstRtspServer.RTSPMediaFactory:
    f = GstRtspServer.RTSPMediaFactory()
    f.set_launch('( ' + launch + ' )')
    f.set_shared(True)
    if role:
        f.add_role_from_structure(
            Gst.Structure.new_from_string(f'{role},media.factory.access=true,media.factory.construct=true')
        )
    return f


def server(port: str, mounts: dict[str, GstRtspServer.RTSPMediaFactory], auth=None) -> GstRtspServer.RTSPServer:
    s = GstRtspServer.RTSPServer()
    s.set_address('127.0.0.1')
    s.set_service(port)
    if auth is not None:
        s.set_auth(auth)
    m = s.get_mount_points()
    for path, f in mounts.items():
        m.add_factory(path, f)
    if s.attach(None) == 0:
        sys.stderr.write(f'rtsp-camera: cannot listen on port {port}\n')
        sys.exit(1)
    return s


def auth_for(method: str) -> GstRtspServer.RTSPAuth:
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string('media.factory.role', 'user')
    if method == 'basic':
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic('user', 'secret'), token)
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
    else:
        auth.add_digest('user', 'secret', token)
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
    return auth


def main() -> None:
    args = sys.argv[1:] + ['0', '0', '0']
    open_server = server(args[0], {'/h264': factory(VIDEO_H264), '/h265pcma': factory(VIDEO_H265_PCMA), '/h264pcma': factory(VIDEO_H264_PCMA)})
    basic = server(args[1], {'/h264': factory(VIDEO_H264, 'user')}, auth_for('basic'))
    digest = server(args[2], {'/h264': factory(VIDEO_H264, 'user')}, auth_for('digest'))
    print(json.dumps({'port': open_server.get_bound_port(), 'basic': basic.get_bound_port(), 'digest': digest.get_bound_port()}), flush=True)
    GLib.MainLoop().run()


if __name__ == '__main__':
    main()
