"""``nvr bench motion``: what motion detection costs per camera, and how many cameras fit.

Three figures, each from the code the live cameras run (``nvr.motion.frames`` and
``nvr.motion.detector`` with the default motion settings):

1. **Detector per analysed frame, decode excluded.** The "visitor" demo scene (someone
   walks up, stands at the door, leaves) is rendered at the sub-stream size
   (``width`` x ``height``, default 640x360), turned into yuv420p frames and reduced with
   ``luma`` to the analysis height (default 180: 320x180) *before* timing. Then a fresh
   ``Detector`` processes the frames in order, ``passes`` times over; each
   ``Detector.process`` call is timed with ``time.perf_counter_ns`` (garbage collector
   off while timing). Median, p90 and mean in µs; target: median <= 150 µs.
2. **Decode per camera.** The same scene plus sensor noise (``NoisyScene``), encoded once
   with ``nvr.demo.encode`` at the sub-stream size and ``source_fps`` (15), is demuxed
   into packets up front (the live worker gets packets from the camera's reader, which
   demuxes for the recorder anyway), then decoded as the live worker does: one
   ``CodecContext`` from the stream's codec and extradata, its ``skip_frame`` as the
   worker sets it, every packet decoded; ``RateGate`` at the analysis rate (5 fps) picks
   the frames that go through ``luma`` (Y plane + resize). CPU time
   (``time.process_time_ns``, all threads) of decoding and of ``luma`` is summed per run,
   ``repeat`` runs, median, as CPU ms per second of video (= % of one core x 10).
3. **Total per camera with motion on** = decode + luma + ``Detector.process`` on the
   analysed frames of that same run, CPU ms per second of video. Cameras that fit:
   ``floor(usable cores x BUDGET / total share of a core)``, with ``BUDGET`` = 70 % of
   each core: the rest is left to recording, the web UI and the system.

Targets are reported, never asserted. Work files go in a fresh folder inside the
directory given, removed at the end.
"""

from __future__ import annotations

import gc
import math
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
from av.video.codeccontext import VideoCodecContext

from nvr.config import MotionConfig
from nvr.demo.actors import SensorNoise
from nvr.demo.encode import encode_clip
from nvr.demo.porch import Image
from nvr.demo.scene import FrameTruth, Scene, make_scene
from nvr.motion.detector import Detector, DetectorSettings
from nvr.motion.frames import Luma, RateGate, luma
from nvr.motion.worker import skip_mode

SCENE = "visitor"
WIDTH, HEIGHT = 640, 360
SOURCE_FPS = 15
DEFAULT_PASSES = 20
DEFAULT_REPEAT = 5
TARGET_MEDIAN_US = 150.0
BUDGET = 0.70  # share of each core motion may use
# A camera's sensor noise in the decoded clip: a clean synthetic picture compresses (and
# decodes) unrealistically well. Sigma 4 gray levels gives ~300 kbit/s at 640x360 15 fps
# (CRF 23), within what doorbell sub-streams send.
NOISE_SIGMA = 4.0

Progress = Callable[[str], None]


@dataclass(frozen=True)
class DetectorFigures:
    width: int  # of the analysis image
    height: int
    frames: int  # per pass
    passes: int
    motion_frames: int  # in the first pass: the detector did see the visitor
    median_us: float
    p90_us: float
    mean_us: float
    target_median_us: float
    met: bool


@dataclass(frozen=True)
class CameraFigures:
    """CPU per second of video for one camera's motion path (medians of ``repeat``)."""

    width: int  # of the sub-stream
    height: int
    source_fps: int
    analysis_fps: float
    video_seconds: float
    frames_decoded: int  # per run
    frames_analysed: int  # per run
    repeat: int
    bitrate_kbps: float  # of the encoded clip
    decoder: str  # the CodecContext's threading and frame skipping, as the worker's
    decode_ms_per_s: float
    luma_ms_per_s: float
    detect_ms_per_s: float
    total_ms_per_s: float
    core_percent: float  # total as % of one core


