"""End to end: the faces scene recorded as encrypted segments, a clip built from them by
the playback primitive, redacted: the UTC start is carried and no face is detectable."""

from __future__ import annotations

import io
from datetime import timedelta
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from nvr.clock import FakeClock
from nvr.crypto import X25519Identity
from nvr.demo.encode import encode_clip
from nvr.demo.scene import make_scene
from nvr.playback import build_clip
from nvr.redact import FaceDetector, RedactionPlan, redact
from nvr.redact.faces import iou
from tests.playback.conftest import FPS, T0, SourceClip, fragmented_piece
from tests.storage.conftest import make_store


def test_clip_from_encrypted_segments_is_redacted(tmp_path: Path) -> None:
    scene = make_scene("faces", width=320, height=180, fps=FPS, seed=2)
    path = tmp_path / "faces.mp4"
    truths = encode_clip(scene, path, 8.0, gop_seconds=1.0)
    with av.open(str(path), "r") as src:
        packets = [p for p in src.demux(src.streams.video[0]) if p.dts is not None]
        keyframes = [i for i, p in enumerate(packets) if p.is_keyframe]
        source = SourceClip(path, [bytes(p) for p in packets], keyframes)
    identity = X25519Identity.generate()
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    store, _, sessions = make_store(data_dir, identity, FakeClock(), [])
    try:
        for first in range(0, 80, 20):  # 2 s segments
            segment = store.open_segment("front", T0 + timedelta(seconds=first / FPS))
            segment.write(fragmented_piece(source, first, first + 19))
            segment.close(T0 + timedelta(seconds=(first + 20) / FPS))
        clip = build_clip(
            store, [identity], "front", T0 + timedelta(seconds=3), T0 + timedelta(seconds=6)
        )
    finally:
        sessions.kw["bind"].dispose()
    assert clip.frames == 30
    released = redact(clip.data, RedactionPlan(), start=clip.start)
    assert released.report.frames == 30
    assert released.report.frames_with_faces >= 20  # the visitor looks into the camera
    detector = FaceDetector()
    with av.open(io.BytesIO(released.data), "r") as out:
        stream = out.streams.video[0]
        assert out.metadata["creation_time"].startswith("2026-03-04T10:00:03")
        for index, frame in enumerate(out.decode(stream)):
            assert frame.pts is not None
            assert stream.time_base is not None
            assert frame.pts * stream.time_base == Fraction(index, FPS)
            faces = truths[30 + index].faces
            found = detector.detect(np.asarray(frame.to_ndarray(format="bgr24"), np.uint8))
            assert not [b for b in found if any(iou(b, f) > 0 for f in faces)], index
