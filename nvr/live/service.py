"""Live view sessions: one aiortc peer connection per viewer, passing the camera's H.264
through (WHEP, RFC 9725, answered by ``nvr.web.live``).

Contract::

    live = LiveService(source=cameras.live_source, cameras=lambda: names, record=box.record)
    session = await live.start("porch", offer_sdp, actor)   # -> LiveSession (id, answer SDP)
    await live.stop(session.id, "viewer left")              # idempotent
    shot = await live.snapshot("porch")                     # Snapshot (JPEG), cached ~1 s
    await live.close()                                      # service shutdown: ends all

``start`` raises ``UnknownCamera`` (not configured), ``CameraOffline`` (known but not
streaming, or not H.264), ``OfferRejected`` (the offer has no H.264 with
packetization-mode=1, or is not SDP) and ``TooManyViewers`` (``max_viewers`` sessions
already). Each error carries a reason a person understands.

ICE: ``RTCConfiguration(iceServers=[])``, host candidates only: no STUN, no TURN, the box
never contacts anything to offer live view. aiortc gathers every candidate before
``setLocalDescription`` returns, so the answer is complete (non-trickle WHEP).

Audit: ``live.start`` {camera, session} when a session is created and ``live.stop``
{camera, session, seconds, reason} when it ends, each naming the viewer as actor;
``live.snapshot`` {camera} for snapshots, at most once per viewer and camera every
``SNAPSHOT_AUDIT_EVERY`` seconds (the fallback polls every 2 s).
A session that has not connected within ``connect_timeout`` or whose connection fails
is ended by the box.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nvr.audit.entry import Actor
from nvr.capture import StreamReader
from nvr.live.feed import CameraFeed
from nvr.live.snapshot import NoPicture, Snapshot, jpeg_of

if TYPE_CHECKING:
    # aiortc (with aioice, pylibsrtp, pyOpenSSL) is imported by the first live session,
    # not by the service: a box nobody watches live does not carry it.
    from aiortc import RTCPeerConnection

    from nvr.live.track import PassthroughTrack

log = logging.getLogger(__name__)

# Each viewer costs the box a DTLS/SRTP session and ~1-2 % of a core (docs/design/live.md);
# the cap keeps a small box responsive. Viewers past it get 503 and the snapshot fallback.
MAX_VIEWERS = 8
CONNECT_TIMEOUT = 30.0  # seconds for a new session's ICE + DTLS to complete
SNAPSHOT_TTL = 1.0  # seconds a snapshot is reused
KEYFRAME_WAIT = 5.0  # seconds a snapshot waits for a first keyframe
# Snapshots are live pictures too, but the fallback fetches one every 2 s: the audit log
# gets one ``live.snapshot`` entry per viewer and camera per this many seconds.
SNAPSHOT_AUDIT_EVERY = 600.0

Record = Callable[[str, dict[str, Any], Actor], object]

_RTPMAP = re.compile(r"^a=rtpmap:(\d+) H264/90000", re.IGNORECASE | re.MULTILINE)
_FMTP = re.compile(r"^a=fmtp:(\d+) (.*)$", re.MULTILINE)


class LiveError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownCamera(LiveError):
    pass


class CameraOffline(LiveError):
    pass


class OfferRejected(LiveError):
    pass


class TooManyViewers(LiveError):
    pass


def offer_has_h264(sdp: str) -> bool:
    """Whether the offer has an H.264 payload type with ``packetization-mode=1`` (what
    aiortc packetizes: FU-A and STAP-A)."""
    payloads = set(_RTPMAP.findall(sdp))
    for pt, params in _FMTP.findall(sdp):
        if pt in payloads and "packetization-mode=1" in params.replace(" ", ""):
            return True
    return False


def h264_preferences() -> list[Any]:
    from aiortc.codecs import get_capabilities

    return [
        c
        for c in get_capabilities("video").codecs
        if c.mimeType.lower() in ("video/h264", "video/rtx")
    ]


@dataclass
class LiveSession:
    id: str
    camera: str
    actor: Actor
    pc: RTCPeerConnection
    track: PassthroughTrack
    answer: str
    started: float = field(default_factory=time.monotonic)
    connected: bool = False


class LiveService:
    """See the module docstring."""

    def __init__(
        self,
        *,
        source: Callable[[str], StreamReader | None],
        cameras: Callable[[], Iterable[str]],
        record: Record,
        max_viewers: int = MAX_VIEWERS,
        connect_timeout: float = CONNECT_TIMEOUT,
    ) -> None:
        self._source = source
        self._cameras = cameras
        self._record = record
        self.max_viewers = max_viewers
        self.connect_timeout = connect_timeout
        self._feeds: dict[str, CameraFeed] = {}
        self._sessions: dict[str, LiveSession] = {}
        self._snapshots: dict[str, tuple[float, Snapshot]] = {}
        self._snapshot_lock = asyncio.Lock()
        self._snapshot_audits: dict[tuple[Actor, str], float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    # --- cameras ----------------------------------------------------------------------

    def cameras(self) -> list[str]:
        return list(self._cameras())

    def feed(self, camera: str) -> CameraFeed:
        """The running feed of ``camera``; ``UnknownCamera`` / ``CameraOffline``."""
        if camera not in self.cameras():
            raise UnknownCamera(f"no camera named '{camera}'")
        reader = self._source(camera)
        if reader is None:
            raise CameraOffline(f"camera '{camera}' is not connected yet")
        health = reader.health()
        if health.state != "online":
            why = f": {health.last_error}" if health.last_error else ""
            raise CameraOffline(f"camera '{camera}' is {health.state}{why}")
        feed = self._feeds.get(camera)
        if feed is None or feed.reader is not reader:
            feed = self._feeds[camera] = CameraFeed(camera, reader)
        feed.start()
        return feed

    # --- sessions ---------------------------------------------------------------------

    def session(self, session_id: str) -> LiveSession | None:
        return self._sessions.get(session_id)

    @property
    def viewers(self) -> int:
        return len(self._sessions)

    async def start(self, camera: str, offer: str, actor: Actor) -> LiveSession:
        if self._closed:
            raise CameraOffline("the service is stopping")
        # Cheap checks first: the camera's name, the offer, the cap; then the stream.
        if camera not in self.cameras():
            raise UnknownCamera(f"no camera named '{camera}'")
        if "v=0" not in offer or "m=video" not in offer:
            raise OfferRejected("the body is not an SDP offer with a video section")
        if not offer_has_h264(offer):
            raise OfferRejected(
                "the browser offered no H.264 video (packetization-mode=1); "
                "the box passes the camera's H.264 through and cannot transcode"
            )
        if len(self._sessions) >= self.max_viewers:
            raise TooManyViewers(
                f"{self.max_viewers} live viewers already (the box's limit); close one "
                "or use snapshots"
            )
        feed = self.feed(camera)
        codec = feed.reader.health().codec
        if codec is not None and codec != "h264":
            raise CameraOffline(
                f"camera '{camera}' sends {codec}; live video in the browser needs H.264"
            )
        from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

        from nvr.live.track import PassthroughTrack

        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        viewer = feed.add_viewer()
        track = PassthroughTrack(viewer)
        try:
            # Track and codec preferences BEFORE the remote description: aiortc binds the
            # offer's video m-line to this transceiver and negotiates H.264 only.
            transceiver = pc.addTransceiver(track, direction="sendonly")
            transceiver.setCodecPreferences(h264_preferences())
            try:
                await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
            except ValueError as exc:
                raise OfferRejected(f"not a usable SDP offer: {exc}") from None
            answer = await pc.createAnswer()
            await pc.setLocalDescription(answer)  # gathers every (host) candidate first
            if not _sends_h264(pc):
                raise OfferRejected("no H.264 video could be negotiated with this browser")
        except Exception as exc:
            feed.remove_viewer(viewer)
            await pc.close()
            if isinstance(exc, LiveError):
                raise
            raise OfferRejected(f"the offer could not be answered: {exc}") from None
        session = LiveSession(
            secrets.token_urlsafe(16), camera, actor, pc, track, pc.localDescription.sdp
        )
        self._sessions[session.id] = session

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            state = pc.connectionState
            if state == "connected":
                session.connected = True
            elif state in ("failed", "closed"):
                await self.stop(session.id, f"connection {state}")

        self._spawn(self._connect_deadline(session))
        await asyncio.to_thread(
            self._record, "live.start", {"camera": camera, "session": session.id}, actor
        )
        log.info("live view started", extra={"camera": camera, "session": session.id})
        return session

    async def stop(self, session_id: str, reason: str) -> bool:
        """End a session (idempotent); returns whether it was running."""
        session = self._sessions.pop(session_id, None)
        if session is None:
            return False
        feed = self._feeds.get(session.camera)
        if feed is not None:
            feed.remove_viewer(session.track.viewer)
        session.track.stop()
        with contextlib.suppress(Exception):
            await session.pc.close()
        seconds = round(time.monotonic() - session.started)
        payload = {
            "camera": session.camera,
            "session": session.id,
            "seconds": seconds,
            "reason": reason,
        }
        await asyncio.to_thread(self._record, "live.stop", payload, session.actor)
        log.info("live view ended", extra={"camera": session.camera, "reason": reason})
        return True

    async def close(self) -> None:
        """Service shutdown: end every session and feed."""
        self._closed = True
        for session_id in list(self._sessions):
            await self.stop(session_id, "service stopping")
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for feed in self._feeds.values():
            await feed.stop()
        self._feeds.clear()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connect_deadline(self, session: LiveSession) -> None:
        await asyncio.sleep(self.connect_timeout)
        if not session.connected:
            await self.stop(session.id, "never connected")

    # --- snapshots --------------------------------------------------------------------

    async def snapshot(self, camera: str, actor: Actor) -> Snapshot:
        """The latest picture as JPEG; ``UnknownCamera`` / ``CameraOffline``."""
        shot = await self._snapshot(camera)
        now = time.monotonic()
        last = self._snapshot_audits.get((actor, camera))
        if last is None or now - last >= SNAPSHOT_AUDIT_EVERY:
            self._snapshot_audits[(actor, camera)] = now
            await asyncio.to_thread(self._record, "live.snapshot", {"camera": camera}, actor)
        return shot

    async def _snapshot(self, camera: str) -> Snapshot:
        feed = self.feed(camera)
        async with self._snapshot_lock:  # one decode at a time on a small box
            cached = self._snapshots.get(camera)
            if cached is not None and time.monotonic() - cached[0] < SNAPSHOT_TTL:
                return cached[1]
            frames = feed.latest_gop()
            if not frames:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(feed.new_keyframe.wait(), KEYFRAME_WAIT)
                frames = feed.latest_gop()
            try:
                shot = await asyncio.to_thread(jpeg_of, frames)
            except NoPicture as exc:
                raise CameraOffline(f"no picture from camera '{camera}': {exc}") from None
            self._snapshots[camera] = (time.monotonic(), shot)
            return shot


def _sends_h264(pc: RTCPeerConnection) -> bool:
    for transceiver in pc.getTransceivers():
        codecs = getattr(transceiver, "_codecs", [])
        if transceiver.kind == "video" and any(c.mimeType.lower() == "video/h264" for c in codecs):
            return True
    return False
