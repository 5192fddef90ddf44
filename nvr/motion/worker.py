"""The live motion worker: one camera's packets in, motion events out, in its own thread.

Contract::

    worker = MotionWorker("front-door", reader.subscribe(WORKER_QUEUE), settings, rules,
                          clock, sink)       # sink: on_start / on_motion / on_end
    worker.start()                           # its own thread; never blocks
    worker.status()                          # MotionSnapshot (any thread)
    worker.stop()                            # ends (and reports) an open event; joins

Per connection (``StreamInfo.session``) the worker makes a PyAV decoder from the stream
description, waits for a keyframe, then decodes every packet (later frames reference
earlier ones) but analyses only the frames the ``RateGate`` takes: only those are scaled
to the analysis size and given to the ``Detector`` and the ``EventTracker``. When the
stream runs well above the analysis rate, frames no other frame references are not even
decoded (``skip_frame = NONREF``; streams whose every frame is a reference, like most
IPPP camera streams, gain nothing and lose nothing). A packet that reached the worker
more than ``max_lag`` seconds after the reader got it means the worker is behind: it
skips to the next keyframe rather than analysing stale video (``skipped``); a worker
that falls further behind loses packets in its own bounded subscription (``dropped``),
never the recorder's. A new connection, or timestamps that jump, end the open event
at its last analysed frame (``flush``) and start the detector afresh.

Media time (frame timestamps) drives the detector and the event rules; it is mapped to
the wall clock like the recorder does: the arrival time of the connection's first
decoded frame plus media time since, re-anchored (while no event is open) when it
drifts more than ``REANCHOR_DRIFT`` from arrival, so event times line up with the
recorded footage.

Callbacks run on this thread and must not block: ``on_start(camera, when)`` once per
event, ``on_motion(camera, when)`` for motion frames of an open event at most once per
``motion_every`` seconds (to extend an ``events``-mode recording), and
``on_end(camera, details, thumbnail_jpeg)`` with the sealed record's fields
(``event_details``) and a JPEG of the event's best frame (its largest motion box).

Somewhat over 300 lines: the small pure decisions (record fields, box sampling, decode
skipping, wall mapping, thumbnail) live beside the one thread that uses them, and are
tested on their own.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

import av
import cv2
from av.video.codeccontext import VideoCodecContext

from nvr.capture import CapturedPacket, StreamInfo, Subscription, SubscriptionClosed
from nvr.clock import Clock
from nvr.motion.detector import Detector, DetectorSettings
from nvr.motion.events import EventRules, EventTracker
from nvr.motion.frames import RateGate, luma
from nvr.motion.types import Box, FrameResult, MotionEvent
from nvr.record.timeline import REANCHOR_DRIFT

log = logging.getLogger(__name__)

WORKER_QUEUE = 64  # packets; a few seconds of a sub-stream
POLL_SECONDS = 0.25
MAX_LAG = 1.5  # seconds behind the reader before skipping to the next keyframe
THUMBNAIL_WIDTH = 640
JPEG_QUALITY = 80
BOX_SAMPLE_SECONDS = 1.0
MAX_BOX_SAMPLES = 300
JUMP_SECONDS = 10.0  # a timestamp step bigger than this is a discontinuity
FPS_WINDOW = 5.0

MotionState = Literal["off", "idle", "motion"]


class MotionSink(Protocol):
    """Where a worker reports; every method is called on the worker's thread."""

    def on_start(self, camera: str, when: datetime) -> None: ...

    def on_motion(self, camera: str, when: datetime) -> None: ...

    def on_end(self, camera: str, details: dict[str, Any], thumbnail: bytes | None) -> None: ...


@dataclass(frozen=True)
class MotionSnapshot:
    camera: str
    state: MotionState
    fps: float | None = None  # frames analysed per second (media time), recent
    decode_errors: int = 0
    dropped: int = 0  # packets the subscription dropped (the worker fell behind)
    skipped: int = 0  # packets skipped to the next keyframe to catch up
    events: int = 0  # ended since start
    last_event_at: datetime | None = None  # start of the latest event
    skip_frame: str = "DEFAULT"  # NONREF: frames nothing references are not decoded


# --- pure helpers ---------------------------------------------------------------------


def sample_boxes(
    boxes: Sequence[tuple[float, tuple[Box, ...]]],
    every: float = BOX_SAMPLE_SECONDS,
    limit: int = MAX_BOX_SAMPLES,
) -> list[tuple[float, tuple[Box, ...]]]:
    """At most one sample per ``every`` seconds (coarser if that would exceed ``limit``)."""
    if not boxes:
        return []
    span = boxes[-1][0] - boxes[0][0]
    step = max(every, span / max(1, limit - 1))
    out: list[tuple[float, tuple[Box, ...]]] = []
    for t, frame_boxes in boxes:
        if not out or t - out[-1][0] >= step - 1e-6:
            out.append((t, frame_boxes))
    return out[:limit]


