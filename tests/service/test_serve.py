"""``nvr serve`` and ``nvr demo`` as a user runs them: real processes, real HTTPS, real
cameras (the built-in demo doorbell, and GStreamer's RTSP server), SIGTERM to stop."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from nvr.auth.sessions import COOKIE_NAME, CSRF_HEADER
from nvr.clock import SystemClock
from nvr.config import Config
from nvr.service.box import open_box
from nvr.web.tls import fingerprint
from tests.support.rtsp_server import Mount, RtspCameraFactory

CAM_PASSWORD = "Porch-Secret-9f3k"
WRONG_PASSWORD = "Not-The-Password-77x"
GUESS = "Zm9yZ2VkLXNoYXJlLWxpbmstdG9rZW4tZm9yLXRlc3Rz"  # a share-link token nobody made


@dataclass
class Running:
    proc: subprocess.Popen[str]
    url: str
    fingerprint: str
    stderr: Path
    data_dir: Path
    owner: tuple[str, str] | None = None  # (name, passphrase): sign in before asking
    session: str | None = None  # the session cookie once signed in

    def anonymous(self) -> httpx.Client:
        ctx = ssl.create_default_context(cafile=str(self.data_dir / "tls" / "cert.pem"))
        return httpx.Client(base_url=self.url, verify=ctx, timeout=10)

    def sign_in(self, name: str, passphrase: str) -> dict[str, Any]:
        with self.anonymous() as c:
            r = c.post("/api/v1/session", json={"name": name, "password": passphrase})
        r.raise_for_status()
        self.session = r.cookies[COOKIE_NAME]
        body: dict[str, Any] = r.json()
        return body

    def client(self) -> httpx.Client:
        """A client with the owner's session cookie when the box has an owner."""
        if self.owner is not None and self.session is None:
            self.sign_in(*self.owner)
        c = self.anonymous()
        if self.session is not None:
            c.headers["cookie"] = f"{COOKIE_NAME}={self.session}"
        return c

    def health(self) -> dict[str, Any]:
        with self.client() as c:
            r = c.get("/api/v1/health")
        r.raise_for_status()
        data: dict[str, Any] = r.json()
        return data

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 30.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            health = self.health()
            if predicate(health):
                return health
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout}s: {health}")
            time.sleep(0.25)

    def close(self) -> None:
        """Kill the service if it still runs and close its pipe (a test's cleanup)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def stop(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return code, self.stderr.read_text()


def start(
    args: list[str],
    tmp_path: Path,
    env: dict[str, str] | None = None,
    owner: tuple[str, str] | None = None,
) -> Running:
    """Start ``nvr ARGS`` and wait for its 'Dashboard:' line (the real readiness signal).
    With ``owner`` (name, passphrase) the helpers sign in first (the box has an owner)."""
    data_dir = tmp_path / "data"
    stderr = tmp_path / "stderr.log"
    with stderr.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "nvr", *args, "--data-dir", str(data_dir), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env={**os.environ, **(env or {})},
        )
    assert proc.stdout is not None
    url = fp = None
    deadline = time.monotonic() + 60
    for line in proc.stdout:
        if "Dashboard:" in line:
            url = line.split("Dashboard:", 1)[1].strip()
        if "TLS certificate SHA-256:" in line:
            fp = line.split(":", 1)[1].strip()
        if url and fp:
            break
        if time.monotonic() > deadline:
            break
    if not (url and fp):
        proc.kill()
        proc.wait()
        proc.stdout.close()
        raise AssertionError(f"service did not start: {stderr.read_text()}")
    return Running(proc, url, fp, stderr, data_dir, owner)


def _camera(health: dict[str, Any], name: str) -> dict[str, Any]:
    cams = health["cameras"]
    assert isinstance(cams, list)
    return next(c for c in cams if c["name"] == name)


def test_demo_runs_the_demo_doorbell_and_stops_cleanly(
    tmp_path: Path, cleanup: list[Running]
) -> None:
    run = start(["demo"], tmp_path)
    cleanup.append(run)
    assert run.url.startswith("https://127.0.0.1:")
    # The fingerprint printed is the certificate actually served.
    assert run.fingerprint == fingerprint((run.data_dir / "tls" / "cert.pem").read_bytes())
    health = run.wait_for(lambda h: _camera(h, "demo-doorbell")["packets"] > 20)
    cam = _camera(health, "demo-doorbell")
    assert cam["state"] == "online"
    assert cam["codec"] == "h264"
    assert cam["demo"] is True
    with run.client() as c:
        page = c.get("/")
        assert c.get("/healthz").json() == {"status": "ok"}
    assert "demo-doorbell" in page.text
    code, log = run.stop()
    assert code == 0, log
    assert "stopped cleanly" in log
    assert "Traceback" not in log
    # The run is marked cleanly stopped in the database the service migrated.
    engine = create_engine(f"sqlite:///{run.data_dir / 'nvr.sqlite3'}")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT stopped_at, clean_shutdown FROM service_runs")).all()
        cams = conn.execute(text("SELECT name FROM cameras")).scalars().all()
        devices = conn.execute(
            text("SELECT entry_json FROM audit_entries WHERE kind = 'camera.device'")
        ).scalars()
        [device] = [json.loads(e)["payload"] for e in devices]
    engine.dispose()
    assert len(rows) == 1
    assert rows[0][0] is not None
    assert rows[0][1]
    assert cams == ["demo-doorbell"]
    # The demo says what it is, honestly (nvr/camera_identity.py).
    assert device["camera"] == "demo-doorbell"
    assert (device["manufacturer"], device["source"]) == ("Porchlight", "demo")
    assert device["model"].startswith("demo doorbell (synthetic")


@pytest.mark.rtsp
def test_serve_records_from_a_real_camera_and_never_shows_its_password(
    tmp_path: Path, rtsp_camera_factory: RtspCameraFactory, cleanup: list[Running]
) -> None:
    camera = rtsp_camera_factory(
        [
            Mount("/door", auth="digest", user="installer", password=CAM_PASSWORD),
        ]
    )
    config = tmp_path / "nvr.yaml"
    config.write_text(
        "logging:\n  level: debug\n"
        "cameras:\n"
        "  - name: front\n"
        f"    main_url: rtsp://127.0.0.1:{camera.port}/door\n"
        "    username: installer\n"
        "    password: ${FRONT_PW}\n"
        "  - name: back\n"
        f"    main_url: rtsp://installer:{WRONG_PASSWORD}@127.0.0.1:{camera.port}/door\n"
    )
    run = start(
        ["serve", "--config", str(config), "--bind", "127.0.0.1"],
        tmp_path,
        env={"FRONT_PW": CAM_PASSWORD},
    )
    cleanup.append(run)
    health = run.wait_for(
        lambda h: (
            _camera(h, "front")["packets"] > 10 and _camera(h, "back")["state"] == "auth_failed"
        )
    )
    assert _camera(health, "front")["state"] == "online"
    assert "rejected the username or password" in str(_camera(health, "back")["last_error"])
    # A wrong password is not retried in a storm: the state stays auth_failed for a while.
    time.sleep(2)
    back = _camera(run.health(), "back")
    assert back["state"] == "auth_failed"
    assert back["reconnects"] <= 3
    with run.client() as c:
        every_answer = json.dumps(run.health()) + c.get("/").text
    code, log = run.stop()
    assert code == 0, log
    for shown in (every_answer, log):
        assert CAM_PASSWORD not in shown
        assert WRONG_PASSWORD not in shown
    assert "front" in log  # the log did talk about the cameras


def test_demo_with_keys_signs_the_owner_in_and_audits_it_all(
    tmp_path: Path, cleanup: list[Running]
) -> None:
    """The demo with ``--passphrase-file`` has an owner: over real HTTPS, nothing but
    ``/healthz`` answers without a session, even on the box itself; the passphrase signs
    the owner in (and unlocks); a logged-out cookie is worth nothing to anyone."""
    pw = tmp_path / "pw"
    pw.write_text("sunny-Meadow-42-quietly\n")
    pw.chmod(0o600)
    run = start(
        ["demo", "--passphrase-file", str(pw), "--work-factor", "15", "--owner", "Alex"],
        tmp_path,
    )
    cleanup.append(run)
    with run.anonymous() as c:
        assert c.get("/api/v1/health").status_code == 401
        page = c.get("/")
        assert (page.status_code, page.headers["location"]) == (303, "/signin")
        assert 'src="/static/signin.js"' in c.get("/signin").text
        assert c.get("/healthz").json() == {"status": "ok"}
        wrong = c.post(
            "/api/v1/session", json={"name": "alex", "password": "not-the-passphrase-at-all"}
        )
        assert (wrong.status_code, wrong.json()) == (401, {"error": "wrong name or password"})
        assert c.post("/api/v1/session", json={"pass": "x"}).status_code == 422
        # A share link's pages are public; an unknown token is a 404 page, audited with
        # the client, and the token is in no log line of the service.
        for path in (f"/s/{GUESS}", f"/s/{GUESS}/download"):
            r = c.get(path)
            assert r.status_code == 404
            assert "No such link" in r.text
    me = run.sign_in("alex", "sunny-Meadow-42-quietly")
    assert (me["name"], me["role"], me["unlocked"]) == ("alex", "owner", True)
    assert run.health()["keys"] == "ready"
    run.wait_for(lambda h: _camera(h, "demo-doorbell")["recording"] == "recording")
    stolen = run.session
    with run.client() as c:
        assert c.get("/api/v1/session").json()["unlocked"] is True
        assert c.delete("/api/v1/session").status_code == 403  # no CSRF token
        bye = c.delete("/api/v1/session", headers={CSRF_HEADER: me["csrf_token"]})
        assert bye.status_code == 204
    with run.anonymous() as other:  # a second client presenting the logged-out cookie
        r = other.get("/api/v1/health", headers={"cookie": f"{COOKIE_NAME}={stolen}"})
        assert (r.status_code, r.json()["error"]) == (401, "your session has ended: sign in again")
    code, log = run.stop()
    assert code == 0, log
    assert "sunny-Meadow" not in log
    assert GUESS not in log
    box_cfg = Config().model_copy(
        update={"storage": Config().storage.model_copy(update={"data_dir": run.data_dir})}
    )
    box = open_box(box_cfg, SystemClock())
    try:
        result = box.audit.verify()
        assert result.ok, result.reason
        entries = [json.loads(box.audit.entry(i)) for i in range(result.entries)]
        assert [e["kind"] for e in entries] == [
            "keys.init",
            "service.start",
            "camera.device",  # the demo doorbell says what it is
            "unlock.failed",
            "login.failed",
            "share.link.refused",
            "share.link.refused",
            "unlock",
            "login",
            "lock",
            "session.end",
            "service.stop",
        ]
        assert entries[0]["payload"]["owner"] == "alex"
        assert {e["actor"]["user"] for e in entries[3:11] if e["kind"] != "share.link.refused"} == {
            "alex"
        }
        assert entries[5]["actor"] == {"role": "anonymous", "user": None}
        assert "sunny-Meadow" not in json.dumps(entries)
        assert GUESS not in json.dumps(entries)
        assert entries[5]["payload"] == {
            "link": None,
            "reason": "no such link",
            "client": "127.0.0.1",
        }
        assert result.checkpoints >= 1
    finally:
        box.close()
