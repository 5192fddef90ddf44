"""``nvr demo`` serves live view: the running service's cameras reach the live routes.

Only what needs no WebRTC here (the box's loopback, no namespace): the live page lists the
demo doorbell and a snapshot is a JPEG of its picture; the WHEP path itself is tested in
tests/live (inside a namespace, with aiortc and Chromium)."""

from __future__ import annotations

from pathlib import Path

import av

from tests.service.test_serve import Running, _camera, start

PASSPHRASE = "sunny-Meadow-42-quietly"


def test_the_demo_serves_live_pages_and_snapshots(tmp_path: Path, cleanup: list[Running]) -> None:
    pw = tmp_path / "pw"
    pw.write_text(PASSPHRASE + "\n")
    pw.chmod(0o600)
    run = start(
        ["demo", "--passphrase-file", str(pw), "--work-factor", "15", "--owner", "Alex"],
        tmp_path,
        owner=("alex", PASSPHRASE),
    )
    cleanup.append(run)
    run.wait_for(lambda h: _camera(h, "demo-doorbell")["packets"] > 20)
    with run.client() as c:
        page = c.get("/live")
        assert page.status_code == 200
        assert 'data-camera="demo-doorbell"' in page.text
        shot = c.get("/api/v1/cameras/demo-doorbell/snapshot.jpg")
        assert shot.status_code == 200, shot.text
        assert c.get("/api/v1/cameras/nope/snapshot.jpg").status_code == 404
    decoder = av.CodecContext.create("mjpeg", "r")
    assert isinstance(decoder, av.VideoCodecContext)
    assert [(p.width, p.height) for p in decoder.decode(av.Packet(shot.content))] == [(960, 540)]
    code, log = run.stop()
    assert code == 0, log