def event_details(event: MotionEvent, wall: WallMap) -> dict[str, Any]:
    """The sealed record of a finished motion event (``EventStore.add``'s ``details``)."""
    end = event.end if event.end is not None else event.start
    return {
        "type": "motion",
        "start": wall.at(event.start),
        "end": wall.at(end),
        "peak_score": round(event.peak_score, 4),
        "boxes": [
            {
                "t": wall.at(t).isoformat(),
                "boxes": [[round(v, 4) for v in (b.x, b.y, b.w, b.h)] for b in frame_boxes],
            }
            for t, frame_boxes in sample_boxes(event.boxes)
        ],
        "zones": sorted(event.zones),
    }


def skip_mode(stream_fps: float | None, analysis_fps: float) -> Literal["DEFAULT", "NONREF"]:
    """Whether non-reference frames may go undecoded: only when the stream runs at three
    times the analysis rate or more, so what is left still covers the analysis rate."""
    if stream_fps is not None and stream_fps >= 3 * analysis_fps:
        return "NONREF"
    return "DEFAULT"


class WallMap:
    """Media seconds -> UTC for one connection (see the module docstring)."""

    def __init__(self, t: float, wall: datetime) -> None:
        self.t, self.wall = t, wall

    def at(self, t: float) -> datetime:
        return self.wall + timedelta(seconds=t - self.t)

    def drift(self, t: float, received_at: datetime) -> float:
        return (self.at(t) - received_at).total_seconds()


def thumbnail_jpeg(frame: av.VideoFrame, width: int = THUMBNAIL_WIDTH) -> bytes | None:
    """The frame as a JPEG at most ``width`` pixels wide (never upscaled)."""
    w = min(width, frame.width)
    h = max(2, 2 * round(frame.height * w / frame.width / 2))
    bgr = frame.reformat(width=w, height=h, format="bgr24").to_ndarray()
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    return bytes(buf) if ok else None


# --- the worker -----------------------------------------------------------------------


