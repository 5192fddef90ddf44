"""Issue 9, security (automated): one full run of the real service, then three audits of it.

The run: ``nvr serve`` with the installer's config, inside a network namespace whose only
other host is the GStreamer test camera (a second namespace, joined by a veth pair; the
service's default routes, IPv4 and IPv6, point at that link, and the namespace's
multicast route is removed, so any packet to any address other than loopback goes out on
it). The camera serves a looped synthetic clip of a person walking past the door, so
motion detection fires and seals events. A packet recorder (tests/support/egress.py)
sees every frame the namespace sends.

Over the dashboard's HTTPS API, as the box's own browser would: the first run (owner and
passphrase), the camera recording and a motion event, a stream test and a second camera
added with its password (the dashboard writes the config and the secrets file), a viewer
account with a password who signs in and looks, and every main page and list as owner.
Then Chromium, in the same namespace, signs the owner in and opens every main page (the
live page starts WebRTC) under the browser harness's watch (a request to another
origin fails). Every answer is kept; the data directory and the service's TMPDIR are
read while it runs (the WAL, open segments) and after SIGTERM. Then:

1. **Zero egress.** Every TCP SYN went to the camera's address and RTSP port or to the
   dashboard's port on 127.0.0.1; every UDP datagram between the box's own addresses
   (ICE and media between its browser and its service), none to port 53 or 5353. DNS
   counts: the resolver is off the box, so a lookup is a datagram to it and fails.
   A control before the service starts makes a lookup and a connection to a documentation
   address and checks the recorder saw both (the recorder can fail the test).
2. **Secrets.** None of the passwords (camera ones from ``secrets.yaml`` via ``!secret``, the
   ``${VAR}`` one, the one typed into the dashboard, the viewer's, the owner's
   passphrase), in any spelling of tests/support/leaks.py (percent-encoded as in an RTSP
   URL, base64 alone or as ``user:password``), is in the service's stdout or stderr, any
   file under the data directory (logs, database, audit), the config the dashboard wrote,
   or any API answer or page. Only ``secrets.yaml`` holds camera passwords (checked too).
3. **Footage at rest.** No file under the data directory (recursively: segments, event
   records, the database and its WAL, temporary files) holds a plaintext MP4 box, H.264
   parameter set, JPEG, PNG or ZIP; and the run did record (segments and an event
   exist), so the scan looked at real footage files.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from nvr.auth.sessions import COOKIE_NAME, CSRF_HEADER
from nvr.bench.chromium import CHROMIUM, FLAGS, WEBRTC_FLAGS
from nvr.web.setup import CODE_FILE, CODE_HEADER
from tests.live.inside import call_inside
from tests.service.test_serve import Running, _camera, start
from tests.support.browser import (
    browser_unavailable_reason,
    expect_no_console_errors,
    sign_in,
    watch_of,
    watched_context,
)
from tests.support.egress import Attempt, Recorder
from tests.support.footage import SyntheticClipFactory
from tests.support.leaks import (
    find_secrets,
    footage_signatures,
    read_tree,
    scan_files,
    secret_forms,
)
from tests.support.netns import Netns
from tests.support.procs import ProcessRegistry, require
from tests.support.rtsp_server import Mount, RtspCamera

pytestmark = [pytest.mark.netns, pytest.mark.rtsp]

BOX_IP, CAMERA_IP = "10.77.0.1", "10.77.0.2"
BOX_IP6, CAMERA_IP6 = "fd00:77::1", "fd00:77::2"
OWNER = "robin"
PASSPHRASE = "Quiet-Lantern-84-over-Moss"
VIEWER = "sam"
VIEWER_PASSWORD = "Viewer-Pass/92:kite@river"
CAM_USER = "installer"
# Characters an RTSP URL must percent-encode, so the encoded forms differ from the plain.
PORCH_PASSWORD = "Porch/Pw:7x@q#2"
SIDE_PASSWORD = "Side+Pw 5z&k%3"
GARDEN_PASSWORD = "Garden=Pw?8m!4"
LOOP_SECONDS = 15.0
# Chromium's own background lookups (Google accounts, autofill, updates: the browser's,
# not the dashboard's) die inside the browser; the dashboard reaches its box by address.
# A page's request to any other host is still a request event, which the watch fails.
NO_NAMES = "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"


@pytest.fixture
def camera_netns(netns: Netns) -> Iterator[Netns]:
    """A second namespace for the camera, linked to ``netns`` (the box's) by a veth pair:
    the box's only way off loopback. Both are deleted afterwards (the fixture's and this
    one), and the veth pair with them."""
    with Netns.create() as cam:
        netns.run(
            ["ip", "link", "add", "box0", "type", "veth", "peer", "name", "cam0", "netns", cam.name]
        )
        for ns, dev, ip4, ip6 in (
            (netns, "box0", BOX_IP, BOX_IP6),
            (cam, "cam0", CAMERA_IP, CAMERA_IP6),
        ):
            ns.run(["ip", "addr", "add", f"{ip4}/24", "dev", dev])
            ns.run(["ip", "-6", "addr", "add", f"{ip6}/64", "dev", dev, "nodad"])
            ns.run(["ip", "link", "set", dev, "up"])
        # Everything off loopback goes to the camera's link, where the recorder sees it.
        netns.run(["ip", "route", "add", "default", "via", CAMERA_IP])
        netns.run(["ip", "-6", "route", "add", "default", "via", CAMERA_IP6])
        netns.run(["ip", "route", "del", "224.0.0.0/4", "dev", "lo"])
        yield cam


def _control(recorder: Recorder) -> None:
    """Inside the box's namespace: a name lookup and a connection attempt off the box,
    which the recorder must see (else it could not fail the test)."""
    with contextlib.suppress(OSError):
        socket.getaddrinfo("updates.porchlight.invalid", 443, type=socket.SOCK_STREAM)
    with socket.socket() as s, contextlib.suppress(OSError):
        s.settimeout(0.5)
        s.connect(("192.0.2.7", 8443))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        seen = {(a.protocol, a.destination, a.port) for a in recorder.attempts()}
        if ("tcp", "192.0.2.7", 8443) in seen and any(
            p == "udp" and port == 53 for p, _, port in seen
        ):
            return
        time.sleep(0.1)
    raise AssertionError(f"the recorder missed the control attempts: {recorder.attempts()}")


class Answers:
    """Every answer of the run, for the secrets audit."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def keep(self, response: httpx.Response) -> httpx.Response:
        self.texts.append(
            f"{response.request.method} {response.request.url} {response.status_code}\n"
        )
        self.texts.append(json.dumps(dict(response.headers)))
        self.texts.append(response.text)
        return response


