"""A box with real encrypted footage for consent and export tests.

``footage_site(tmp_path, source)`` is ``open_site`` (owner ``alex`` with keys, passphrase
``PASSPHRASE``) plus 8 s of the synthetic ``faces`` scene (320x180, 10 fps, a keyframe
every second) recorded as four 2 s encrypted segments of camera ``porch`` from ``T0``.
``faces_source`` (module fixture) encodes the scene once per module. ``export_context``
builds the ``ExportContext`` over the site's box; ``owner_key`` opens the owner signing
key with the passphrase; ``draft`` makes a consent draft for ``porch`` at ``T0 + a..b``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import av
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from nvr.demo.encode import encode_clip
from nvr.demo.scene import make_scene
from nvr.redact import RedactionPlan
from nvr.sharing.bundle import ExportContext
from nvr.sharing.consent import ClipRef, ConsentStore, Draft
from nvr.sharing.requests import RequestLog
from tests.playback.conftest import FPS, T0, SourceClip, fragmented_piece
from tests.support.accounts import PASSPHRASE, Site, open_site

CAMERA = "porch"
NO_REDACTION = RedactionPlan(faces=False)


@pytest.fixture(scope="module")
def faces_source(tmp_path_factory: pytest.TempPathFactory) -> SourceClip:
    path = tmp_path_factory.mktemp("consent-scene") / "faces.mp4"
    encode_clip(
        make_scene("faces", width=320, height=180, fps=FPS, seed=2), path, 8.0, gop_seconds=1.0
    )
    with av.open(str(path), "r") as src:
        packets = [p for p in src.demux(src.streams.video[0]) if p.dts is not None]
        keyframes = [i for i, p in enumerate(packets) if p.is_keyframe]
        return SourceClip(path, [bytes(p) for p in packets], keyframes)


def footage_site(tmp_path: Path, source: SourceClip) -> Site:
    site = open_site(tmp_path)
    site.clock.set_wall(T0 + timedelta(hours=1))
    store = site.box.segment_store()
    for first in range(0, 80, 20):
        segment = store.open_segment(CAMERA, T0 + timedelta(seconds=first / FPS))
        segment.write(fragmented_piece(source, first, first + 19))
        segment.close(T0 + timedelta(seconds=(first + 20) / FPS))
    return site


def consents_of(site: Site) -> ConsentStore:
    return ConsentStore(site.box.sessions, site.box.keys, site.box.record, site.clock)


def export_context(site: Site) -> ExportContext:
    box = site.box
    return ExportContext(
        consents=consents_of(site),
        store=box.segment_store(),
        audit=box.audit,
        clock=site.clock,
        device_key=box.keys.device_key(),
        device_id=box.device_id,
        record=box.record,
        requests=RequestLog(box.sessions, box.record, site.clock),
    )


def owner_key(site: Site) -> Ed25519PrivateKey:
    return site.box.keys.unlock(PASSPHRASE.encode()).signing_key


def clip(a: float, b: float, camera: str = CAMERA) -> ClipRef:
    return ClipRef(camera, T0 + timedelta(seconds=a), T0 + timedelta(seconds=b))


def draft(
    a: float = 2.0,
    b: float = 5.0,
    *,
    plan: RedactionPlan = NO_REDACTION,
    request: int | None = None,
    recipient_age: str | None = None,
) -> Draft:
    return Draft(
        clip=clip(a, b),
        plan=plan,
        audio=plan.audio,
        recipient="Metro Police",
        recipient_age=recipient_age,
        request=request,
    )
