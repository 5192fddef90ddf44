"""``nvr.bench.redact`` at a tiny size: the figures are well-formed and consistent. No
timing is asserted (benchmarks are not tests)."""

from __future__ import annotations

from pathlib import Path

from nvr.bench import redact


def test_tiny_run_is_well_formed(tmp_path: Path) -> None:
    result = redact.run(tmp_path, sizes=((320, 180),), seconds=2.0, fps=5)
    (size,) = result.sizes
    assert (size.width, size.height) == (320, 180)
    assert size.frames == 10
    assert size.wall_seconds > 0
    assert size.fps > 0
    assert size.detect_fps > 0
    assert abs(size.realtime - size.fps / 5) < 0.01
    assert size.frames_with_faces > 0  # the visitor's face is in the first two seconds
    assert list(tmp_path.iterdir()) == []  # the clips are removed
