"""The built-in demo doorbell: a small live RTSP camera on loopback.

Contract::

    bell = DemoDoorbell(port=0)        # 960x540 @ 10 fps, the endless "demo" scene
    await bell.start()                 # binds, starts the encoder, waits for a keyframe
    bell.url                           # rtsp://127.0.0.1:PORT/doorbell
    await bell.stop()                  # closes every viewer and joins the encoder thread

One mount, ``/doorbell``, speaking RTSP/1.0 (RFC 2326): OPTIONS, DESCRIBE, SETUP (RTP/AVP/
TCP interleaved only; a UDP-only offer gets ``461 Unsupported Transport``), PLAY,
GET_PARAMETER (keepalive) and TEARDOWN. Video is H.264 in RTP per RFC 6184 with 90 kHz
timestamps taken from the clock at capture, and an RTCP sender report on the interleaved
RTCP channel every ``sr_interval`` seconds (and right after PLAY) maps them to NTP wall
time. One encoder, in a worker thread, feeds every viewer; a new viewer gets the cached
GOP (last keyframe onward) at once, so its first frame decodes immediately. Writes never
wait: a viewer whose unsent data passes ``max_viewer_buffer`` bytes is dropped, so a
stalled viewer cannot hold up the others or the event loop. Access is not authenticated:
the server binds loopback only and shows synthetic footage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import socket
import threading

from nvr.clock import Clock, SystemClock
from nvr.demo.broadcast import AccessUnit, LiveFeed, Viewer
from nvr.demo.encode import LiveEncoder
from nvr.demo.rtp import sdp_for_h264
from nvr.demo.rtsp import METHODS, Request, RtspError, parse_request, parse_transport, response
from nvr.demo.scene import make_scene

log = logging.getLogger(__name__)

MOUNT = "/doorbell"
TRACK = "trackID=0"
_SOCKET_SNDBUF = 256 * 1024


class DemoDoorbell:
    """A live RTSP camera showing a synthetic porch; see the module docstring."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        width: int = 960,
        height: int = 540,
        fps: int = 10,
        seed: int = 0,
        scene: str = "demo",
        gop_seconds: float = 2.0,
        clock: Clock | None = None,
        sr_interval: float = 5.0,
        max_viewer_buffer: int = 1_000_000,
    ) -> None:
        self.host, self.port = host, port
        self.width, self.height, self.fps, self.seed = width, height, fps, seed
        self.scene_name = scene
        self.gop_seconds = gop_seconds
        self._clock = clock or SystemClock()
        self._sr_interval = sr_interval
        self._feed = LiveFeed(
            self._clock, max_viewer_buffer=max_viewer_buffer, cname="demo-doorbell@porchlight"
        )
        self._server: asyncio.Server | None = None
        self._ready: asyncio.Future[tuple[bytes, bytes]] | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # one per connected viewer
        self._reports: asyncio.Task[None] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"rtsp://{self.host}:{self.port}{MOUNT}"

    @property
    def viewers(self) -> int:
        """Viewers currently being sent video."""
        return sum(1 for v in self._feed.viewers if v.playing)

    @property
    def dropped_viewers(self) -> int:
        """Viewers cut off because they stopped reading."""
        return self._feed.dropped_viewers

    @property
    def frames_sent(self) -> int:
        """Frames published to viewers since start (0 before the first keyframe)."""
        return self._feed.frames

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self._thread is not None or self._stop.is_set():
            raise RuntimeError("a DemoDoorbell starts once; make a new one to start again")
        self._ready = loop.create_future()
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._thread = threading.Thread(
            target=self._encode, args=(loop,), name=f"demo-doorbell-{self.port}", daemon=True
        )
        self._thread.start()
        self._reports = asyncio.create_task(self._report_loop())
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), timeout=15.0)
        except BaseException:
            await self.stop()
            raise
        log.info("demo doorbell streaming at %s", self.url)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._reports is not None:
            self._reports.cancel()
            await asyncio.gather(self._reports, return_exceptions=True)
            self._reports = None
        # Aborting a viewer's transport ends its handler with EOF. Handlers are not
        # cancelled: asyncio 3.11's stream callback logs a spurious error for that.
        self._feed.close_all()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 10.0)
            self._thread = None

    # --- encoder side -------------------------------------------------------------------

    def _encode(self, loop: asyncio.AbstractEventLoop) -> None:
        """Worker thread: render, encode and packetise; hand each frame to the loop."""
        try:
            scene = make_scene(
                self.scene_name, width=self.width, height=self.height, fps=self.fps, seed=self.seed
            )
            encoder = LiveEncoder(scene, clock=self._clock, gop_seconds=self.gop_seconds)
            for live in encoder.packets(self._stop):
                key = bool(live.packet.is_keyframe)
                unit = self._feed.unit(bytes(live.packet), live.monotonic, key)
                loop.call_soon_threadsafe(self._publish, unit)
        except RuntimeError:
            if not loop.is_closed():  # a closed loop just means we are shutting down
                raise
        except Exception as exc:
            log.exception("demo doorbell encoder failed")
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._fail, exc)

    def _fail(self, exc: Exception) -> None:
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(exc)

    def _publish(self, unit: AccessUnit) -> None:
        if self._feed.publish(unit) and unit.params and self._ready and not self._ready.done():
            self._ready.set_result(unit.params)

    async def _report_loop(self) -> None:
        while True:
            await asyncio.sleep(self._sr_interval)
            self._feed.send_reports()

    # --- RTSP side ----------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            # A fixed, modest kernel buffer (instead of autotuning up to megabytes) bounds
            # how much stale video waits for a slow viewer, and lets a stalled one be
            # noticed by its transport buffer within seconds.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SOCKET_SNDBUF)
        viewer = Viewer(writer)
        self._feed.viewers.add(viewer)
        try:
            while True:
                first = await reader.readexactly(1)
                if first == b"$":  # interleaved RTCP from the client (receiver reports)
                    header = await reader.readexactly(3)
                    await reader.readexactly(int.from_bytes(header[1:3], "big"))
                    continue
                head = first + await reader.readuntil(b"\r\n\r\n")
                await self._answer(viewer, reader, head)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass  # the viewer hung up, or sent something that is not RTSP
        finally:
            self._feed.viewers.discard(viewer)
            self._tasks.discard(task)
            writer.transport.abort()

    async def _answer(self, viewer: Viewer, reader: asyncio.StreamReader, head: bytes) -> None:
        match = re.search(rb"(?im)^cseq:\s*(\d+)", head)
        cseq = match.group(1).decode() if match else "0"
        play = False
        try:
            request = parse_request(head)
            if request.content_length:
                await reader.readexactly(request.content_length)  # no method we serve has one
            reply, play = await self._handle(viewer, request)
        except RtspError as exc:
            extra = {"Public": ", ".join(METHODS)} if exc.status in (405, 501) else {}
            reply = response(exc.status, cseq, extra)
        viewer.writer.write(reply)
        if play:
            self._feed.start_playing(viewer)

    async def _handle(self, viewer: Viewer, request: Request) -> tuple[bytes, bool]:
        method, cseq = request.method, request.cseq
        if method == "OPTIONS":
            return response(200, cseq, {"Public": ", ".join(METHODS)}), False
        if request.path not in (MOUNT, f"{MOUNT}/{TRACK}"):
            raise RtspError(404, request.path)
        if method == "DESCRIBE":
            assert self._ready is not None
            sps, pps = await asyncio.wait_for(asyncio.shield(self._ready), timeout=15.0)
            sdp = sdp_for_h264(
                sps=sps,
                pps=pps,
                session_id=self._feed.ssrc,
                host=self.host,
                title="Porchlight demo doorbell",
                fps=self.fps,
            )
            headers = {"Content-Type": "application/sdp", "Content-Base": f"{self.url}/"}
            return response(200, cseq, headers, sdp.encode()), False
        if method == "SETUP":
            if viewer.session is not None and request.session != viewer.session:
                raise RtspError(459, "one session per connection")
            viewer.channels = parse_transport(request.headers.get("transport", ""))
            viewer.session = viewer.session or secrets.token_hex(8)
            rtp, rtcp = viewer.channels
            return response(
                200,
                cseq,
                {
                    "Transport": f"RTP/AVP/TCP;unicast;interleaved={rtp}-{rtcp}"
                    f";ssrc={self._feed.ssrc:08X}",
                    "Session": f"{viewer.session};timeout=60",
                },
            ), False
        if method not in ("PLAY", "GET_PARAMETER", "TEARDOWN"):
            raise RtspError(501, method)
        if viewer.session is None or request.session != viewer.session:
            raise RtspError(454, "no such session on this connection")
        session = {"Session": viewer.session}
        if method == "GET_PARAMETER":
            return response(200, cseq, session), False
        if method == "TEARDOWN":
            viewer.playing, viewer.session, viewer.channels = False, None, None
            return response(200, cseq), False
        if viewer.channels is None:
            raise RtspError(455, "PLAY before SETUP")
        first = self._feed.first_rtp_time()
        return response(
            200,
            cseq,
            {
                **session,
                "Range": "npt=now-",
                "RTP-Info": f"url={self.url}/{TRACK};seq={viewer.seq};rtptime={first}",
            },
        ), not viewer.playing