@dataclass(frozen=True)
class MotionResult:
    scene: str
    detector: DetectorFigures
    camera: CameraFigures
    usable_cpus: int
    budget: float  # share of each core given to motion
    cameras_fit: int


def percentile(values: list[float], share: float) -> float:
    """The ``share`` (0..1) percentile, nearest rank (no interpolation)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def cameras_fit(cpus: int, total_ms_per_s: float, budget: float = BUDGET) -> int:
    """Cameras whose motion path fits in ``budget`` of each of ``cpus`` cores."""
    if total_ms_per_s <= 0:
        return 0
    return math.floor(cpus * budget * 1000 / total_ms_per_s)


@contextmanager
def _no_gc() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _analysis_frames(
    width: int, height: int, settings: DetectorSettings
) -> tuple[list[Luma], float]:
    """The scene's frames at the analysis rate, as analysis images; and the scene's length."""
    fps = max(1, round(settings.fps))
    scene = make_scene(SCENE, width=width, height=height, fps=fps, seed=0)
    count = scene.frame_count() or fps * 10
    images = []
    for index in range(count):
        bgr, _ = scene.render(index)
        frame = av.VideoFrame.from_ndarray(bgr, format="bgr24").reformat(format="yuv420p")
        images.append(luma(frame, settings.analysis_height))
    return images, count / fps


class NoisyScene(Scene):
    """A scene as a camera would send it: with sensor noise (see ``NOISE_SIGMA``)."""

    def __init__(self, clean: Scene, sigma: float = NOISE_SIGMA) -> None:
        super().__init__(
            f"{clean.name}+noise",
            clean.layout,
            fps=clean.fps,
            seed=clean.seed,
            duration=clean.duration,
        )
        self._clean = clean
        self._noise = SensorNoise(sigma=sigma, seed=clean.seed)

    def render(self, index: int) -> tuple[Image, FrameTruth]:
        image, truth = self._clean.render(index)
        self._noise.apply(image, index, index / self.fps)
        return image, truth


def time_detector(settings: DetectorSettings, images: list[Luma], passes: int) -> DetectorFigures:
    timings: list[float] = []
    motion_frames = 0
    with _no_gc():
        for p in range(passes):
            detector = Detector(settings)
            for image in images:
                start = time.perf_counter_ns()
                result = detector.process(image)
                timings.append((time.perf_counter_ns() - start) / 1000)
                if p == 0:
                    motion_frames += result.motion
    median = statistics.median(timings)
    h, w = images[0].shape
    return DetectorFigures(
        width=w,
        height=h,
        frames=len(images),
        passes=passes,
        motion_frames=motion_frames,
        median_us=median,
        p90_us=percentile(timings, 0.9),
        mean_us=statistics.fmean(timings),
        target_median_us=TARGET_MEDIAN_US,
        met=median <= TARGET_MEDIAN_US,
    )


def _decoder(stream: Any, fps: int, settings: DetectorSettings) -> VideoCodecContext:
    """A decoder for ``stream``'s packets, set up as the live worker sets up its own
    (``MotionWorker._new_session`` and ``_measure_rate``)."""
    ctx = av.CodecContext.create(stream.codec_context.name, "r")
    assert isinstance(ctx, VideoCodecContext)
    ctx.extradata = stream.codec_context.extradata
    ctx.skip_frame = skip_mode(fps, settings.fps)
    return ctx


def _camera_run(
    stream: Any, packets: list[av.Packet[Any]], settings: DetectorSettings, fps: int
) -> tuple[int, int, int, int, int]:
    """(decode ns, luma ns, detect ns, frames decoded, frames analysed) of one run."""
    ctx = _decoder(stream, fps, settings)
    gate = RateGate(settings.fps)
    detector = Detector(settings)
    decode_ns = luma_ns = detect_ns = decoded = analysed = 0
    clock = time.process_time_ns
    for packet in [*packets, None]:
        start = clock()
        frames = ctx.decode(packet)
        decode_ns += clock() - start
        for frame in frames:
            t = frame.time if frame.time is not None else decoded / fps
            decoded += 1
            if not gate.take(t):
                continue
            start = clock()
            image = luma(frame, settings.analysis_height)
            mid = clock()
            detector.process(image)
            end = clock()
            luma_ns += mid - start
            detect_ns += end - mid
            analysed += 1
    return decode_ns, luma_ns, detect_ns, decoded, analysed


def time_camera(
    clip: Path, settings: DetectorSettings, *, fps: int, seconds: float, repeat: int
) -> CameraFigures:
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        packets = [p for p in container.demux(stream) if p.size]
        bitrate = sum(p.size for p in packets) * 8 / seconds / 1000
        width, height = stream.codec_context.width, stream.codec_context.height
        runs = []
        with _no_gc():
            for _ in range(repeat):
                runs.append(_camera_run(stream, packets, settings, fps))
        ctx = _decoder(stream, fps, settings)
        threads = ctx.thread_count or "auto"
        decoder = f"{ctx.thread_type.name} threads x {threads}, skip_frame {ctx.skip_frame}"

    def ms_per_s(i: int) -> float:
        return statistics.median(r[i] for r in runs) / 1e6 / seconds

    decode, luma_ms, detect = ms_per_s(0), ms_per_s(1), ms_per_s(2)
    total = statistics.median((r[0] + r[1] + r[2]) / 1e6 / seconds for r in runs)
    return CameraFigures(
        width=width,
        height=height,
        source_fps=fps,
        analysis_fps=settings.fps,
        video_seconds=seconds,
        bitrate_kbps=bitrate,
        frames_decoded=runs[0][3],
        frames_analysed=runs[0][4],
        repeat=repeat,
        decoder=decoder,
        decode_ms_per_s=decode,
        luma_ms_per_s=luma_ms,
        detect_ms_per_s=detect,
        total_ms_per_s=total,
        core_percent=total / 10,
    )


def run(
    directory: Path,
    *,
    width: int = WIDTH,
    height: int = HEIGHT,
    source_fps: int = SOURCE_FPS,
    passes: int = DEFAULT_PASSES,
    repeat: int = DEFAULT_REPEAT,
    clip_seconds: float | None = None,
    cpus: int | None = None,
    progress: Progress | None = None,
) -> MotionResult:
    """Measure the three figures (see the module docstring). ``clip_seconds`` shortens the
    encoded clip (default: the whole scene); ``cpus`` defaults to the usable cores."""
    say = progress or (lambda _line: None)
    settings = DetectorSettings.from_config(MotionConfig())
    say(f"rendering the {SCENE!r} scene at {width}x{height}, {settings.fps:g} fps")
    images, scene_seconds = _analysis_frames(width, height, settings)
    say(f"timing Detector.process: {len(images)} frames x {passes} passes")
    detector = time_detector(settings, images, passes)
    seconds = scene_seconds if clip_seconds is None else min(clip_seconds, scene_seconds)
    work = Path(tempfile.mkdtemp(prefix="nvr-bench-motion-", dir=directory))
    try:
        clip = work / "sub-stream.mp4"
        say(f"encoding {seconds:g} s at {width}x{height}, {source_fps} fps")
        scene = make_scene(SCENE, width=width, height=height, fps=source_fps, seed=0)
        frames = len(encode_clip(NoisyScene(scene), clip, seconds))
        say(f"decoding + analysing it {repeat} times")
        camera = time_camera(
            clip, settings, fps=source_fps, seconds=frames / source_fps, repeat=repeat
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if cpus is None:
        try:
            cpus = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            cpus = os.cpu_count() or 1
    return MotionResult(
        scene=SCENE,
        detector=detector,
        camera=camera,
        usable_cpus=cpus,
        budget=BUDGET,
        cameras_fit=cameras_fit(cpus, camera.total_ms_per_s),
    )
