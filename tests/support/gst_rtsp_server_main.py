"""A test camera: GStreamer's RTSP server serving live and file-backed H.264 mounts.

Run with Debian's ``/usr/bin/python3`` (PyGObject and the GStreamer typelibs come from
Debian packages, not from the project's venv), so this file imports nothing from the
project. Contract:

    /usr/bin/python3 gst_rtsp_server_main.py '<json config>'

    {"host": "127.0.0.1", "port": 0,
     "mounts": [{"path": "/live", "source": "live", "auth": "none"},
                {"path": "/clip", "source": "file", "file": "/abs/clip.mp4", "loop": true,
                 "auth": "digest", "user": "u", "password": "p"}]}

- ``host`` must be a loopback address (tests never listen on a real interface), unless
  ``"in_netns": true`` says the server runs inside a network namespace a test made (whose
  interfaces are all the test's own: the security tests give the camera its own address
  on a veth link); the RTP and RTCP ports of UDP viewers are bound on it too.
- ``port`` 0 picks a free port. Once listening the server prints exactly one line,
  ``READY <port>``, on stdout; diagnostics go to stderr. SIGTERM or SIGINT stop it.
  Exit status 2 is a bad config, 3 a port it cannot bind.
- ``source`` is ``live`` (a moving test pattern encoded in real time; optional
  ``width``, ``height``, ``fps``, and ``codec``: ``h264`` (x264, the default) or ``h265``
  (x265)) or ``file`` (an MP4 with H.264 sent as is, paced in
  real time; ``loop`` restarts it at the end without breaking the RTP timeline).
- ``auth`` is ``none``, ``basic`` or ``digest``, with ``user`` and ``password``. Every
  mount is shared between clients unless ``"shared": false``.

GstRTSPAuth offers one challenge scheme per auth object (the GI enum for its
method set cannot hold Basic and Digest together), so the server's auth object hands
each request to a per-scheme helper chosen by the mount the request is for.
"""

from __future__ import annotations

import ipaddress
import json
import signal
import sys
from typing import Any

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

AUTH_KINDS = ("none", "basic", "digest")
EXIT_CANNOT_LISTEN = 3
ANONYMOUS_ROLE = "anonymous"


class ConfigError(Exception):
    """The JSON config is not one this script understands."""


def live_launch(mount: dict[str, Any]) -> str:
    width = int(mount.get("width", 640))
    height = int(mount.get("height", 360))
    fps = int(mount.get("fps", 15))
    codec = mount.get("codec", "h264")
    if codec == "h264":
        encode = (
            f" ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={fps}"
            " ! rtph264pay name=pay0 pt=96 config-interval=1"
        )
    elif codec == "h265":
        encode = (
            f" ! x265enc tune=zerolatency speed-preset=ultrafast key-int-max={fps}"
            " ! rtph265pay name=pay0 pt=96 config-interval=1"
        )
    else:
        raise ConfigError(f"mount {mount.get('path')!r}: codec must be 'h264' or 'h265'")
    return (
        "( videotestsrc is-live=true pattern=ball"
        f" ! video/x-raw,width={width},height={height},framerate={fps}/1"
        f"{encode}"
        f"{audio_branch(mount)} )"
    )


def audio_branch(mount: dict[str, Any]) -> str:
    """With ``"audio": true``, a second track: a live tone, AAC (mpeg4-generic RTP) at
    16 kHz, or G.711 mu-law at 8 kHz with ``"audio_codec": "pcmu"``."""
    if not mount.get("audio", False):
        return ""
    source = " audiotestsrc is-live=true wave=ticks ! audioconvert ! audioresample"
    if mount.get("audio_codec", "aac") == "pcmu":
        return f"{source} ! audio/x-raw,rate=8000,channels=1 ! mulawenc ! rtppcmupay name=pay1"
    return f"{source} ! audio/x-raw,rate=16000,channels=1 ! avenc_aac ! rtpmp4gpay name=pay1 pt=97"


def file_launch(mount: dict[str, Any]) -> str:
    location = GLib.strescape(str(mount["file"]), None)
    return (
        f'( filesrc location="{location}" ! qtdemux ! h264parse name=parse'
        " ! rtph264pay name=pay0 pt=96 config-interval=1 )"
    )


