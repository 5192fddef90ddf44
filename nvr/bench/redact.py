"""Redaction's speed: frames per second of ``nvr.redact.redact`` at 1080p and 720p.

``run(folder, sizes=((1920, 1080), (1280, 720)), seconds=6.0, fps=10)`` encodes the
synthetic ``"faces"`` scene (a visitor looking into the camera) at each size into
``folder``, redacts it with faces, one privacy mask and release text, and reports for each
size the frames, the wall and CPU seconds, frames per second, the speed relative to real
time, and how many frames had a face detected or were covered by tracking only. Detection
and re-encoding are both in the figure (the whole pipeline as a release runs it); the
detection pass alone is measured too (``detect_fps``), since it dominates.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from nvr.demo.encode import encode_clip
from nvr.demo.scene import make_scene
from nvr.redact import RedactionPlan, redact
from nvr.redact.faces import FaceDetector

MASK = ((0.8, 0.0), (1.0, 0.0), (1.0, 0.15), (0.8, 0.15))


@dataclass(frozen=True)
class SizeResult:
    width: int
    height: int
    frames: int
    wall_seconds: float
    cpu_seconds: float
    fps: float  # frames redacted per wall second, whole pipeline
    realtime: float  # clip seconds per wall second
    detect_fps: float  # the detection pass alone
    frames_with_faces: int
    frames_tracked_only: int


@dataclass(frozen=True)
class RedactResult:
    clip_seconds: float
    source_fps: int
    sizes: tuple[SizeResult, ...]


def run(
    folder: Path,
    *,
    sizes: Sequence[tuple[int, int]] = ((1920, 1080), (1280, 720)),
    seconds: float = 6.0,
    fps: int = 10,
    progress: Callable[[str], None] | None = None,
) -> RedactResult:
    say = progress or (lambda line: None)
    results = []
    plan = RedactionPlan(faces=True, masks=(MASK,), text="Released to bench - request #0")
    for width, height in sizes:
        scene = make_scene("faces", width=width, height=height, fps=fps, seed=0)
        path = folder / f"redact-bench-{width}x{height}.mp4"
        say(f"encoding {seconds:g} s of the faces scene at {width}x{height}")
        encode_clip(scene, path, seconds)
        data = path.read_bytes()
        path.unlink()
        say(f"redacting at {width}x{height}")
        wall0, cpu0 = time.perf_counter(), time.process_time()
        result = redact(data, plan)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        report = result.report
        detector = FaceDetector()
        frames = [scene.render(i)[0] for i in range(report.frames)]
        d0 = time.perf_counter()
        for frame in frames:
            detector.detect(frame)
        detect = time.perf_counter() - d0
        results.append(
            SizeResult(
                width=width,
                height=height,
                frames=report.frames,
                wall_seconds=round(wall, 3),
                cpu_seconds=round(cpu, 3),
                fps=round(report.frames / wall, 2),
                realtime=round(report.frames / fps / wall, 3),
                detect_fps=round(report.frames / detect, 2),
                frames_with_faces=report.frames_with_faces,
                frames_tracked_only=report.frames_tracked_only,
            )
        )
    return RedactResult(clip_seconds=seconds, source_fps=fps, sizes=tuple(results))
