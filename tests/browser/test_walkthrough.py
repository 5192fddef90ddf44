"""The owner's walkthrough (issue 6): one person's first hour with a fresh box, in Chromium,
against the real service; a screenshot of each main page is kept as an artefact.

Everything runs inside one network namespace (WebRTC ICE only inside a namespace): ``nvr
serve`` on a box without keys or owner, the GStreamer test camera and Chromium, all
started from a thread that joined it (``tests/live/inside.call_inside``). The camera
serves, looped, a synthetic clip of a person walking past the door and then an empty
porch long enough for a motion event to end (``walk_past``: the motion detector fires on
the walker and seals the event once the porch is quiet). The config has 10 s segments and
a 30 s footage idle lock (``security.footage_idle_lock_seconds``: minutes in real life),
so the walk takes about a minute and a half; docs/design/browser-tests.md says how.

The steps, each through the pages as a person does them: the setup link from the
service's log; owner and passphrase (the strength shown, a weak one called weak); the
recovery key shown, downloaded, confirmed, and gone; the camera added on the cameras page
after a stream test; its live view playing with changing pixels; a motion event in the
events list, played (the video's clock runs); the timeline's recorded span for today;
settings and status; the idle lock, the passphrase dialog on the next footage action,
footage again; sign-out, after which the API answers 401.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from nvr.clock import SystemClock
from nvr.config import Config
from nvr.service.box import open_box
from tests.live.inside import call_inside
from tests.service.test_serve import Running, start
from tests.support.browser import (
    TIMEOUT_MS,
    browser_unavailable_reason,
    expect_no_console_errors,
    launch,
    screenshot,
    served_fingerprint,
    session_info,
    sign_out,
    unlock,
    watch_of,
    watched_context,
)
from tests.support.footage import SyntheticClipFactory
from tests.support.netns import Netns
from tests.support.procs import require
from tests.support.rtsp_server import Mount, RtspCameraFactory

pytestmark = [pytest.mark.netns, pytest.mark.rtsp]

OWNER = "robin"
PASSPHRASE = "Lantern-Orchard-73-drifting"
CAMERA = "porch"
CAM_USER = "installer"
CAM_PASSWORD = "Porch-Walk-7q2x"
IDLE_LOCK_SECONDS = 30
# walk_past: a person crosses from about 1 s to 6.7 s, then the porch is empty; looped
# every 15 s the quiet (about 9 s) outlasts the detector's 6 s, so each pass is one event.
LOOP_SECONDS = 15.0
CONFIG = f"""\
# the installer's file: short segments and a short idle lock, for this test only
storage:
  segment_seconds: 10
security:
  footage_idle_lock_seconds: {IDLE_LOCK_SECONDS}
demo:
  enabled: "off"
