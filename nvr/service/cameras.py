"""The cameras the service reads: one ``StreamReader`` per configured stream, plus the
built-in demo doorbell when it runs. Start, stop, and status snapshots."""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Literal

from nvr.capture import StreamReader
from nvr.capture.policy import Failure, StreamState, retry_delay
from nvr.clock import Clock
from nvr.config import CameraConfig, Config
from nvr.config.cameras import with_userinfo
from nvr.demo.rtsp_server import DemoDoorbell
from nvr.onvif import EventSubscription, OnvifAuthFailed, OnvifError, probe_device
from nvr.onvif.events import OnEvent
from nvr.record.gaps import GapLog
from nvr.record.recorder import Recorder, RecordMode
from nvr.service.status import CameraStatus
from nvr.storage.segments import SegmentStore

log = logging.getLogger(__name__)

DEMO_CAMERA = "demo-doorbell"
ONVIF_TIMEOUT = 8.0
CLOCK_OFFSET_WARN = 60.0  # seconds
RECORDER_QUEUE = 512  # packets; ~30 s of a 15 fps stream if the disk stalls


def camera_names(cfg: Config, demo: bool) -> list[str]:
    return [c.name for c in cfg.cameras] + ([DEMO_CAMERA] if demo else [])


class CameraSet:
    """Readers for every camera, and a recorder for each one that records, once a
    ``recording`` (store + gap log) is given: without owner keys nothing is recorded."""

    def __init__(
        self, cfg: Config, clock: Clock, *, demo: bool, on_event: OnEvent | None = None
    ) -> None:
        self._cfg = cfg
        self._on_event = on_event
        self._tasks: list[asyncio.Task[None]] = []
        self._clock = clock
        self._demo_wanted = demo
        self._demo: DemoDoorbell | None = None
        self._readers: list[tuple[StreamReader, bool]] = []
        self._recorders: dict[str, Recorder] = {}
        self._unsupported: list[CameraStatus] = []

    async def start(self, recording: tuple[SegmentStore, GapLog] | None) -> None:
        modes: dict[str, RecordMode] = {c.name: c.record for c in self._cfg.cameras}
        if self._demo_wanted:
            self._demo = DemoDoorbell()
            await self._demo.start()
            modes[DEMO_CAMERA] = "continuous"
            self._add(DEMO_CAMERA, self._demo.url, "tcp", is_demo=True)
            log.info("demo doorbell running", extra={"camera": DEMO_CAMERA})
        for cam in self._cfg.cameras:
            url = cam.stream_url("main")
            if url is None:
                # ONVIF camera: ask it for its streams (and follow its events) in a task
                # that keeps trying while the camera is away; see _onvif_camera.
                self._tasks.append(asyncio.create_task(self._onvif_camera(cam, recording)))
                continue
            self._add(cam.name, url, cam.transport, is_demo=False, audio=cam.audio)
        for reader, _ in self._readers:
            self._recorder_for(reader, modes.get(reader.name, "continuous"), recording)
        for recorder in self._recorders.values():
            recorder.start()
        for reader, _ in self._readers:
            reader.start()

    def _recorder_for(
        self,
        reader: StreamReader,
        mode: RecordMode,
        recording: tuple[SegmentStore, GapLog] | None,
    ) -> Recorder | None:
        if recording is None or mode == "off":
            return None
        store, gap_log = recording
        recorder = Recorder(
            reader.name,
            reader.subscribe(RECORDER_QUEUE),
            store,
            self._clock,
            segment_seconds=self._cfg.storage.segment_seconds,
            mode=mode,
            on_gap=gap_log,
        )
        self._recorders[reader.name] = recorder
        return recorder

    async def _onvif_camera(
        self, cam: CameraConfig, recording: tuple[SegmentStore, GapLog] | None
    ) -> None:
        """Resolve an ONVIF camera's stream (retrying while it is unreachable), start its
        reader and recorder, then keep its event subscription alive until stopped."""
        assert cam.onvif is not None
        onvif = cam.onvif
        password = onvif.password.reveal() if onvif.password is not None else None
        pending = CameraStatus(name=cam.name, state="connecting")
        self._unsupported.append(pending)
        attempt = 0
        while True:
            try:
                device = await probe_device(
                    onvif.host, onvif.port, onvif.username, password, timeout=ONVIF_TIMEOUT
                )
                if device.main is None or device.main.uri is None:
                    raise OnvifError("the camera reports no RTSP stream")
                break
            except OnvifError as exc:
                state: StreamState = (
                    "auth_failed" if isinstance(exc, OnvifAuthFailed) else "unreachable"
                )
                failure = Failure(state, f"ONVIF: {exc.message}", slow_retry=state == "auth_failed")
                self._unsupported[self._unsupported.index(pending)] = pending = CameraStatus(
                    name=cam.name, state=state, last_error=failure.message
                )
                delay = retry_delay(failure, attempt, random.Random())  # noqa: S311
                attempt += 1
                log.warning("ONVIF camera %s: %s; retrying in %.0f s", cam.name, exc.message, delay)
                await asyncio.sleep(delay)
        self._unsupported.remove(pending)
        url = with_userinfo(device.main.uri, onvif.username, password)
        reader = self._add(cam.name, url, cam.transport, is_demo=False, audio=cam.audio)
        recorder = self._recorder_for(reader, cam.record, recording)
        if recorder is not None:
            recorder.start()
        reader.start()
        log.info(
            "ONVIF camera %s: %s %s, firmware %s",
            cam.name,
            device.manufacturer,
            device.model,
            device.firmware,
        )
        offset = device.clock_offset_s
        if offset is not None and abs(offset) > CLOCK_OFFSET_WARN:
            # Footage times come from this box's clock, not the camera's; an off clock only
            # matters for the camera's own overlay and its event times (docs/design/onvif.md).
            log.warning("ONVIF camera %s: its clock is %.0f s off this box's", cam.name, offset)
        if device.events_supported and self._on_event is not None:
            subscription = EventSubscription(
                cam.name,
                onvif.host,
                onvif.port,
                onvif.username,
                password,
                on_event=self._on_event,
                clock=self._clock,
            )
            await subscription.run()

    def trigger(self, camera: str) -> None:
        """An event on ``camera``: an ``events``-mode recorder records around it."""
        recorder = self._recorders.get(camera)
        if recorder is not None:
            recorder.trigger(self._clock.wall())

    def _add(
        self,
        name: str,
        url: str,
        transport: Literal["tcp", "udp"],
        *,
        is_demo: bool,
        audio: bool = False,
    ) -> StreamReader:
        reader = StreamReader(name, url, transport=transport, clock=self._clock, audio=audio)
        self._readers.append((reader, is_demo))
        return reader

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()  # an ONVIF subscription sends Unsubscribe when cancelled
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(asyncio.to_thread(r.stop) for r, _ in self._readers))
        # Readers first: the recorders then drain what was read and close their segments.
        await asyncio.gather(*(asyncio.to_thread(r.stop) for r in self._recorders.values()))
        if self._demo is not None:
            await self._demo.stop()

    def statuses(self) -> list[CameraStatus]:
        out = []
        for reader, is_demo in self._readers:
            h = reader.health()
            rec = self._recorders.get(h.name)
            rec_status = rec.status() if rec is not None else None
            out.append(
                CameraStatus(
                    name=h.name,
                    state=h.state,
                    demo=is_demo,
                    codec=h.codec,
                    width=h.width,
                    height=h.height,
                    fps=None if h.fps is None else round(h.fps, 2),
                    bitrate_kbps=None if h.bitrate is None else round(h.bitrate / 1000, 1),
                    packets=h.packets,
                    last_packet_at=h.last_packet_at,
                    reconnects=h.reconnects,
                    last_error=h.last_error,
                    recording=rec_status.state if rec_status is not None else "off",
                    segments=rec_status.segments if rec_status is not None else 0,
                )
            )
        return out + self._unsupported