OWNER_PAGES = ("/", "/live", "/events", "/timeline", "/cameras", "/settings", "/settings/audit")
OWNER_APIS = (
    "/api/v1/health",
    "/api/v1/session",
    "/api/v1/cameras",
    "/api/v1/events",
    "/api/v1/users",
    "/api/v1/audit",
    "/api/v1/settings/retention",
    "/api/v1/keys/members",
    "/api/v1/install-windows",
    "/api/v1/totp",
)


def _until(what: str, check: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.5)
    return result


def _use_the_dashboard(run: Running, camera: RtspCamera, answers: Answers) -> None:
    keep = answers.keep
    code = (run.data_dir / CODE_FILE).read_text().strip()
    with run.anonymous() as c:
        c.timeout = 60
        keep(c.get("/signin"))
        keep(c.get(f"/setup?code={code}"))
        r = keep(
            c.post(
                "/api/v1/setup/owner",
                json={"name": OWNER, "passphrase": PASSPHRASE, "confirmation": PASSPHRASE},
                headers={CODE_HEADER: code},
            )
        )
        assert r.status_code == 200, r.text
        csrf = {CSRF_HEADER: r.json()["csrf_token"]}
        run.session = r.cookies[COOKIE_NAME]
    with run.client() as c:
        c.timeout = 60
        assert keep(c.post("/api/v1/setup/recovery-confirmed", headers=csrf)).status_code == 204
        # The configured camera records and its motion detector seals an event.
        _until(
            "porch records and has a motion event",
            lambda: (
                (p := _camera(run.health(), "porch"))["segments"] >= 1
                and p["motion"]["events"] >= 1
            ),
            120,
        )
        garden = camera.url("/garden")
        for _ in range(3):  # as a person would, again if it was slow (two busy cores)
            tested = keep(
                c.post(
                    "/api/v1/cameras/test",
                    json={"url": garden, "username": CAM_USER, "password": GARDEN_PASSWORD},
                    headers=csrf,
                )
            )
            if tested.status_code == 200:
                break
        assert tested.status_code == 200, tested.text
        added = keep(
            c.post(
                "/api/v1/cameras",
                json={
                    "name": "garden",
                    "main_url": garden,
                    "username": CAM_USER,
                    "password": GARDEN_PASSWORD,
                    "record": "events",
                },
                headers=csrf,
            )
        )
        assert added.status_code == 201, added.text
        # Credentials typed into the URL itself (percent-encoded): split off, never echoed.
        side = camera.url("/side", CAM_USER, SIDE_PASSWORD)
        tested = keep(c.post("/api/v1/cameras/test", json={"url": side}, headers=csrf))
        assert tested.status_code in (200, 422), tested.text  # (422: slow, here)
        yard = {"name": "yard", "main_url": side, "record": "off"}
        added = keep(c.post("/api/v1/cameras", json=yard, headers=csrf))
        assert added.status_code == 201, added.text
        _until("garden is online", lambda: _camera(run.health(), "garden")["state"] == "online", 45)
        made = keep(
            c.post(
                "/api/v1/users",
                json={"name": VIEWER, "role": "viewer", "password": VIEWER_PASSWORD},
                headers=csrf,
            )
        )
        assert made.status_code == 201, made.text
        for path in (*OWNER_PAGES, *OWNER_APIS):
            assert keep(c.get(path)).status_code == 200, path
        assert keep(c.get("/api/v1/events")).json()["events"]  # the motion event
        # A wrong unlock and a wrong sign-in: failures are logged; the attempt is not.
        keep(c.post("/api/v1/unlock", json={"passphrase": PORCH_PASSWORD}, headers=csrf))
    with run.anonymous() as v:
        keep(v.post("/api/v1/session", json={"name": VIEWER, "password": SIDE_PASSWORD}))
        signed = keep(v.post("/api/v1/session", json={"name": VIEWER, "password": VIEWER_PASSWORD}))
        assert signed.status_code == 200, signed.text
        for path in ("/", "/live", "/events", "/api/v1/session", "/api/v1/cameras"):
            keep(v.get(path))