cameras: []
"""
# The events page's status line once its list arrived (not "Loading…", not locked).
LISTED = re.compile(r"^(No events yet\.|No events match these filters\.|\d+ events?)$")
SETUP_LINK = re.compile(r"https://\S+/setup\?code=([0-9A-Z-]+)")
# The live video's picture, drawn onto a canvas: a checksum of its pixels and its clock.
SAMPLE = """
(selector) => {
  const video = document.querySelector(selector);
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth; canvas.height = video.videoHeight;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(video, 0, 0);
  const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let sum = 0;
  for (let i = 0; i < data.length; i += 4) {
    sum = (sum + data[i] * ((i >> 2) % 251 + 1)) % 2147483647;
  }
  return { time: video.currentTime, width: video.videoWidth, checksum: sum };
}
"""
CLOCK = "(selector) => document.querySelector(selector).currentTime"


def until(what: str, check: Callable[[], Any], timeout: float, page: Page) -> Any:
    """Poll ``check()`` (every half second, the page's own timer) until it returns
    something truthy; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        page.wait_for_timeout(500)
    return result


PATHS = {
    "Live": "/live",
    "Events": "/events",
    "Timeline": "/timeline",
    "Status": "/",
    "Cameras": "/cameras",
    "Settings": "/settings",
}


def nav(page: Page, label: str) -> None:
    """Click an entry of the main navigation and wait until its page has loaded (its
    module script ran, so its buttons work)."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name=label).click()
    page.wait_for_url(re.compile(rf"^https://[^/]+{re.escape(PATHS[label])}(\?.*)?$"))
    page.wait_for_load_state("load")


def plays(page: Page, selector: str, timeout: float = 30.0) -> None:
    """The video at ``selector`` plays: its ``currentTime`` advances by a second."""
    first = until(
        f"{selector} starts", lambda: page.evaluate(CLOCK, selector) or None, timeout, page
    )
    until(
        f"{selector} advances", lambda: page.evaluate(CLOCK, selector) > first + 1.0, timeout, page
    )


def reload_until_shown(
    page: Page, loaded: Callable[[], None], find: Callable[[], Locator], timeout: float
) -> None:
    """Reload until ``find()`` is visible, each time first waiting for ``loaded()`` (the
    page's script has shown its answer): unlike ``reload_until`` (server-rendered state),
    these lists load after the page does, and a reload before they answer starts over."""
    deadline = time.monotonic() + timeout
    while True:
        loaded()
        if find().first.is_visible():
            return
        assert time.monotonic() < deadline, f"not shown within {timeout} s: {find()}"
        page.wait_for_timeout(1000)
        page.reload()


def setup_code(run: Running, timeout: float = 30.0) -> str:
    """The setup code as the owner reads it: the first-run line of the service's log."""
    deadline = time.monotonic() + timeout
    while (match := SETUP_LINK.search(run.stderr.read_text())) is None:
        assert time.monotonic() < deadline, run.stderr.read_text()
        time.sleep(0.2)
    return match.group(1)


def first_run(page: Page, code: str) -> None:
    page.goto(f"/setup?code={code}")
    owner = page.locator("#step-owner")
    owner.get_by_role("heading", name="1. The owner").wait_for()
    owner.get_by_label("Owner name").fill(OWNER)
    passphrase = owner.get_by_label("Key passphrase")
    strength = owner.locator("#strength-text")
    passphrase.fill("password1")
    expect(strength).to_contain_text("weak")
    passphrase.fill(PASSPHRASE)
    expect(strength).to_have_text(re.compile(r"^Strength: (strong|very strong)\.$"))
    owner.get_by_label("Passphrase again").fill(PASSPHRASE)
    screenshot(page, "walkthrough-01-setup-owner")
    owner.get_by_role("button", name="Create the keys").click()

    step = page.locator("#step-recovery")
    step.get_by_role("heading", name="2. Your recovery key").wait_for(timeout=60_000)
    recovery = step.locator("#recovery-key").inner_text().strip()
    assert recovery.startswith("AGE-SECRET-KEY-1"), recovery
    expect(step.locator("#recording-note")).to_have_text(
        "Recording starts as soon as a camera is added."
    )
    screenshot(page, "walkthrough-02-setup-recovery-key")
    with page.expect_download() as download:
        step.get_by_role("button", name="Download").click()
    saved = Path(download.value.path()).read_text()
    assert recovery in saved.splitlines()
    confirm = step.get_by_role("button", name="Continue")
    expect(confirm).to_be_disabled()  # not before the owner says it is stored
    step.get_by_label("I have stored the recovery key").check()
    confirm.click()
    page.locator("#step-cameras").get_by_role("heading", name="3. Cameras").wait_for()
    # Shown once: gone from the page, and the setup is over for good.
    assert recovery not in page.content()
    assert page.context.request.get("/setup").status == 409
    screenshot(page, "walkthrough-03-setup-cameras")
    page.get_by_role("link", name="Open the dashboard").click()
    page.get_by_role("heading", name="Status").wait_for()


def add_camera(page: Page, url: str) -> None:
    nav(page, "Cameras")
    page.get_by_role("button", name="Add a camera").click()
    form = page.locator("#camera-form")
    form.get_by_label("Name (a-z, 0-9, - and _)").fill(CAMERA)
    form.get_by_label("RTSP URL of the main stream").fill(url)
    form.get_by_label("User name").fill(CAM_USER)
    form.get_by_label(re.compile(r"^Password")).fill(CAM_PASSWORD)
    form.get_by_role("button", name="Test the stream").click()
    expect(form.locator("#f-result")).to_contain_text("The camera sends", timeout=30_000)
    screenshot(page, "walkthrough-04-camera-test")
    form.get_by_role("button", name="Save", exact=True).click()
    row = page.get_by_role("row").filter(has_text=CAMERA)
    reload_until_shown(
        page,
        lambda: expect(row).to_be_visible(),  # the list arrived
        lambda: row.get_by_text("online", exact=True),
        timeout=45,
    )
    assert row.get_by_text("continuous", exact=True).is_visible()
    assert row.get_by_text("password set", exact=True).is_visible()
    assert CAM_PASSWORD not in page.content()
    screenshot(page, "walkthrough-05-cameras")


def live_view(page: Page) -> None:
    nav(page, "Live")
    page.get_by_test_id(f"live-tile-{CAMERA}").get_by_role("link", name=CAMERA).click()
    tile = page.locator(f'[data-testid="live-tile-{CAMERA}"][data-playing="true"]')
    tile.wait_for(timeout=45_000)
    video = f'[data-testid="live-tile-{CAMERA}"] [data-testid="live-video"]'
    # Chromium may present WebRTC's 2x2 placeholder before the first decoded frame (seen
    # on a loaded machine): the camera's 640-wide picture must follow, within seconds.
    first = until(
        "the live video has the camera's size",
        lambda: (s := page.evaluate(SAMPLE, video))["width"] == 640 and s,
        15,
        page,
    )
    # The walker crosses for about 6 s of every 15: the picture changes within one loop.
    until(
        "the live picture changes",
        lambda: (
            (s := page.evaluate(SAMPLE, video))["checksum"] != first["checksum"]
            and s["time"] > first["time"]
        ),
        2 * LOOP_SECONDS,
        page,
    )
    expect(
        page.get_by_test_id(f"live-tile-{CAMERA}").get_by_test_id("live-fallback")
    ).to_be_hidden()
    screenshot(page, "walkthrough-07-live")


def play_an_event(page: Page, shot: str) -> None:
    """Events page: wait (reloading, as a person would) for a motion event of the camera,
    play it and see the clip's clock run."""
    if not page.url.endswith("/events"):
        nav(page, "Events")
    rows = page.get_by_test_id("event-row").filter(has_text=f"Motion · {CAMERA}")
    reload_until_shown(
        page,
        lambda: expect(page.locator("#events-status")).to_have_text(LISTED),
        lambda: rows.get_by_test_id("event-play"),
        timeout=90,
    )
    screenshot(page, shot)
    rows.first.get_by_test_id("event-play").click()
    page.get_by_test_id("event-video").wait_for()
    plays(page, '[data-testid="event-video"]')


def walk(run: Running, camera_url: str) -> None:
    from playwright.sync_api import sync_playwright

    assert served_fingerprint(run.url) == run.fingerprint
    code = setup_code(run)
    # expect() waits 5 s by default, short on two busy cores: a page step's time-out here.
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as driver:
        browser = launch(driver, webrtc=True)
        try:
            with watched_context(browser, run.url) as context:
                page = context.new_page()
                first_run(page, code)
                screenshot(page, "walkthrough-03b-status-empty")
                add_camera(page, camera_url)

                # Events: a person looks (none yet, usually); the list also uses the unlock.
                nav(page, "Events")
                expect(page.locator("#events-status")).to_have_text(LISTED)  # none, usually
                screenshot(page, "walkthrough-06-events-empty")

                live_view(page)
                play_an_event(page, "walkthrough-08-events")
                screenshot(page, "walkthrough-09-event-playing")

                nav(page, "Timeline")
                page.get_by_label("Camera", exact=True).select_option(CAMERA)
                page.get_by_role("button", name="Show", exact=True).click()
                spans = page.get_by_test_id("timeline-span")
                spans.first.wait_for(state="attached")
                assert spans.count() >= 1
                expect(page.locator("#timeline-status")).to_contain_text(
                    re.compile(r"recorded in \d+ spans?")
                )
                screenshot(page, "walkthrough-10-timeline")

                nav(page, "Settings")
                screenshot(page, "walkthrough-11-settings")
                nav(page, "Status")
                status_row = page.get_by_role("row").filter(has_text=CAMERA)
                expect(status_row).to_contain_text(re.compile(r"recording \(\d+ segments\)"))
                # The fingerprint the owner compares with the one the service logged.
                expect(page.get_by_text("TLS certificate fingerprint")).to_contain_text(
                    run.fingerprint
                )
                screenshot(page, "walkthrough-12-status")
                expect_no_console_errors(page)

                # Idle: nothing touches footage; the unlock ends by itself.
                assert session_info(page)[1]["unlocked"] is True
                until(
                    "the idle lock",
                    lambda: session_info(page)[1]["unlocked"] is False,
                    IDLE_LOCK_SECONDS + 30,
                    page,
                )
                watch_of(page).allow(r"status of 401 .*/api/v1/events")  # the locked list
                nav(page, "Events")
                page.locator("#unlock-dialog[open]").wait_for()
                screenshot(page, "walkthrough-13-locked")
                unlock(page, PASSPHRASE)
                assert session_info(page)[1]["unlocked"] is True
                play_an_event(page, "walkthrough-14-events-unlocked")

                sign_out(page)
                assert session_info(page)[0] == 401
                assert page.context.request.get("/api/v1/events").status == 401
                page.goto("/")
                page.wait_for_url(re.compile(r"/signin$"))
                screenshot(page, "walkthrough-15-signed-out")
        finally:
            browser.close()
            expect.set_options(timeout=5_000)  # Playwright's default, for other modules


def test_the_owners_walkthrough(
    netns: Netns,
    rtsp_camera_factory: RtspCameraFactory,
    synthetic_clip_factory: SyntheticClipFactory,
    tmp_path: Path,
) -> None:
    require(browser_unavailable_reason())
    clip = synthetic_clip_factory("walk_past", LOOP_SECONDS)
    assert any(t.motion for t in clip.truths)
    assert not any(t.motion for t in clip.truths[-80:])  # the last 8 s: an empty porch
    camera = rtsp_camera_factory(
        [
            Mount(
                "/door",
                source="file",
                file=clip.path,
                loop=True,
                auth="digest",
                user=CAM_USER,
                password=CAM_PASSWORD,
            )
        ],
        netns=netns,
    )
    config = tmp_path / "nvr.yaml"
    config.write_text(CONFIG)

    def inside() -> tuple[int, str]:
        run = start(["serve", "--config", str(config), "--bind", "127.0.0.1"], tmp_path)
        try:
            walk(run, camera.url("/door"))
            return run.stop()
        finally:
            run.close()

    code, log = call_inside(netns, inside, timeout=300)
    assert code == 0, log
    assert "Traceback" not in log, log
    assert PASSPHRASE not in log
    assert CAM_PASSWORD not in log
    assert CAM_PASSWORD not in config.read_text()  # in the secrets file, not the config
    # What the owner did is in the audit log, in order, with the idle lock among it.
    entries = audit_entries(tmp_path / "data")
    kinds = [entry["kind"] for entry in entries]
    for kind in ("setup.owner", "setup.recovery_confirmed", "live.start", "footage.view"):
        assert kind in kinds, kinds
    idle = next(
        i for i, e in enumerate(entries) if e["kind"] == "lock" and e["payload"]["reason"] == "idle"
    )
    assert "unlock" in kinds[idle:]  # the passphrase again, after the idle lock
    assert "footage.view" in kinds[idle:]  # and the clip played again
    for entry in entries:
        if entry["kind"] in ("live.start", "footage.view"):
            assert entry["actor"] == {"role": "owner", "user": OWNER}
            assert entry["payload"]["camera"] == CAMERA


def audit_entries(data_dir: Path) -> list[dict[str, Any]]:
    """The box's audit log after the service stopped (the box opened as ``nvr`` does)."""
    cfg = Config().model_copy(
        update={"storage": Config().storage.model_copy(update={"data_dir": data_dir})}
    )
    box = open_box(cfg, SystemClock())
    try:
        count = box.audit.verify().entries
        return [json.loads(box.audit.entry(i)) for i in range(count)]
    finally:
        box.close()
