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
from nvr.clock import SystemClock
from nvr.config import Config
from nvr.service.box import open_box
from nvr.web.setup import CODE_FILE, CODE_HEADER, PENDING_FILE
from tests.service.test_serve import Running, _camera, start

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