def _browse(run: Running, answers: Answers) -> list[str]:
    """The owner in Chromium (the tests' flags, inside the namespace): sign in, open every
    main page and wait for its script's requests. The harness's watch fails the test on
    a request to another origin, a console error or a CSP violation. Returns the URLs
    the pages requested; each page's final HTML goes to ``answers``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[*FLAGS, *WEBRTC_FLAGS, f"--host-resolver-rules={NO_NAMES}"],
        )
        try:
            with watched_context(browser, run.url) as context:
                page = context.new_page()
                sign_in(page, OWNER, PASSPHRASE)
                for path in OWNER_PAGES:
                    response = page.goto(path)
                    assert response is not None
                    assert response.status == 200, path
                    page.wait_for_load_state("load")
                    page.wait_for_timeout(1500)  # the page's script loads its data
                    answers.texts.append(page.content())
                expect_no_console_errors(page)
                return list(watch_of(page).requests)
        finally:
            browser.close()


def test_a_full_run_sends_nothing_off_the_box_leaks_no_secret_and_stores_no_plaintext(
    netns: Netns,
    camera_netns: Netns,
    process_registry: ProcessRegistry,
    synthetic_clip_factory: SyntheticClipFactory,
    tmp_path: Path,
) -> None:
    require(browser_unavailable_reason())
    clip = synthetic_clip_factory("walk_past", LOOP_SECONDS)
    camera = RtspCamera(
        [
            Mount(
                "/door",
                source="file",
                file=clip.path,
                loop=True,
                auth="digest",
                user=CAM_USER,
                password=PORCH_PASSWORD,
            ),
            Mount(
                "/side",
                source="file",
                file=clip.path,
                loop=True,
                auth="basic",
                user=CAM_USER,
                password=SIDE_PASSWORD,
            ),
            Mount(
                "/garden",
                source="file",
                file=clip.path,
                loop=True,
                auth="basic",
                user=CAM_USER,
                password=GARDEN_PASSWORD,
            ),
        ],
        registry=process_registry,
        log_dir=tmp_path / "camera",
        netns=camera_netns,
        host=CAMERA_IP,
    )
    (tmp_path / "camera").mkdir()
    camera.start()
    try:
        _run_and_audit(netns, camera, clip.path, tmp_path)
    finally:
        camera.stop()


def _run_and_audit(netns: Netns, camera: RtspCamera, clip: Path, tmp_path: Path) -> None:
    config = tmp_path / "nvr.yaml"
    config.write_text(
        "# the installer's file\n"
        "storage:\n  segment_seconds: 10\n"
        'demo:\n  enabled: "off"\n'
        "logging:\n  level: debug\n"
        "cameras:\n"
        "  - name: porch\n"
        f"    main_url: {camera.url('/door')}\n"
        f"    username: {CAM_USER}\n"
        "    password: !secret porch_password\n"
        "  - name: side\n"
        f"    main_url: {camera.url('/side')}\n"
        f"    username: {CAM_USER}\n"
        "    password: ${SIDE_PW}\n"
        '    record: "off"\n'
    )
    secrets_file = tmp_path / "secrets.yaml"
    secrets_file.write_text(f"porch_password: {json.dumps(PORCH_PASSWORD)}\n")
    secrets_file.chmod(0o600)
    tmp = tmp_path / "tmp"  # the service's TMPDIR: scanned like the data directory
    tmp.mkdir()
    recorder = Recorder.start(netns)
    answers = Answers()
    snapshot: dict[str, bytes] = {}
    requested: list[str] = []
    try:
        call_inside(netns, lambda: _control(recorder), timeout=60)
        recorder.clear()

        def inside() -> tuple[int, str, str]:
            run = start(
                ["serve", "--config", str(config), "--bind", "127.0.0.1"],
                tmp_path,
                env={"SIDE_PW": SIDE_PASSWORD, "TMPDIR": str(tmp)},
            )
            try:
                _use_the_dashboard(run, camera, answers)
                requested.extend(_browse(run, answers))
                # While it records: the WAL, open segments, temporary files.
                for name, root in (("data", run.data_dir), ("tmp", tmp)):
                    for rel, content in read_tree(root).items():
                        snapshot[f"{name} (running) {rel}"] = content
                run.proc.send_signal(signal.SIGTERM)
                assert run.proc.stdout is not None
                out = run.proc.stdout.read()  # all it printed after its 'Dashboard:' line
                code = run.proc.wait(timeout=30)
                return code, out + run.stderr.read_text(), run.url
            finally:
                run.close()

        code, log, run_url = call_inside(netns, inside, timeout=400)
        time.sleep(0.5)  # the last frames reach the recorder's socket
    finally:
        recorder.stop()
    assert code == 0, log
    assert "Traceback" not in log, log
    port = urlsplit(run_url).port
    assert port is not None, run_url
    for name, root in (("data", tmp_path / "data"), ("tmp", tmp)):
        for rel, content in read_tree(root).items():
            snapshot[f"{name} (stopped) {rel}"] = content

    # 1. Zero egress: only the camera's RTSP port, and the dashboard on loopback.
    attempts = recorder.attempts()
    assert ("tcp", CAMERA_IP, camera.port) in {
        (a.protocol, a.destination, a.port) for a in attempts
    }  # the recorder saw the service's own connections
    box = {BOX_IP, BOX_IP6, "::1"}

    def allowed(a: Attempt) -> bool:
        if a.protocol == "tcp":  # the camera's RTSP port; the dashboard, on the box itself
            return (a.destination, a.port) in {(CAMERA_IP, camera.port), ("127.0.0.1", port)}
        # UDP: only between the box's own addresses (ICE and media between the box's
        # browser and its service); never DNS or mDNS, not even to the box itself.
        mine = a.destination in box or ipaddress.ip_address(a.destination).is_loopback
        return mine and a.port not in (53, 5353)

    bad = recorder.disallowed(allowed)
    assert not bad, "connection attempts off the box:\n" + "\n".join(sorted({str(a) for a in bad}))

    # ... and Chromium showed every main page, each running its own script.
    for path in OWNER_PAGES:
        assert f"GET {urljoin(run_url, path)}" in requested, (path, requested)
    assert sum(".js" in r for r in requested) >= len(OWNER_PAGES), requested

    # 2. Secrets: nowhere but in the secrets file.
    secrets = {
        "porch camera password (secrets.yaml)": secret_forms(PORCH_PASSWORD, CAM_USER),
        "side camera password (${VAR})": secret_forms(SIDE_PASSWORD, CAM_USER),
        "garden camera password (typed in the dashboard)": secret_forms(GARDEN_PASSWORD, CAM_USER),
        "viewer password": secret_forms(VIEWER_PASSWORD, VIEWER),
        "owner passphrase": secret_forms(PASSPHRASE, OWNER),
    }
    places: dict[str, str] = {
        "service stdout+stderr": log,
        "the config (as the dashboard wrote it)": config.read_text(),
        "API answers and pages": "\n".join(answers.texts),
    }
    for rel, content in snapshot.items():
        places[rel] = content.decode("latin-1")
    leaks = [
        f"{where}: {hit}" for where, text in places.items() for hit in find_secrets(text, secrets)
    ]
    assert not leaks, "secrets found:\n" + "\n".join(leaks)
    assert "porch" in log  # the debug log did talk about the cameras
    assert "garden" in log
    assert GARDEN_PASSWORD in secrets_file.read_text()  # the dashboard put it there
    assert secrets_file.stat().st_mode & 0o077 == 0
    assert "garden" in config.read_text()  # the dashboard did write the config
    assert "yard" in config.read_text()

    # 3. Footage at rest: the run recorded, and none of it is readable without the key.
    segments = [rel for rel in snapshot if rel.startswith("data (stopped) segments/")]
    events = [rel for rel in snapshot if rel.startswith("data (stopped) sealed/thumbs/")]
    assert len(segments) >= 2, sorted(snapshot)
    assert events, sorted(snapshot)
    assert "data (running) nvr.sqlite3-wal" in snapshot, sorted(snapshot)
    plain = scan_files(snapshot)
    assert not plain, f"plaintext footage at rest: {plain}"
    # The scan does see footage: the clip the camera serves is full of it.
    assert "mp4 ftyp box" in footage_signatures(clip.read_bytes())
