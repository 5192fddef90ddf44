"""One camera stream: a PyAV demuxer in a worker thread, reconnecting, fanning packets out.

Contract::

    reader = StreamReader("front-door/main", "rtsp://user:pw@cam/stream", transport="tcp",
                          clock=SystemClock(), audio=False)
    sub = reader.subscribe(maxsize=64)     # before or after start(); get()/aget() packets
    reader.start()                         # starts the thread; never blocks
    reader.health()                        # StreamHealth snapshot, any thread, any time
    reader.stop()                          # blocks up to ~read_timeout: from async code,
                                           # await asyncio.to_thread(reader.stop)

The thread opens the URL (rtsp/rtsps; anything FFmpeg opens works) with ``open_options``,
demuxes the first video stream (and, with ``audio=True``, the first audio stream if it is
AAC or PCM/G.711: ``kind="audio"`` packets, described by ``StreamInfo.audio``; with
``audio=False`` no audio stream is demuxed at all) and puts every packet, as a
``CapturedPacket``, into every subscription (``fanout.py``: a slow consumer drops its own
packets, never stalls this thread). Any failure is classified (``policy.py``), shown in
the health snapshot and retried after a jittered backoff; wrong credentials are retried
slowly. A camera that goes silent is noticed by PyAV's read timeout: FFmpeg's H.264 parser
returns one held-back frame after the first timeout and the next read fails, so detection
takes ``2 x read_timeout`` (4 s by default). ``stop()`` cannot interrupt a read already in
progress (PyAV offers no external interrupt, and closing a container from another thread
is unsafe), so it waits for that read to return: at once on a live stream, at most
``read_timeout`` on a silent one, ``open_timeout`` while connecting. The URL's password
never reaches a log line, an error message or the health snapshot.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import av
from av.container import InputContainer

from nvr.capture.fanout import AudioInfo, CapturedPacket, StreamInfo, Subscription
from nvr.capture.health import RateMeter, StreamHealth
from nvr.capture.policy import (
    StreamEnded,
    Transport,
    attempts_after_session,
    classify_error,
    open_options,
    retry_delay,
)
from nvr.clock import Clock, SystemClock
from nvr.secrets import mask_url

log = logging.getLogger(__name__)


class StreamReader:
    """Reads one stream forever (until ``stop``); see the module docstring."""

    def __init__(
        self,
        name: str,
        url: str,
        *,
        transport: Transport = "tcp",
        clock: Clock | None = None,
        open_timeout: float = 5.0,
        read_timeout: float = 2.0,
        options: Mapping[str, str] | None = None,
        rng: random.Random | None = None,
        audio: bool = False,
    ) -> None:
        self.name = name
        self.audio = audio
        self._url = url
        self.url = mask_url(url)  # the only form that may be shown or logged
        self._options = open_options(transport, options)
        self._clock = clock or SystemClock()
        self._timeouts = (open_timeout, read_timeout)
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._subs: tuple[Subscription, ...] = ()
        self._meter = RateMeter()
        self._connections = 0  # successful opens: StreamInfo.session
        self._health = StreamHealth(
            name=name, url=self.url, state="connecting", since=self._clock.wall()
        )

    # --- the API used by the service --------------------------------------------------

    def subscribe(
        self, maxsize: int = 64, *, loop: asyncio.AbstractEventLoop | None = None
    ) -> Subscription:
        sub = Subscription(maxsize, loop)
        with self._lock:
            self._subs = (*self._subs, sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subs = tuple(s for s in self._subs if s is not sub)
        sub.close()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"stream reader {self.name!r} already started")
        self._thread = threading.Thread(target=self._run, name=f"capture-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> bool:
        """Stop reading and close every subscription. Returns whether the thread ended."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(max(self._timeouts) + 1.0 if timeout is None else timeout)
            if thread.is_alive():
                log.warning(
                    "capture %s: reader still blocked in FFmpeg; left to time out", self.name
                )
        with self._lock:
            subs, self._subs = self._subs, ()
        for sub in subs:
            sub.close()
        return thread is None or not thread.is_alive()

    def health(self) -> StreamHealth:
        with self._lock:
            health = self._health
            if health.state != "online":
                return health  # no rates for a stream that is not flowing
            fps, bitrate = self._meter.fps(), self._meter.bitrate()
        return replace(health, fps=fps, bitrate=bitrate)

    # --- the worker thread ------------------------------------------------------------

    def _set(self, **changes: Any) -> None:
        with self._lock:
            if "state" in changes and changes["state"] != self._health.state:
                changes["since"] = self._clock.wall()
            self._health = replace(self._health, **changes)

    def _run(self) -> None:
        attempt, ever_online = 0, False
        outage_since: float | None = None  # monotonic time the stream was last lost
        while not self._stop.is_set():
            progress = _Session()
            try:
                self._read_session(progress)
                if self._stop.is_set():
                    break
                raise StreamEnded
            except Exception as exc:
                if self._stop.is_set():
                    break
                ever_online = ever_online or progress.online_since is not None
                failure = classify_error(exc, ever_online=ever_online)
            now = self._clock.monotonic()
            online = progress.online_seconds(now)
            if progress.online_since is not None or outage_since is None:
                outage_since = now
            attempt = attempts_after_session(attempt, online)
            delay = retry_delay(failure, attempt, self._rng, now - outage_since)
            attempt += 1
            self._set(state=failure.state, last_error=failure.message)
            log.warning("capture %s: %s; retrying in %.1f s", self.name, failure.message, delay)
            if self._stop.wait(delay):
                break
            with self._lock:
                self._health = replace(self._health, reconnects=self._health.reconnects + 1)
        self._set(state="offline")

    def _read_session(self, progress: _Session) -> None:
        """Open, then demux until stopped or failed (raises on failure)."""
        container = av.open(self._url, "r", options=self._options, timeout=self._timeouts)
        self._connections += 1
        try:
            assert isinstance(container, InputContainer)
            if not container.streams.video:
                raise StreamEnded("the stream has no video track")
            stream = container.streams.video[0]
            ctx = stream.codec_context
            audio = self._audio_stream(container)
            info = StreamInfo(
                session=self._connections,
                codec=ctx.name,
                width=ctx.width,
                height=ctx.height,
                time_base=stream.time_base,
                extradata=ctx.extradata,
                audio=None if audio is None else audio[1],
            )
            streams: list[Any] = [stream] if audio is None else [stream, audio[0]]
            with self._lock:
                self._meter.reset()
            self._set(codec=info.codec, width=info.width, height=info.height)
            for packet in container.demux(streams):
                if self._stop.is_set():
                    return
                if packet.size == 0:
                    continue  # the demuxer's end-of-stream flush marker
                if packet.stream is stream:
                    # Set by FFmpeg from the first RTCP sender report (None until then).
                    realtime_us = container.start_time_realtime
                    self._deliver(progress, packet, info, realtime_us)
                elif progress.online_since is not None:  # audio, once video flows
                    self._deliver_audio(packet, info)
        finally:
            container.close()

    def _audio_stream(self, container: InputContainer) -> tuple[Any, AudioInfo] | None:
        """The stream to demux alongside the video: only with ``audio=True``, only AAC or
        PCM (G.711 and linear); anything else is left alone with a log line."""
        if not self.audio:
            return None
        if not container.streams.audio:
            log.info("capture %s: audio is on but the stream has no audio track", self.name)
            return None
        stream = container.streams.audio[0]
        ctx = stream.codec_context
        if ctx.name != "aac" and not ctx.name.startswith("pcm_"):
            log.warning("capture %s: audio codec %s not supported; video only", self.name, ctx.name)
            return None
        return stream, AudioInfo(
            codec=ctx.name,
            sample_rate=ctx.sample_rate,
            channels=ctx.channels,
            time_base=stream.time_base,
            extradata=ctx.extradata,
        )

    def _deliver_audio(self, packet: av.Packet[Any], info: StreamInfo) -> None:
        mono, wall = self._clock.monotonic(), self._clock.wall()
        with self._lock:
            self._health = replace(self._health, last_packet_at=wall)
            subs = self._subs
        item = CapturedPacket(packet, False, wall, mono, info, kind="audio")
        for sub in subs:
            sub.put(item)

    def _deliver(
        self,
        progress: _Session,
        packet: av.Packet[Any],
        info: StreamInfo,
        realtime_us: int | None = None,
    ) -> None:
        mono, wall = self._clock.monotonic(), self._clock.wall()
        if progress.online_since is None:
            progress.online_since = mono
            self._set(state="online", last_error=None)
            log.info(
                "capture %s: online (%s %dx%d)", self.name, info.codec, info.width, info.height
            )
        seconds = None
        if packet.pts is not None and packet.time_base is not None:
            seconds = float(packet.pts * packet.time_base)
        with self._lock:
            self._meter.add(seconds, packet.size)
            self._health = replace(
                self._health, packets=self._health.packets + 1, last_packet_at=wall
            )
            subs = self._subs
        item = CapturedPacket(
            packet,
            bool(packet.is_keyframe),
            wall,
            mono,
            info,
            camera_time=camera_time(realtime_us, packet),
        )
        for sub in subs:
            sub.put(item)


def camera_time(realtime_us: int | None, packet: av.Packet[Any]) -> datetime | None:
    """The camera's wall clock for ``packet``'s decode time: FFmpeg maps RTP timestamps
    onto the first RTCP sender report's NTP time, which it keeps (in µs since the Unix
    epoch) as the container's ``start_time_realtime``; pts/dts count from that instant."""
    ts = packet.dts if packet.dts is not None else packet.pts
    if realtime_us is None or ts is None or packet.time_base is None:
        return None
    try:
        return datetime.fromtimestamp(realtime_us / 1e6 + float(ts * packet.time_base), UTC)
    except (OverflowError, OSError, ValueError):
        return None  # a nonsense report (year 1900 or 10000): as if there were none


@dataclass
class _Session:
    """How far one connection got: the reconnect policy depends on it."""

    online_since: float | None = None  # monotonic time of its first packet

    def online_seconds(self, now: float) -> float:
        return 0.0 if self.online_since is None else now - self.online_since