def loop_file(factory: GstRtspServer.RTSPMediaFactory, media: GstRtspServer.RTSPMedia) -> None:
    """Make a file mount's media rewind at the end of the file instead of ending.

    Seeks carry GST_SEEK_FLAG_SEGMENT, so the demuxer ends each pass with SEGMENT_DONE
    rather than EOS (an EOS would latch its pad for good), and each rewind is a
    non-flushing seek, which keeps running time (hence RTP timestamps) increasing: clients
    see one continuous stream. GstRTSPMedia refuses seeks until it plays, so the first
    segment seek waits for PLAYING. Overriding the media's handle_message vfunc from
    Python is not an option: PyGObject cannot register it.
    """
    parse_sink = media.get_element().get_by_name("parse").get_static_pad("sink")
    started = False
    last_duration = Gst.CLOCK_TIME_NONE

    def rewind() -> bool:
        parse_sink.push_event(
            Gst.Event.new_seek(
                1.0,
                Gst.Format.TIME,
                Gst.SeekFlags.SEGMENT,
                Gst.SeekType.SET,
                0,
                Gst.SeekType.NONE,
                -1,
            )
        )
        return False  # GLib.SOURCE_REMOVE: run once

    def start_looping() -> bool:
        _, whole = GstRtsp.rtsp_range_parse("npt=0-")
        if not media.seek_full(whole, Gst.SeekFlags.FLUSH | Gst.SeekFlags.SEGMENT):
            print("loop: initial segment seek refused", file=sys.stderr, flush=True)
        return False  # GLib.SOURCE_REMOVE: run once

    def on_new_state(media: GstRtspServer.RTSPMedia, state: int) -> None:
        nonlocal started
        if state == Gst.State.PLAYING and not started:
            started = True
            GLib.idle_add(start_looping)

    def on_buffer(pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        nonlocal last_duration
        last_duration = info.get_buffer().duration
        return Gst.PadProbeReturn.OK

    def on_downstream(pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        if info.get_event().type == Gst.EventType.SEGMENT_DONE:
            # A non-flushing seek starts the next pass at the running time of the last
            # frame's *start*; shift it by that frame's duration so no timestamp repeats.
            if last_duration != Gst.CLOCK_TIME_NONE:
                pad.set_offset(pad.get_offset() + last_duration)
            # Seeking from the streaming thread would deadlock; do it from the main loop.
            GLib.idle_add(rewind)
        return Gst.PadProbeReturn.OK

    def on_upstream(pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        event = info.get_event()
        if event.type != Gst.EventType.SEEK:
            return Gst.PadProbeReturn.OK
        rate, fmt, flags, start_type, start, stop_type, stop = event.parse_seek()
        if flags & Gst.SeekFlags.SEGMENT:
            return Gst.PadProbeReturn.OK
        # A client's seek (PLAY with a Range) must not end the looping either.
        flags |= Gst.SeekFlags.SEGMENT
        pad.push_event(Gst.Event.new_seek(rate, fmt, flags, start_type, start, stop_type, stop))
        return Gst.PadProbeReturn.DROP

    media.connect("new-state", on_new_state)
    parse_sink.add_probe(Gst.PadProbeType.BUFFER, on_buffer)
    parse_sink.add_probe(Gst.PadProbeType.EVENT_DOWNSTREAM, on_downstream)
    parse_sink.add_probe(Gst.PadProbeType.EVENT_UPSTREAM, on_upstream)


class MountFactory(GstRtspServer.RTSPMediaFactory):  # type: ignore[misc]
    """A media factory that remembers which auth scheme guards it."""

    def __init__(self, auth_kind: str) -> None:
        super().__init__()
        self.auth_kind = auth_kind


class PerMountAuth(GstRtspServer.RTSPAuth):  # type: ignore[misc]
    """Delegates authentication and the 401 challenge to the helper for the mount's scheme.

    Each helper is a stock GstRTSPAuth: ``none`` gives every client the anonymous token,
    ``basic`` and ``digest`` give none without valid credentials (so the default check
    answers 401 with that helper's challenge rather than 404).
    """

    def __init__(self, helpers: dict[str, GstRtspServer.RTSPAuth]) -> None:
        super().__init__()
        self.helpers = helpers

    def _helper(self, ctx: GstRtspServer.RTSPContext) -> GstRtspServer.RTSPAuth:
        factory = ctx.factory
        kind = factory.auth_kind if isinstance(factory, MountFactory) else "none"
        return self.helpers[kind]

    def do_authenticate(self, ctx: GstRtspServer.RTSPContext) -> bool:
        return bool(GstRtspServer.RTSPAuth.do_authenticate(self._helper(ctx), ctx))

    def do_generate_authenticate_header(self, ctx: GstRtspServer.RTSPContext) -> None:
        GstRtspServer.RTSPAuth.do_generate_authenticate_header(self._helper(ctx), ctx)


def role_token(role: str) -> GstRtspServer.RTSPToken:
    token = GstRtspServer.RTSPToken()
    token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, role)
    return token


def make_helpers() -> dict[str, GstRtspServer.RTSPAuth]:
    anonymous = GstRtspServer.RTSPAuth()
    anonymous.set_default_token(role_token(ANONYMOUS_ROLE))
    basic = GstRtspServer.RTSPAuth()
    basic.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
    digest = GstRtspServer.RTSPAuth()
    digest.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
    return {"none": anonymous, "basic": basic, "digest": digest}


def allow_role(factory: MountFactory, role: str) -> None:
    factory.add_role_from_structure(
        Gst.Structure.new_from_string(
            f"{role}, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"
        )
    )


def loopback_pool(host: str) -> GstRtspServer.RTSPAddressPool:
    """UDP transport ports on ``host`` only (by default GStreamer binds the wildcard).

    The range sits below Linux's ephemeral ports; a port another process holds is
    skipped by GStreamer, which then tries the next pair.
    """
    pool = GstRtspServer.RTSPAddressPool()
    if not pool.add_range(host, host, 20000, 32767, 0):
        raise ConfigError(f"cannot make a UDP port pool on {host}")
    return pool


def build_factory(
    index: int,
    mount: dict[str, Any],
    helpers: dict[str, GstRtspServer.RTSPAuth],
    pool: GstRtspServer.RTSPAddressPool,
) -> MountFactory:
    source = mount.get("source")
    auth_kind = mount.get("auth", "none")
    if auth_kind not in AUTH_KINDS:
        raise ConfigError(f"mount {mount.get('path')!r}: auth must be one of {AUTH_KINDS}")
    factory = MountFactory(auth_kind)
    if source == "live":
        factory.set_launch(live_launch(mount))
    elif source == "file":
        if "file" not in mount:
            raise ConfigError(f"mount {mount.get('path')!r}: source 'file' needs 'file'")
        factory.set_launch(file_launch(mount))
        if mount.get("loop", False):
            factory.connect("media-configure", loop_file)
    else:
        raise ConfigError(f"mount {mount.get('path')!r}: source must be 'live' or 'file'")
    factory.set_shared(bool(mount.get("shared", True)))
    factory.set_address_pool(pool)

    if auth_kind == "none":
        allow_role(factory, ANONYMOUS_ROLE)
    else:
        user, password = mount.get("user"), mount.get("password")
        if not isinstance(user, str) or not isinstance(password, str):
            raise ConfigError(f"mount {mount.get('path')!r}: auth needs 'user' and 'password'")
        # One role per mount, so credentials for one mount never open another.
        role = f"mount{index}"
        allow_role(factory, role)
        if auth_kind == "basic":
            basic = GstRtspServer.RTSPAuth.make_basic(user, password)
            helpers["basic"].add_basic(basic, role_token(role))
        else:
            helpers["digest"].add_digest(user, password, role_token(role))
    return factory


def build_server(config: dict[str, Any]) -> GstRtspServer.RTSPServer:
    host = str(config.get("host", "127.0.0.1"))
    if not ipaddress.ip_address(host).is_loopback and config.get("in_netns") is not True:
        raise ConfigError(f"host {host!r} is not a loopback address")
    mounts = config.get("mounts")
    if not isinstance(mounts, list) or not mounts:
        raise ConfigError("config needs a non-empty 'mounts' list")

    server = GstRtspServer.RTSPServer()
    server.set_address(host)
    server.set_service(str(int(config.get("port", 0))))
    helpers = make_helpers()
    pool = loopback_pool(host)
    mount_points = server.get_mount_points()
    for index, mount in enumerate(mounts):
        path = mount.get("path")
        if not isinstance(path, str) or not path.startswith("/"):
            raise ConfigError(f"mount path {path!r} must start with '/'")
        mount_points.add_factory(path, build_factory(index, mount, helpers, pool))
    if any(mount.get("auth", "none") != "none" for mount in mounts):
        server.set_auth(PerMountAuth(helpers))
    return server


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(f"usage: {argv[0]} '<json config>'", file=sys.stderr)
        return 2
    Gst.init(None)
    try:
        server = build_server(json.loads(argv[1]))
    except (ConfigError, ValueError) as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2

    loop = GLib.MainLoop()

    def stop() -> bool:
        loop.quit()
        return False  # GLib.SOURCE_REMOVE: run once

    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, signum, stop)
    if server.attach(None) == 0:
        print("cannot listen (see GStreamer warnings above)", file=sys.stderr)
        return EXIT_CANNOT_LISTEN
    print(f"READY {server.get_bound_port()}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
