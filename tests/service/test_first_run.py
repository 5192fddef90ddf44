"""``nvr serve`` on a fresh box, as a user meets it: no keys, no owner, the demo doorbell
running but not recording; the first run over real HTTPS with the setup code the service
wrote; then the demo records without a restart, and its footage opens with the recovery
key alone (the real ``age`` CLI)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from nvr.auth.sessions import COOKIE_NAME, CSRF_HEADER
from nvr.bench.chromium import CHROMIUM, FLAGS
from nvr.clock import SystemClock
from nvr.config import Config, load_config
from nvr.service.box import open_box
from nvr.web.setup import CODE_FILE, CODE_HEADER, PENDING_FILE
from tests.service.test_serve import Running, _camera, start
from tests.support.procs import require
from tests.support.rtsp_server import RtspCamera

PASSPHRASE = "Copper-Kettle-58-whistling"


@pytest.mark.usefixtures("age_required")
def test_serve_starts_without_keys_and_records_after_setup_without_restart(
    tmp_path: Path, cleanup: list[Running]
) -> None:
    config = tmp_path / "nvr.yaml"
    config.write_text("# the installer's file\nstorage:\n  segment_seconds: 10\ncameras: []\n")
    run = start(["serve", "--config", str(config), "--bind", "127.0.0.1"], tmp_path)
    cleanup.append(run)
    code_file = run.data_dir / CODE_FILE
    code = code_file.read_text().strip()
    assert (code_file.stat().st_mode & 0o777) == 0o600
    # Before setup: the box itself may look, the demo runs, nothing records.
    health = run.wait_for(lambda h: _camera(h, "demo-doorbell")["packets"] > 10)
    assert health["keys"] == "missing"
    assert _camera(health, "demo-doorbell")["recording"] == "off"
    with run.anonymous() as c:
        c.timeout = 60
        wrong = c.post("/api/v1/setup/check", headers={CODE_HEADER: "0000-0000"})
        assert wrong.status_code == 403
        assert c.get("/setup").status_code == 200
        r = c.post(
            "/api/v1/setup/owner",
            json={"name": "Alex", "passphrase": PASSPHRASE, "confirmation": PASSPHRASE},
            headers={CODE_HEADER: code},
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["recording"] == ["demo-doorbell"]
        run.session = r.cookies[COOKIE_NAME]
        again = c.get("/setup")
        assert again.status_code == 409
    recovery = body["recovery_identity"]
    assert not code_file.exists()
    assert (run.data_dir / PENDING_FILE).exists()
    health = run.wait_for(lambda h: _camera(h, "demo-doorbell")["segments"] >= 1, timeout=45)
    assert health["keys"] == "ready"
    with run.client() as c:
        confirmed = c.post(
            "/api/v1/setup/recovery-confirmed", headers={CSRF_HEADER: body["csrf_token"]}
        )
        assert confirmed.status_code == 204
    code_, log = run.stop()
    assert code_ == 0, log
    assert f"/setup?code={code}" in log
    assert PASSPHRASE not in log
    assert recovery not in log
    cfg = Config().model_copy(
        update={"storage": Config().storage.model_copy(update={"data_dir": run.data_dir})}
    )
    box = open_box(cfg, SystemClock())
    try:
        kinds = [json.loads(box.audit.entry(i))["kind"] for i in range(box.audit.verify().entries)]
        for kind in ("keys.init", "setup.owner", "login", "setup.recovery_confirmed"):
            assert kind in kinds
        store = box.segment_store()
        segment = next(r for r in store.all_records() if r.camera == "demo-doorbell" and r.end)
        key = tmp_path / "recovery.key"
        key.write_text(recovery + "\n")
        key.chmod(0o600)
        plain = subprocess.run(
            ["age", "-d", "-i", str(key), str(store.path_of(segment))],
            capture_output=True,
            check=True,
            timeout=30,
        ).stdout
        assert b"ftyp" in plain[:64] or b"moof" in plain[:4096]
    finally:
        box.close()


def _browser_or_skip() -> None:
    # Skips on a machine without the browser; fails in CI, which must install it.
    require(
        None if CHROMIUM.exists() else f"the browser test needs {CHROMIUM} (apt install chromium)"
    )


@pytest.mark.rtsp
def test_the_setup_and_camera_pages_in_a_real_browser(
    tmp_path: Path, cleanup: list[Running], rtsp_camera: RtspCamera
) -> None:
    """Chromium walks the stepper (code from the link, strength meter, keys, the recovery
    key downloaded as a file, confirmation), then adds a real RTSP camera on /cameras with
    a zone drawn by clicks on the picture and a mask typed as numbers."""
    _browser_or_skip()
    from playwright.sync_api import expect, sync_playwright

    config = tmp_path / "nvr.yaml"
    config.write_text("# the installer's file\ncameras: []\n")
    run = start(["serve", "--config", str(config), "--bind", "127.0.0.1"], tmp_path)
    cleanup.append(run)
    code = (run.data_dir / CODE_FILE).read_text().strip()
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=list(FLAGS))
        try:
            page = browser.new_page(ignore_https_errors=True, accept_downloads=True)
            # Script errors and CSP violations; failed requests are listed by URL below
            # (the browser's own favicon request is no concern of this page).
            page.on(
                "console",
                lambda m: (
                    problems.append(m.text)
                    if m.type == "error" and not m.text.startswith("Failed to load resource")
                    else None
                ),
            )
            page.on(
                "response",
                lambda r: (
                    problems.append(f"{r.status} {r.url}")
                    if r.status >= 400 and not r.url.endswith("/favicon.ico")
                    else None
                ),
            )
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(f"{run.url}setup?code={code}")
            assert "code=" not in page.url  # taken out of the address bar and history
            page.fill("#owner-name", "Alex")
            page.fill("#owner-passphrase", "password1234")
            expect(page.locator("#strength-text")).to_contain_text("weak")
            page.fill("#owner-passphrase", PASSPHRASE)
            page.fill("#owner-confirmation", PASSPHRASE)
            expect(page.locator("#strength-text")).to_contain_text("Strength:")
            page.click("#owner-submit")
            page.wait_for_selector("#step-recovery:not([hidden])", timeout=60_000)
            recovery = page.text_content("#recovery-key") or ""
            assert recovery.startswith("AGE-SECRET-KEY-1")
            with page.expect_download() as info:
                page.click("#recovery-download")
            saved = tmp_path / "downloaded.key"
            info.value.save_as(saved)
            assert recovery in saved.read_text()
            assert page.is_disabled("#recovery-confirm")
            page.check("#recovery-stored")
            page.click("#recovery-confirm")
            page.wait_for_selector("#step-cameras:not([hidden])")
            assert not (run.data_dir / PENDING_FILE).exists()
            # The cameras page: add the test camera with a zone (clicks) and a mask (typed).
            page.goto(f"{run.url}cameras")
            page.click("#add-camera")
            page.fill("#f-name", "porch")
            page.fill("#f-url", rtsp_camera.url("/live"))
            page.click("#add-zone")
            svg = page.locator("#zone-svg")
            box = svg.bounding_box()
            assert box is not None
            for fx, fy in ((0.25, 0.5), (0.75, 0.5), (0.75, 0.9)):
                page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
            page.click("#add-mask")
            page.fill("#shape-1-points", "0,0 1,0 1,0.2")
            page.press("#shape-1-points", "Tab")
            page.click("#f-test")
            expect(page.locator("#f-result")).to_contain_text("h264", timeout=20_000)
            page.click("#f-save")
            page.wait_for_selector("#editor[hidden]", state="attached")
            expect(page.locator("#camera-rows")).to_contain_text("porch")
        finally:
            browser.close()
    assert problems == []
    text = config.read_text()
    assert "# the installer's file" in text
    cam = load_config(config, env={}).cameras[0]
    assert cam.name == "porch"
    assert len(cam.motion.zones) == 1
    assert cam.motion.zones[0].points[0] == pytest.approx((0.25, 0.5), abs=0.01)
    assert cam.motion.masks[0].points == [(0.0, 0.0), (1.0, 0.0), (1.0, 0.2)]
    run.owner = ("alex", PASSPHRASE)  # the API from here on signs in as the new owner
    run.wait_for(lambda h: _camera(h, "porch")["state"] == "online")
    code_, log = run.stop()
    assert code_ == 0, log
