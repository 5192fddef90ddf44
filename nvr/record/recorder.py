"""The recorder: one camera stream's packets, passed through into encrypted fMP4 segments.

Contract::

    recorder = Recorder("front-door", reader.subscribe(256), store, clock,
                        segment_seconds=60, mode="continuous", on_gap=GapLog(sessions, clock))
    recorder.start()            # its own thread; never blocks
    recorder.trigger(at)        # events mode: record pre-roll .. at + post_roll (any thread)
    recorder.status()           # RecorderStatus snapshot (any thread)
    recorder.stop()             # closes the open segment at its last packet; joins

Per packet (docs/design/recording.md): timestamps are repaired (``timeline``), placed on
the wall clock, and — in ``continuous`` mode — written to the open segment; a segment
starts on a keyframe and is cut at the first keyframe once ``segment_seconds`` have
passed, so it joins the next one with no gap and no duplicate. In ``events`` mode packets
go through a RAM pre-roll (``preroll``) and are written only while a trigger is active.
``off`` records nothing. A new connection (``info.session`` changed) or ``gap_after``
seconds with no packet end the segment at its last packet and report an ``Outage``
through ``on_gap``; recording resumes with a new segment (and a new MP4 header, so a
codec or resolution change is fine) at the next keyframe. ``StorageFull`` pauses
recording for ``disk_full_pause`` seconds (an outage too). A wall-clock step of more
than ``CLOCK_JUMP_SECONDS`` against the monotonic clock (NTP, an owner setting the time)
is logged, counted in the status and reported through ``on_clock_jump(seconds)`` (the
service audits it as ``clock.jump``). Nothing here raises into the service: every
failure is logged, counted and recovered from at the next keyframe.

Audio (``kind="audio"`` packets, from a reader with ``audio=True``): AAC is copied into a
second track of each segment (``fmp4``), placed by its pts against the video's timeline;
it never opens, cuts or ends a segment (only video keyframes do), it goes through the
pre-roll ring with the video, and audio before a segment's first video frame is dropped.
PCM/G.711 cannot be stream-copied into MP4, so it is skipped with a one-time warning.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from nvr.capture import CapturedPacket, StreamInfo, Subscription, SubscriptionClosed
from nvr.clock import Clock
from nvr.record.fmp4 import SegmentMuxer, audio_recordable, parameter_sets
from nvr.record.gaps import Outage
from nvr.record.preroll import PreRoll
from nvr.record.timeline import (
    CLOCK_JUMP_SECONDS,
    REANCHOR_DRIFT,
    TickRepair,
    Ticks,
    WallAnchor,
    clock_jump,
)
from nvr.storage.segments import OpenSegment, SegmentRecord, SegmentStore, StorageFull

log = logging.getLogger(__name__)

RecordMode = Literal["continuous", "events", "off"]
RecorderState = Literal["idle", "recording", "outage", "paused", "stopped"]
ClockSource = Literal["arrival", "rtcp"]
# A camera whose RTCP clock is further than this from our arrival time is not believed
# (clocks hours off, or never set): its packets are placed by arrival time instead.
CAMERA_CLOCK_TRUST = 2.0  # seconds; latency alone is well under a second
POLL_SECONDS = 0.25


@dataclass(frozen=True)
class RecorderStatus:
    camera: str
    mode: RecordMode
    state: RecorderState
    segments: int  # closed by this recorder
    last_segment: SegmentRecord | None
    outage: Outage | None
    timestamp_repairs: int
    clock_jumps: int
    errors: int
    dropped: int  # packets the subscription dropped because the recorder fell behind
    clock_source: ClockSource = "arrival"  # what the current connection is anchored on
    camera_clock_offset_s: float | None = None  # camera's RTCP clock minus arrival time
    gaps: int = 0  # outages begun since the recorder started (reconnect, silence, disk)


@dataclass(frozen=True)
class _Item:
    cp: CapturedPacket
    ticks: Ticks
    wall: datetime
    end: datetime  # wall + one frame interval


@dataclass
class _Segment:
    open: OpenSegment
    muxer: SegmentMuxer
    start: datetime
    base_dts: int
    last_end: datetime
    audio_base: int = 0  # the audio pts (audio time base) at the segment's zero
    last_audio_pts: int | None = None


class Recorder:
    """Records one camera stream; see the module docstring."""

    def __init__(
        self,
        camera: str,
        subscription: Subscription,
        store: SegmentStore,
        clock: Clock,
        *,
        segment_seconds: float = 60.0,
        mode: RecordMode = "continuous",
        pre_roll: float = 5.0,
        post_roll: float = 10.0,
        on_gap: Callable[[Outage], object] | None = None,
        gap_after: float = 5.0,
        max_unsealed: float = 1.0,
        disk_full_pause: float = 30.0,
        on_clock_jump: Callable[[float], object] | None = None,
    ) -> None:
        if not 1.0 <= segment_seconds <= 3600.0:
            raise ValueError(f"segment_seconds must be 1..3600, got {segment_seconds}")
        if pre_roll < 0 or post_roll < 0:
            raise ValueError("pre_roll and post_roll must be >= 0")
        if mode not in ("continuous", "events", "off"):
            raise ValueError(f"unknown record mode {mode!r}")
        self.camera = camera
        self.mode: RecordMode = mode
        self._sub = subscription
        self._store = store
        self._clock = clock
        self._segment_length = timedelta(seconds=segment_seconds)
        self._post_roll = timedelta(seconds=post_roll)
        self._on_gap = on_gap
        self._on_clock_jump = on_clock_jump
        self._gap_after = gap_after
        self._max_unsealed = max_unsealed
        self._disk_full_pause = disk_full_pause
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._until: datetime | None = None  # events mode: record up to here
        # Recorder-thread state.
        self._info: StreamInfo | None = None
        self._repair: TickRepair | None = None
        self._anchor: WallAnchor | None = None
        self._prev: tuple[datetime, float] | None = None
        self._last_mono: float | None = None
        self._last_end: datetime | None = None  # end of the newest packet seen
        self._last_written_dts: int | None = None
        self._video_offset = 0  # repaired minus camera video dts: where audio lines up
        self._audio_warned = False
        self._clock_warned = False
        self._ring: PreRoll[_Item] = PreRoll(pre_roll)
        self._seg: _Segment | None = None
        self._outage: Outage | None = None
        self._outage_reported = False
        self._paused_until: float | None = None
        self._status = RecorderStatus(camera, mode, "idle", 0, None, None, 0, 0, 0, 0)
        # Monotonic time the thread last went round its loop (the watchdog's progress).
        self._beat: float | None = None

    # --- API ----------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"recorder {self.camera!r} already started")
        self._thread = threading.Thread(target=self._run, name=f"record-{self.camera}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Close the open segment and end the thread. Returns whether it ended."""
        self._stop.set()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def trigger(self, at: datetime | None = None) -> None:
        """Events mode: keep (or start) recording until ``at`` + post-roll; the segment
        begins with the pre-roll. ``at`` defaults to now. Any thread."""
        until = (at or self._clock.wall()) + self._post_roll
        with self._lock:
            if self._until is None or until > self._until:
                self._until = until

    def status(self) -> RecorderStatus:
        with self._lock:
            return replace(self._status, dropped=self._sub.dropped)

    def progress_age(self) -> float | None:
        """Seconds since the recording thread last went round its loop, which it does at
        least every ``POLL_SECONDS`` while it works, packets or not; a thread blocked in a
        write to a hung disk stops going round. ``None`` when it is not running (not
        started, stopped, or ended). Any thread (the service's watchdog, nvr.service.notify)."""
        thread = self._thread
        if thread is None or self._stop.is_set() or not thread.is_alive():
            return None
        beat = self._beat
        return 0.0 if beat is None else max(0.0, self._clock.monotonic() - beat)

    # --- the thread ---------------------------------------------------------------------

    def _set(self, **changes: object) -> None:
        with self._lock:
            self._status = replace(self._status, **changes)  # type: ignore[arg-type]

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._beat = self._clock.monotonic()
                try:
                    cp = self._sub.get(timeout=POLL_SECONDS)
                except SubscriptionClosed:
                    break
                except queue.Empty:
                    cp = None
                if self.mode == "off":
                    continue
                try:
                    if cp is None:
                        self._idle()
                    else:
                        self._packet(cp)
                except Exception:
                    log.exception(
                        "recorder %s: unexpected error; resuming at next keyframe", self.camera
                    )
                    self._set(errors=self._status.errors + 1)
                    self._close_segment()
        finally:
            self._close_segment()
            self._set(state="stopped")

    def _idle(self) -> None:
        seg = self._seg
        if seg is not None:
            seg.open.tick()
            seg.muxer.pad_if_stale(self._max_unsealed)
            if seg.muxer.failed is not None:
                self._write_failed(seg.muxer.failed, seg.last_end)
        silent = self._last_mono is not None and (
            self._clock.monotonic() - self._last_mono > self._gap_after
        )
        if silent and self._outage is None and self._last_end is not None:
            self._begin_outage(self._last_end, "no_packets")
            self._report(self._outage)

    def _packet(self, cp: CapturedPacket) -> None:
        if cp.kind == "audio":
            self._audio(cp)
            return
        info, mono = cp.info, cp.received_mono
        if self._prev is not None:
            jump = clock_jump(self._prev[0], self._prev[1], cp.received_at, mono)
            if abs(jump) > CLOCK_JUMP_SECONDS:
                log.warning("recorder %s: wall clock jumped by %+.1f s", self.camera, jump)
                self._set(clock_jumps=self._status.clock_jumps + 1)
                if self._on_clock_jump is not None:
                    try:
                        self._on_clock_jump(jump)
                    except Exception:
                        log.exception("recorder %s: could not record the clock jump", self.camera)
        self._prev = (cp.received_at, mono)
        self._last_mono = mono
        if self._info is None or info.session != self._info.session:
            if self._info is not None and self._last_end is not None and self._outage is None:
                self._begin_outage(self._last_end, "reconnect")
            self._new_connection(info)
        repair = self._repair
        assert repair is not None
        pkt = cp.packet
        if repair.last_dts is None and (not cp.keyframe or pkt.pts is None):
            return  # a connection's footage starts at its first keyframe with a timestamp
        ticks = self._fix(repair, pkt.pts, pkt.dts)
        if pkt.dts is not None:
            self._video_offset = ticks.dts - pkt.dts
        if self._anchor is None:
            self._anchor = WallAnchor(repair.time_base, self._wall_of(cp), ticks.dts)
        wall = self._anchor.at(ticks.dts)
        item = _Item(
            cp, ticks, wall, wall + timedelta(seconds=float(repair.step * repair.time_base))
        )
        self._last_end = item.end
        if self._paused_until is not None:
            if mono < self._paused_until:
                return
            self._paused_until = None
        if self._outage is not None:
            if not cp.keyframe:
                return
            item = self._reanchored(item)  # a frozen camera's media time ran on without us
            self._last_end = item.end
            self._report(replace(self._outage, end=item.wall))
            self._outage = None
            self._set(outage=None, state="idle")
        if self.mode == "continuous":
            self._continuous(item)
        else:
            self._events(item)

    def _audio(self, cp: CapturedPacket) -> None:
        """An audio packet: placed on the video's timeline, then written (or kept in the
        pre-roll) only alongside video: it never opens or cuts a segment."""
        info = self._info
        if (
            info is None
            or cp.info.session != info.session
            or self._anchor is None
            or self._repair is None
            or self._paused_until is not None
            or self._outage is not None
        ):
            return
        pts = cp.packet.pts
        if pts is None:
            return
        if not audio_recordable(info):
            if not self._audio_warned and info.audio is not None:
                self._audio_warned = True
                log.warning(
                    "recorder %s: %s audio cannot be copied into MP4; recording video only",
                    self.camera,
                    info.audio.codec,
                )
            return
        assert info.audio is not None
        assert info.audio.time_base is not None
        pkt, audio_tb, video_tb = cp.packet, info.audio.time_base, self._repair.time_base
        ticks = round(pts * audio_tb / video_tb) + self._video_offset
        wall = self._anchor.at(ticks)
        length = float(pkt.duration * audio_tb) if pkt.duration else 0.0
        item = _Item(cp, Ticks(ticks, ticks), wall, wall + timedelta(seconds=length))
        if self.mode == "events":
            self._ring.add(item, False, item.wall)
        if self._seg is not None:
            self._write(item)

    def _fix(self, repair: TickRepair, pts: int | None, dts: int | None) -> Ticks:
        before = repair.repairs
        ticks = repair.fix(pts, dts)
        if repair.repairs != before:
            log.info("recorder %s: non-monotonic timestamp repaired", self.camera)
            self._set(timestamp_repairs=self._status.timestamp_repairs + 1)
        return ticks

    def _new_connection(self, info: StreamInfo) -> None:
        self._info = info
        self._repair = TickRepair(info.time_base) if info.time_base is not None else None
        if self._repair is None:
            raise ValueError("stream without a time base")
        self._anchor = None
        self._last_written_dts = None
        self._ring.clear()

    def _begin_outage(self, start: datetime, reason: str) -> None:
        self._close_segment()
        self._outage = Outage(self.camera, start, None, reason)
        self._outage_reported = False
        self._set(
            outage=self._outage,
            state="paused" if reason == "disk_full" else "outage",
            gaps=self._status.gaps + 1,
        )
        log.warning("recorder %s: footage interrupted (%s)", self.camera, reason)

    def _report(self, outage: Outage | None) -> None:
        if outage is None or self._on_gap is None:
            return
        if outage.end is None:
            if self._outage_reported:
                return
            self._outage_reported = True
        try:
            self._on_gap(outage)
        except Exception:
            log.exception("recorder %s: could not record the gap", self.camera)

    # --- modes --------------------------------------------------------------------------

    def _continuous(self, item: _Item) -> None:
        seg = self._seg
        if seg is not None and item.cp.keyframe and item.wall - seg.start >= self._segment_length:
            self._close_segment(item.wall)
            seg = None
        if seg is None and not (item.cp.keyframe and self._open(item)):
            return
        self._write(item)

    def _events(self, item: _Item) -> None:
        self._ring.add(item, item.cp.keyframe, item.wall)
        with self._lock:
            until = self._until
        active = until is not None and item.wall <= until
        seg = self._seg
        if seg is not None:
            long = item.wall - seg.start >= self._segment_length
            if not (item.cp.keyframe and (long or not active)):
                self._write(item)
                return
            # End at a keyframe, so a later pre-roll starting here joins without overlap.
            self._close_segment(item.wall)
        if not active:
            return
        last = self._last_written_dts
        pending = [i for i in self._ring.items() if last is None or i.ticks.dts > last]
        while pending and not pending[0].cp.keyframe:
            pending.pop(0)
        if not pending or not self._open(pending[0]):
            return
        for queued in pending:
            self._write(queued)

    # --- segments -----------------------------------------------------------------------

    def _reanchored(self, item: _Item) -> _Item:
        """At a segment start: follow the wall clock again if the stream drifted off it."""
        assert self._anchor is not None
        wall = self._wall_of(item.cp)
        drift = self._anchor.drift(item.ticks.dts, wall)
        if abs(drift) <= REANCHOR_DRIFT:
            return item
        log.warning(
            "recorder %s: stream time is %+.1f s off the wall clock; re-anchored",
            self.camera,
            drift,
        )
        self._anchor = WallAnchor(self._anchor.time_base, wall, item.ticks.dts)
        return replace(item, wall=wall, end=wall + (item.end - item.wall))

    def _wall_of(self, cp: CapturedPacket) -> datetime:
        """Where to (re)anchor the timeline at this packet: the camera's capture time from
        its RTCP reports when its clock agrees with ours within ``CAMERA_CLOCK_TRUST``
        (that removes the network and buffering latency from footage times), else the
        arrival time. A camera clock that is off is logged once and shown in health."""
        camera_time = cp.camera_time
        if camera_time is None:
            self._set(clock_source="arrival", camera_clock_offset_s=None)
            return cp.received_at
        offset = (camera_time - cp.received_at).total_seconds()
        trusted = abs(offset) <= CAMERA_CLOCK_TRUST
        self._set(clock_source="rtcp" if trusted else "arrival", camera_clock_offset_s=offset)
        if trusted:
            return camera_time
        if not self._clock_warned:
            self._clock_warned = True
            log.warning(
                "recorder %s: the camera's clock is %+.0f s off this box's; footage is "
                "timed by arrival instead",
                self.camera,
                offset,
            )
        return cp.received_at

    def _open(self, item: _Item) -> bool:
        assert self._anchor is not None
        assert self._info is not None
        item = self._reanchored(item)
        info = self._info
        extradata = info.extradata or parameter_sets(info.codec, bytes(item.cp.packet))
        try:
            segment = self._store.open_segment(self.camera, item.wall)
        except Exception as exc:
            self._failed("cannot open a segment", exc, item)
            return False
        try:
            muxer = SegmentMuxer(
                segment,
                info,
                extradata=extradata,
                metadata={
                    "creation_time": item.wall.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                    "comment": f"porchlight camera={self.camera}",
                },
            )
        except Exception as exc:
            if not isinstance(exc, StorageFull):
                segment.close(item.wall)
            self._failed("cannot start the MP4", exc, item)
            return False
        audio_base = 0
        if muxer.audio and info.audio is not None and info.audio.time_base is not None:
            zero = (item.ticks.dts - self._video_offset) * self._anchor.time_base
            audio_base = round(zero / info.audio.time_base)
        self._seg = _Segment(segment, muxer, item.wall, item.ticks.dts, item.wall, audio_base)
        self._set(state="recording")
        return True

    def _write(self, item: _Item) -> None:
        seg = self._seg
        assert seg is not None
        if item.cp.kind == "audio":
            self._write_audio(seg, item)
            return
        pkt, ticks = item.cp.packet, item.ticks
        try:
            seg.muxer.write(
                pkt, ticks.pts - seg.base_dts, ticks.dts - seg.base_dts, item.cp.keyframe
            )
        except Exception as exc:
            if seg.muxer.failed is not None:
                self._write_failed(seg.muxer.failed, seg.last_end)
                return
            # FFmpeg refused this packet (corrupt, or timestamps it would not take): skip it.
            log.warning("recorder %s: packet not written: %s", self.camera, exc)
            self._set(errors=self._status.errors + 1)
            return
        seg.last_end = item.end
        self._last_written_dts = ticks.dts
        seg.muxer.pad_if_stale(self._max_unsealed)
        if seg.muxer.failed is not None:
            self._write_failed(seg.muxer.failed, seg.last_end)

    def _write_audio(self, seg: _Segment, item: _Item) -> None:
        pts = item.cp.packet.pts
        if not seg.muxer.audio or pts is None:
            return
        pts -= seg.audio_base
        if pts < 0 or (seg.last_audio_pts is not None and pts <= seg.last_audio_pts):
            return  # before the segment's first video frame, or already written
        try:
            seg.muxer.write_audio(item.cp.packet, pts)
        except Exception as exc:
            if seg.muxer.failed is not None:
                self._write_failed(seg.muxer.failed, seg.last_end)
                return
            log.warning("recorder %s: audio packet not written: %s", self.camera, exc)
            self._set(errors=self._status.errors + 1)
            return
        seg.last_audio_pts = pts

    def _write_failed(self, exc: BaseException, last_end: datetime) -> None:
        """The store refused footage: a full disk (the store already ended the segment as
        truncated) or an I/O error. End the segment, pause, report the outage."""
        self._close_segment()
        log.error("recorder %s: cannot write footage: %s", self.camera, exc)
        self._set(errors=self._status.errors + 1)
        self._pause(last_end, "disk_full" if isinstance(exc, StorageFull) else "error")

    def _failed(self, what: str, exc: BaseException, item: _Item) -> None:
        log.error("recorder %s: %s: %s", self.camera, what, exc)
        self._set(errors=self._status.errors + 1)
        self._pause(item.wall, "disk_full" if isinstance(exc, StorageFull) else "error")

    def _pause(self, start: datetime, reason: str) -> None:
        now = self._clock.monotonic() if self._last_mono is None else self._last_mono
        self._paused_until = now + self._disk_full_pause  # compared with packet times
        self._begin_outage(start, reason)
        self._report(self._outage)

    def _close_segment(self, end: datetime | None = None) -> None:
        seg, self._seg = self._seg, None
        if seg is None:
            return
        seg.muxer.close()
        if isinstance(seg.muxer.failed, StorageFull):
            return  # the store already ended it as truncated
        try:
            record = seg.open.close(end or seg.last_end)
        except Exception:
            log.exception("recorder %s: could not close segment %d", self.camera, seg.open.id)
            self._set(errors=self._status.errors + 1)
            return
        self._set(segments=self._status.segments + 1, last_segment=record, state="idle")
