"""The cameras the service reads: one ``StreamReader`` per configured stream, plus the
built-in demo doorbell when it runs. Start, stop, and status snapshots."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import nvr
from nvr.camera_identity import DeviceIdentity
from nvr.capture import StreamReader
from nvr.capture.policy import Failure, StreamState, retry_delay
from nvr.clock import Clock
from nvr.config import CameraConfig, Config
from nvr.config.cameras import MotionConfig, with_userinfo
from nvr.record.gaps import GapLog
from nvr.record.recorder import Recorder, RecordMode
from nvr.service.status import CameraStatus, MotionHealth
from nvr.storage.segments import SegmentStore

if TYPE_CHECKING:
    # Imported where used instead: the demo pulls in OpenCV and NumPy, ONVIF pulls in
    # zeep, lxml and aiohttp (tens of MB of RSS together), and a service with neither
    # the demo nor an ONVIF camera should not pay for them (tests/test_imports.py).
    # Motion pulls in NumPy and OpenCV too: only when some camera detects motion.
    from nvr.demo.rtsp_server import DemoDoorbell
    from nvr.motion.worker import MotionSink, MotionWorker
    from nvr.onvif.events import OnEvent

log = logging.getLogger(__name__)

DEMO_CAMERA = "demo-doorbell"
ONVIF_TIMEOUT = 8.0
CLOCK_OFFSET_WARN = 60.0  # seconds
RECORDER_QUEUE = 512  # packets; ~30 s of a 15 fps stream if the disk stalls


# Where the identity a camera reports goes (the runner: a ``camera.device`` audit entry
# when new or changed, nvr/camera_identity.py). Called on a worker thread.
OnDevice = Callable[[str, DeviceIdentity], None]
# A recorder saw this box's wall clock step (camera, seconds): the runner audits it.
OnClockJump = Callable[[str, float], None]

DEMO_IDENTITY = DeviceIdentity(
    manufacturer="Porchlight",
    model="demo doorbell (synthetic scene, not a camera)",
    firmware=nvr.__version__,
    serial="",
    source="demo",
)


def camera_names(cfg: Config, demo: bool) -> list[str]:
    return [c.name for c in cfg.cameras] + ([DEMO_CAMERA] if demo else [])


class CameraSet:
    """Readers for every camera, and a recorder for each one that records, once a
    ``recording`` (store + gap log) is given: without owner keys nothing is recorded."""

    def __init__(
        self,
        cfg: Config,
        clock: Clock,
        *,
        demo: bool,
        on_event: OnEvent | None = None,
        motion: MotionSink | None = None,
        on_device: OnDevice | None = None,
        on_clock_jump: OnClockJump | None = None,
    ) -> None:
        self._cfg = cfg
        self._on_clock_jump = on_clock_jump
        self._on_device = on_device
        self._on_event = on_event
        self._motion_sink = motion
        self._workers: dict[str, MotionWorker] = {}
        self._sub_readers: dict[str, StreamReader] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._clock = clock
        self._demo_wanted = demo
        self._demo: DemoDoorbell | None = None
        self._readers: list[tuple[StreamReader, bool]] = []
        self._recorders: dict[str, Recorder] = {}
        self._unsupported: list[CameraStatus] = []
        # Hot changes (first run, the cameras API): what records once keys exist, and the
        # task of each ONVIF camera by name so a removed one can be cancelled.
        self._recording: tuple[SegmentStore, GapLog] | None = None
        self._onvif_tasks: dict[str, asyncio.Task[None]] = {}

    async def start(self, recording: tuple[SegmentStore, GapLog] | None) -> None:
        self._recording = recording
        modes: dict[str, RecordMode] = {c.name: c.record for c in self._cfg.cameras}
        if self._demo_wanted:
            from nvr.demo.rtsp_server import DemoDoorbell

            self._demo = DemoDoorbell(scene=self._cfg.demo.scene_name())
            await self._demo.start()
            modes[DEMO_CAMERA] = "continuous"
            demo_reader = self._add(DEMO_CAMERA, self._demo.url, "tcp", is_demo=True)
            # The demo's visitors are what motion detection is for: on, default settings.
            self._motion_for(DEMO_CAMERA, MotionConfig(), demo_reader, None, "tcp")
            log.info("demo doorbell running", extra={"camera": DEMO_CAMERA})
            await self._report_device(DEMO_CAMERA, DEMO_IDENTITY)
        for cam in self._cfg.cameras:
            url = cam.stream_url("main")
            if url is None:
                # ONVIF camera: ask it for its streams (and follow its events) in a task
                # that keeps trying while the camera is away; see _onvif_camera.
                task = asyncio.create_task(self._onvif_camera(cam, recording))
                self._tasks.append(task)
                self._onvif_tasks[cam.name] = task
                continue
            reader = self._add(cam.name, url, cam.transport, is_demo=False, audio=cam.audio)
            self._motion_for(cam.name, cam.motion, reader, cam.stream_url("sub"), cam.transport)
        for reader, _ in self._readers:
            self._recorder_for(reader, modes.get(reader.name, "continuous"), recording)
        for recorder in self._recorders.values():
            recorder.start()
        for worker in self._workers.values():
            worker.start()
        for reader in [*self._sub_readers.values(), *(r for r, _ in self._readers)]:
            reader.start()

    def _clock_jump_hook(self, camera: str) -> Callable[[float], None] | None:
        hook = self._on_clock_jump
        if hook is None:
            return None
        return lambda seconds: hook(camera, seconds)

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
            on_clock_jump=self._clock_jump_hook(reader.name),
        )
        self._recorders[reader.name] = recorder
        return recorder

    def _motion_for(
        self,
        name: str,
        motion: MotionConfig,
        main: StreamReader,
        sub_url: str | None,
        transport: Literal["tcp", "udp"],
    ) -> MotionWorker | None:
        """A motion worker for camera ``name`` (not started), reading its sub-stream with a
        reader of its own when it has one, else the main stream's reader. None when
        motion is off: then nothing is decoded for the camera."""
        if not motion.enabled:
            return None
        from nvr.motion.detector import DetectorSettings
        from nvr.motion.events import EventRules
        from nvr.motion.worker import WORKER_QUEUE, MotionWorker

        source = main
        if sub_url is not None:
            source = StreamReader(f"{name}/sub", sub_url, transport=transport, clock=self._clock)
            self._sub_readers[name] = source
        worker = MotionWorker(
            name,
            source.subscribe(WORKER_QUEUE),
            DetectorSettings.from_config(motion),
            EventRules.from_config(motion),
            self._clock,
            self,
        )
        self._workers[name] = worker
        return worker

    async def _onvif_camera(
        self, cam: CameraConfig, recording: tuple[SegmentStore, GapLog] | None
    ) -> None:
        """Resolve an ONVIF camera's stream (retrying while it is unreachable), start its
        reader and recorder, then keep its event subscription alive until stopped."""
        from nvr.onvif import EventSubscription, OnvifAuthFailed, OnvifError, probe_device

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
                # What it says it is, as soon as it has said it (even with no stream yet).
                await self._report_device(
                    cam.name,
                    DeviceIdentity(
                        device.manufacturer,
                        device.model,
                        device.firmware,
                        device.serial,
                        "onvif",
                    ),
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
        # Keys made while the camera was being probed: record with them (enable_recording).
        recorder = self._recorder_for(reader, cam.record, recording or self._recording)
        if recorder is not None:
            recorder.start()
        sub = device.sub.uri if device.sub is not None else None
        sub_url = None if sub is None else with_userinfo(sub, onvif.username, password)
        worker = self._motion_for(cam.name, cam.motion, reader, sub_url, cam.transport)
        if worker is not None:
            worker.start()
        if cam.name in self._sub_readers:
            self._sub_readers[cam.name].start()
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

    async def _report_device(self, camera: str, identity: DeviceIdentity) -> None:
        """Hand ``identity`` to ``on_device`` (database work: on a thread). A failure is
        logged, never fatal to the camera."""
        if self._on_device is None:
            return
        try:
            await asyncio.to_thread(self._on_device, camera, identity)
        except Exception:
            log.exception("could not record the device information of camera %s", camera)

    # --- changes while running (docs/design/first-run.md) -------------------------------

    def enable_recording(self, recording: tuple[SegmentStore, GapLog]) -> list[str]:
        """Owner keys were just made: create and start a recorder for every running camera
        that records and has none (cameras started with ``recording=None``); ONVIF cameras
        still being probed pick ``recording`` up when they connect. Returns the cameras
        that started recording. On the event loop."""
        self._recording = recording
        modes: dict[str, RecordMode] = {c.name: c.record for c in self._cfg.cameras}
        modes[DEMO_CAMERA] = "continuous"
        started = []
        for reader, _ in self._readers:
            if reader.name in self._recorders:
                continue
            recorder = self._recorder_for(reader, modes.get(reader.name, "continuous"), recording)
            if recorder is not None:
                recorder.start()
                started.append(reader.name)
        return started

    def has_camera(self, name: str) -> bool:
        return name in self._onvif_tasks or any(r.name == name for r, _ in self._readers)

    def names(self) -> list[str]:
        """The cameras running now (streaming or still being resolved), in start order:
        follows add_camera/remove_camera."""
        running = [r.name for r, _ in self._readers]
        return [*running, *(n for n in self._onvif_tasks if n not in running)]

    async def add_camera(self, cam: CameraConfig) -> None:
        """Start a camera added to the config while running: its reader, motion worker and
        (once keys exist) recorder, or its ONVIF task. On the event loop."""
        if self.has_camera(cam.name):
            raise ValueError(f"camera {cam.name!r} is already running")
        others = [c for c in self._cfg.cameras if c.name != cam.name]
        self._cfg = self._cfg.model_copy(update={"cameras": [*others, cam]})
        url = cam.stream_url("main")
        if url is None:
            task = asyncio.create_task(self._onvif_camera(cam, self._recording))
            self._tasks.append(task)
            self._onvif_tasks[cam.name] = task
            return
        reader = self._add(cam.name, url, cam.transport, is_demo=False, audio=cam.audio)
        worker = self._motion_for(
            cam.name, cam.motion, reader, cam.stream_url("sub"), cam.transport
        )
        recorder = self._recorder_for(reader, cam.record, self._recording)
        if recorder is not None:
            recorder.start()
        if worker is not None:
            worker.start()
        if cam.name in self._sub_readers:
            self._sub_readers[cam.name].start()
        reader.start()
        log.info("camera added", extra={"camera": cam.name})

    async def remove_camera(self, name: str) -> bool:
        """Stop a camera cleanly (readers first, then its recorder closes its segment and
        its motion worker ends any open event); its recorded footage stays. Whether it
        was running. On the event loop."""
        found = False
        task = self._onvif_tasks.pop(name, None)
        if task is not None:
            found = True
            task.cancel()  # an ONVIF subscription sends Unsubscribe when cancelled
            await asyncio.gather(task, return_exceptions=True)
            self._tasks.remove(task)
        self._unsupported[:] = [s for s in self._unsupported if s.name != name]
        readers = [r for r, _ in self._readers if r.name == name]
        self._readers = [(r, demo) for r, demo in self._readers if r.name != name]
        sub = self._sub_readers.pop(name, None)
        if sub is not None:
            readers.append(sub)
        await asyncio.gather(*(asyncio.to_thread(r.stop) for r in readers))
        worker = self._workers.pop(name, None)
        recorder = self._recorders.pop(name, None)
        await asyncio.gather(
            *(asyncio.to_thread(w.stop) for w in (worker,) if w is not None),
            *(asyncio.to_thread(r.stop) for r in (recorder,) if r is not None),
        )
        self._cfg = self._cfg.model_copy(
            update={"cameras": [c for c in self._cfg.cameras if c.name != name]}
        )
        found = found or bool(readers)
        if found:
            log.info("camera removed", extra={"camera": name})
        return found

    def live_source(self, name: str) -> StreamReader | None:
        """The main-stream reader of camera ``name`` for live view (``nvr.live``), or None
        when there is none (yet: an ONVIF camera still being resolved)."""
        for reader, _ in self._readers:
            if reader.name == name:
                return reader
        return None

    def trigger(self, camera: str, at: datetime | None = None) -> None:
        """An event on ``camera`` at ``at`` (default now): an ``events``-mode recorder
        records around it. Any thread."""
        recorder = self._recorders.get(camera)
        if recorder is not None:
            recorder.trigger(at or self._clock.wall())

    # --- MotionSink for the workers (their threads): record around motion, pass it on --

    def on_start(self, camera: str, when: datetime) -> None:
        self.trigger(camera, when)  # the recorder's pre-roll covers the frames before
        if self._motion_sink is not None:
            self._motion_sink.on_start(camera, when)

    def on_motion(self, camera: str, when: datetime) -> None:
        self.trigger(camera, when)  # each motion frame moves the post-roll on
        if self._motion_sink is not None:
            self._motion_sink.on_motion(camera, when)

    def on_end(self, camera: str, details: dict[str, Any], thumbnail: bytes | None) -> None:
        self.trigger(camera, details["end"])
        if self._motion_sink is not None:
            self._motion_sink.on_end(camera, details, thumbnail)

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
        readers = [*(r for r, _ in self._readers), *self._sub_readers.values()]
        await asyncio.gather(*(asyncio.to_thread(r.stop) for r in readers))
        # Readers first: the recorders then drain what was read and close their segments,
        # and the motion workers end (and report) any open event.
        await asyncio.gather(
            *(asyncio.to_thread(w.stop) for w in self._workers.values()),
            *(asyncio.to_thread(r.stop) for r in self._recorders.values()),
        )
        if self._demo is not None:
            await self._demo.stop()

    def stalled(self, limit: float) -> list[str]:
        """The recorders whose thread has not gone round its loop for more than ``limit``
        seconds (blocked writing to a hung disk, or deadlocked), as ``recorder <camera>``:
        the watchdog's test (nvr.service.notify). A camera that is offline is not stalled:
        its recorder keeps going round, in an outage. On the event loop."""
        out = []
        for name, recorder in self._recorders.items():
            age = recorder.progress_age()
            if age is not None and age > limit:
                out.append(f"recorder {name}")
        return out

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
                    gaps=rec_status.gaps if rec_status is not None else 0,
                    dropped=rec_status.dropped if rec_status is not None else 0,
                    clock=rec_status.clock_source if rec_status is not None else None,
                    camera_clock_offset_s=(
                        None if rec_status is None else rec_status.camera_clock_offset_s
                    ),
                    motion=self._motion_health(h.name),
                )
            )
        return out + self._unsupported

    def _motion_health(self, camera: str) -> MotionHealth:
        worker = self._workers.get(camera)
        if worker is None:
            return MotionHealth()
        m = worker.status()
        sub = self._sub_readers.get(camera)
        sub_health = sub.health() if sub is not None else None
        return MotionHealth(
            state=m.state,
            stream="main" if sub_health is None else "sub",
            sub_state=None if sub_health is None else sub_health.state,
            sub_error=None if sub_health is None else sub_health.last_error,
            fps=m.fps,
            decode_errors=m.decode_errors,
            dropped=m.dropped + m.skipped,
            events=m.events,
            last_event_at=m.last_event_at,
        )