class MotionWorker:
    """Motion detection for one camera stream; see the module docstring."""

    def __init__(
        self,
        camera: str,
        subscription: Subscription,
        settings: DetectorSettings,
        rules: EventRules,
        clock: Clock,
        sink: MotionSink,
        *,
        max_lag: float = MAX_LAG,
        motion_every: float = 1.0,
    ) -> None:
        self.camera = camera
        self._sub = subscription
        self._settings = settings
        self._rules = rules
        self._clock = clock
        self._sink = sink
        self._max_lag = max_lag
        self._motion_every = motion_every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._status = MotionSnapshot(camera, "off")
        # Worker-thread state.
        self._detector = Detector(settings)
        self._tracker = EventTracker(rules)
        self._gate = RateGate(settings.fps)
        self._session: int | None = None
        self._codec: VideoCodecContext | None = None
        self._resync = True  # wait for a keyframe before decoding
        self._wall: WallMap | None = None
        self._last_t: float | None = None
        self._best: av.VideoFrame | None = None
        self._last_motion_sent: float | None = None
        self._open = False  # an event is open
        self._analysed: deque[float] = deque()
        self._rate: list[float] | None = []  # packet times until the stream's rate is known

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"motion worker {self.camera!r} already started")
        self._set(state="idle")
        self._thread = threading.Thread(target=self._run, name=f"motion-{self.camera}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """End the thread, reporting an open event as ended. Returns whether it ended."""
        self._stop.set()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def status(self) -> MotionSnapshot:
        with self._lock:
            status = self._status
        return replace(status, dropped=self._sub.dropped)

    # --- the thread ---------------------------------------------------------------------

    def _set(self, **changes: Any) -> None:
        with self._lock:
            self._status = replace(self._status, **changes)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    cp = self._sub.get(timeout=POLL_SECONDS)
                except queue.Empty:
                    continue
                except SubscriptionClosed:
                    break
                if cp.kind != "video":
                    continue
                try:
                    self._packet(cp)
                except Exception:
                    log.exception(
                        "motion %s: unexpected error; resuming at next keyframe", self.camera
                    )
                    self._set(decode_errors=self._status.decode_errors + 1)
                    self._resync = True
        finally:
            self._flush()
            self._set(state="off", fps=None)

    def _packet(self, cp: CapturedPacket) -> None:
        if cp.info.session != self._session:
            self._new_session(cp.info)
        if self._codec is None:
            return  # a codec this FFmpeg cannot decode: logged once per connection
        if not cp.keyframe and self._clock.monotonic() - cp.received_mono > self._max_lag:
            # Behind: a skipped frame is a missing reference for the rest of its GOP, so
            # skip to the next keyframe, not just this packet.
            self._resync = True
        if self._resync:
            if not cp.keyframe:
                self._set(skipped=self._status.skipped + 1)
                return
            self._resync = False
        self._measure_rate(cp)
        try:
            frames = self._codec.decode(cp.packet)
        except av.FFmpegError as exc:
            self._set(decode_errors=self._status.decode_errors + 1)
            log.debug("motion %s: decode error: %s", self.camera, exc)
            self._resync = True
            return
        for frame in frames:
            self._frame(frame, cp)

    def _new_session(self, info: StreamInfo) -> None:
        self._flush()
        self._session = info.session
        self._resync = True
        self._wall = None
        self._rate = []
        self._set(skip_frame="DEFAULT")
        try:
            codec = av.CodecContext.create(info.codec, "r")
        except (av.FFmpegError, ValueError) as exc:
            log.warning("motion %s: cannot decode %s: %s", self.camera, info.codec, exc)
            self._codec = None
            self._resync = True
            return
        assert isinstance(codec, VideoCodecContext)
        if info.extradata:
            codec.extradata = info.extradata
        self._codec = codec

    def _measure_rate(self, cp: CapturedPacket) -> None:
        """Until the stream's rate is known: collect a second of packet times, then set
        ``skip_frame`` once for this connection."""
        rate, pkt = self._rate, cp.packet
        if rate is None or self._codec is None or pkt.pts is None or pkt.time_base is None:
            return
        rate.append(float(pkt.pts * pkt.time_base))
        span = rate[-1] - rate[0]
        if span >= 1.0:
            mode = skip_mode((len(rate) - 1) / span, self._settings.fps)
            self._codec.skip_frame = mode
            self._set(skip_frame=mode)
            self._rate = None

    def _frame(self, frame: av.VideoFrame, cp: CapturedPacket) -> None:
        if frame.pts is None or frame.time_base is None:
            return
        t = float(frame.pts * frame.time_base)
        last = self._last_t
        if last is not None and (t < last - 1.0 or t > last + JUMP_SECONDS):
            self._flush()  # the camera's clock jumped: a new timeline
            last = None
        if last is not None and t <= last:
            return  # a repeated timestamp: nothing new to see
        wall = self._wall
        if wall is None or (not self._open and abs(wall.drift(t, cp.received_at)) > REANCHOR_DRIFT):
            wall = self._wall = WallMap(t, cp.received_at)
        self._last_t = t
        if not self._gate.take(t):
            return
        result = self._detector.process(luma(frame, self._settings.analysis_height))
        self._count(t)
        step = self._tracker.update(t, result)
        if step.ended is not None:
            self._ended(step.ended)
        if step.started is not None:
            # Not clearing ``_best``: the run that started the event had its ``best`` too.
            self._open, self._last_motion_sent = True, None
            when = wall.at(step.started.start)
            self._set(state="motion", last_event_at=when)
            self._call(self._sink.on_start, when)
        if step.best:
            self._best = frame  # encoded once, when the event ends
        if step.active:
            self._motion(t, result, wall)

    def _motion(self, t: float, result: FrameResult, wall: WallMap) -> None:
        sent = self._last_motion_sent
        if result.motion and (sent is None or t - sent >= self._motion_every):
            self._last_motion_sent = t
            self._call(self._sink.on_motion, wall.at(t))

    def _count(self, t: float) -> None:
        times = self._analysed
        times.append(t)
        while times[-1] - times[0] > FPS_WINDOW:
            times.popleft()
        span = times[-1] - times[0]
        self._set(fps=round((len(times) - 1) / span, 2) if span > 0 else None)

    def _ended(self, event: MotionEvent) -> None:
        assert self._wall is not None
        details = event_details(event, self._wall)
        best, self._best = self._best, None
        thumb: bytes | None = None
        if best is not None:
            try:
                thumb = thumbnail_jpeg(best)
            except (av.FFmpegError, cv2.error, ValueError):
                log.exception("motion %s: no thumbnail", self.camera)
        self._open = False
        self._set(state="idle", events=self._status.events + 1)
        self._call(self._sink.on_end, details, thumb)

    def _flush(self) -> None:
        """End the open event at the last analysed frame and start the analysis afresh."""
        if self._last_t is not None and self._wall is not None:
            event = self._tracker.flush(self._last_t)
            if event is not None:
                self._ended(event)
        self._detector.reset()
        self._tracker = EventTracker(self._rules)
        self._gate.reset()
        self._analysed.clear()
        self._last_t, self._best, self._open = None, None, False

    def _call(self, callback: Callable[..., None], *args: object) -> None:
        try:
            callback(self.camera, *args)
        except Exception:
            log.exception("motion %s: %s failed", self.camera, callback.__name__)
