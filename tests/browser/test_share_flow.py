"""Issue 7's end-to-end test: a police request answered with one redacted clip, through
the pages in Chromium against the real service (``nvr demo`` with ``demo.scene: faces``:
a visitor looks into the doorbell every 20 s), then checked the way the recipient and an
auditor would (docs/design/share-flow.md):

find the visitor: the face detector (the redaction's own) over the unredacted footage of
the first recorded 21 s, which is also the control (it finds faces where the clip will be)
-> record a request -> "Share…" -> pick the clip on the timeline (a drag, then the exact
times typed; a warning when the selection leaves the requested window) -> the share page:
preview (faces blurred, the report says in how many frames) -> consent with the
passphrase -> a share link, opened by the recipient -> the bundle, downloaded -> verified
in a separate, isolated Python that has only the standard library and ``cryptography``
-> ``ffprobe`` of its ``clip.mp4`` -> the face detector finds no face in any released
frame -> the transparency report shows the request, fulfilled, and the release.
Screenshots of each new page, also at phone width.

The clip is short (4 s): Haar detection costs about half a second per 960x540 frame on
the shared 2-core machine, and the preview, the export and this test each run it.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from playwright.sync_api import Page, expect

from nvr.redact import FaceDetector
from nvr.service.cameras import DEMO_CAMERA
from tests.sharing.test_bundle import ffprobe, run_verifier
from tests.support.browser import (
    PHONE,
    Porchlight,
    browser_unavailable_reason,
    expect_no_console_errors,
    running_porchlight,
    screenshot,
)
from tests.support.procs import require

# 10 s segments: footage is on the timeline (and in clips) once a segment closes.
CONFIG = "demo:\n  scene: faces\nstorage:\n  segment_seconds: 10\n"
PERIOD = 20  # the faces scene's visitor comes back every 20 s (nvr.demo.scene "demo_faces")
CLIP_SECONDS = 4
SAMPLE = 5  # frames: the search for the visitor looks at every fifth one (0.5 s at 10 fps)
WORK_MS = 180_000  # a preview or an export of the clip on two busy cores (a bound, not a target)


@pytest.fixture(scope="module")
def porchlight(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Porchlight]:
    """``nvr demo`` with an owner, the faces scene and short segments (overrides the
    harness's fixture for this module)."""
    require(browser_unavailable_reason())
    with running_porchlight(tmp_path_factory.mktemp("porchlight"), config=CONFIG) as box:
        yield box


def local_input(when: datetime, seconds: bool = True) -> str:
    """A ``datetime-local`` value in the machine's zone (the browser's)."""
    return when.astimezone().strftime("%Y-%m-%dT%H:%M:%S" if seconds else "%Y-%m-%dT%H:%M")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def recorded_span(page: Page, need: timedelta) -> tuple[datetime, datetime]:
    """Poll the timeline API (as the page does) until the demo doorbell has a recorded
    span at least ``need`` long; its (start, end) in UTC."""
    for _ in range(240):
        day = datetime.now(UTC).date().isoformat()
        answer = page.context.request.get(f"/api/v1/cameras/{DEMO_CAMERA}/timeline?day={day}")
        assert answer.ok, answer.text()
        for span in answer.json()["spans"]:
            start, end = utc(span["start"]), utc(span["end"])
            if end - start >= need:
                return start, end
        page.wait_for_timeout(500)
    raise AssertionError(f"the demo doorbell recorded no span of {need} within two minutes")


def faces_at(data: bytes, every: int = 1) -> tuple[int, list[float]]:
    """(frames, the times in seconds from the clip's start of the frames, every
    ``every``-th, in which the redaction's own face detector finds a face)."""
    detector = FaceDetector()
    frames = 0
    found: list[float] = []
    with av.open(io.BytesIO(data), "r") as container:
        for index, frame in enumerate(container.decode(video=0)):
            frames += 1
            if index % every:
                continue
            image = np.ascontiguousarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8)
            if detector.detect(image):
                found.append(float(frame.time or 0.0))
    return frames, found


def longest_run(times: list[float], step: float) -> list[float]:
    """The longest run of ``times`` no more than ``step`` apart."""
    best: list[float] = []
    run: list[float] = []
    for t in times:
        run = [*run, t] if run and t - run[-1] <= step + 1e-6 else [t]
        if len(run) > len(best):
            best = run
    return best


def find_the_visitor(page: Page, start: datetime) -> tuple[datetime, int]:
    """Where the visitor's face is, in the unredacted footage from ``start`` on (one
    visit's period and a little): the middle of the longest stretch of frames with a
    detected face (UTC), and how many sampled frames there had one."""
    end = start + timedelta(seconds=PERIOD + 1)
    query = f"start={start:%Y-%m-%dT%H:%M:%SZ}&end={end:%Y-%m-%dT%H:%M:%SZ}"
    source = page.context.request.get(f"/api/v1/cameras/{DEMO_CAMERA}/clip?{query}")
    assert source.ok, source.text()
    begins = utc(source.headers["porchlight-clip-start"])
    frames, found = faces_at(source.body(), SAMPLE)
    run = longest_run(found, SAMPLE / 10)
    assert len(run) >= 3, f"no visitor's face found in {frames} unredacted frames: {found}"
    return begins + timedelta(seconds=run[len(run) // 2]), len(run)


def no_sideways_scroll(page: Page) -> None:
    wide: Any = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert wide[0] <= wide[1], f"the page scrolls sideways at phone width: {wide}"


@pytest.mark.timeout(900)  # several minutes of face detection on two busy cores
def test_share_one_redacted_clip_with_a_request(
    signed_in_page: Page, porchlight: Porchlight, tmp_path: Path
) -> None:
    page = signed_in_page
    passphrase = porchlight.owner[1]
    start, _ = recorded_span(page, timedelta(seconds=PERIOD + 8))
    first = start.replace(microsecond=0) + timedelta(seconds=1)
    # The control first: faces in the unredacted footage, which also says where the clip goes.
    face, seen = find_the_visitor(page, first)
    clip_start = max(face.replace(microsecond=0) - timedelta(seconds=CLIP_SECONDS // 2), first)
    clip_end = clip_start + timedelta(seconds=CLIP_SECONDS)
    now = datetime.now(UTC)
    window = (now - timedelta(minutes=10), now + timedelta(minutes=10))

    # 1. The request, typed in as it was received.
    page.goto("/requests/new")
    page.get_by_label("Organisation (or person) asking").fill("Metro Police")
    page.get_by_label("Case or reference number").fill("CASE-9")
    page.get_by_label("Legal basis").select_option("voluntary")
    page.get_by_label("From").fill(local_input(window[0], seconds=False))
    page.get_by_label("To", exact=True).fill(local_input(window[1], seconds=False))
    page.get_by_label("Cameras (comma separated)").fill(DEMO_CAMERA)
    page.get_by_label("Stated reason").fill("someone at the door")
    page.get_by_test_id("save-request").click()
    expect(page.get_by_test_id("request-state")).to_have_text("received")
    share = page.get_by_test_id("share")
    expect(share).to_have_attribute("href", re.compile(r"^/timeline\?request=\d+&camera="))
    request_id = int(page.get_by_test_id("request").get_attribute("data-request") or "0")

    # 2. The timeline in selection mode: the request, its window, nothing selected.
    share.click()
    panel = page.get_by_test_id("select-panel")
    expect(panel).to_be_visible()
    expect(panel).to_contain_text(f"For request {request_id}: Metro Police (CASE-9)")
    expect(page.get_by_test_id("select-summary")).to_have_text("Nothing selected yet.")
    expect(page.get_by_test_id("select-continue")).to_be_disabled()
    expect(page.get_by_test_id("timeline-window")).to_have_count(1)
    # A drag across the bar (zoomed to this hour) selects; a click would play.
    page.get_by_label("Zoom").select_option(str(datetime.now().hour))
    box = page.get_by_test_id("timeline").bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.3, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.45, y, steps=5)
    page.mouse.move(box["x"] + box["width"] * 0.6, y, steps=5)
    page.mouse.up()
    expect(page.get_by_test_id("select-start")).not_to_have_value("")
    expect(page.get_by_test_id("select-continue")).to_be_enabled()
    expect(page.get_by_test_id("timeline-selection")).to_have_count(1)
    # Then the exact clip, typed: one past the window's end warns (allowed), then inside.
    page.get_by_test_id("select-start").fill(local_input(clip_start))
    page.get_by_test_id("select-end").fill(local_input(window[1] + timedelta(minutes=5)))
    warning = page.get_by_test_id("select-warning")
    expect(warning).to_contain_text("outside the requested window")
    expect(page.get_by_test_id("select-continue")).to_be_enabled()
    page.get_by_test_id("select-end").fill(local_input(clip_end))
    expect(warning).to_be_hidden()
    expect(page.get_by_test_id("select-summary")).to_contain_text(f"({CLIP_SECONDS} s)")
    screenshot(page, "share-timeline-selection")
    page.get_by_test_id("select-continue").click()

    # 3. The share page: the clip, redaction options, sound off, the preview.
    page.wait_for_url(re.compile(r"/share\?"))
    expect(page.get_by_test_id("share-clip")).to_contain_text(DEMO_CAMERA)
    expect(page.get_by_test_id("share-warning")).to_be_hidden()
    expect(
        page.get_by_label("Blur faces (detected and followed from frame to frame)")
    ).to_be_checked()
    expect(page.get_by_test_id("audio")).not_to_be_checked()
    expect(page.get_by_test_id("release-text")).to_have_value(
        re.compile(r"^Released to Metro Police, case CASE-9, ")
    )
    expect(page.locator("#share-consent")).to_be_hidden()  # no consent before a preview
    screenshot(page, "share-options")
    page.get_by_test_id("make-preview").click()
    report = page.get_by_test_id("preview-report")
    expect(report).to_contain_text("faces blurred in", timeout=WORK_MS)
    shown = re.search(r"faces blurred in (\d+) of (\d+) frames", report.inner_text())
    assert shown, report.inner_text()
    assert int(shown.group(1)) > 0, "the preview found no face to blur in the faces scene"
    video = page.get_by_test_id("preview-video")
    page.wait_for_function("(v) => v.readyState >= 1 && v.duration > 0", arg=video.element_handle())
    screenshot(page, "share-preview")

    # 4. Consent with the passphrase, typed again; the bundle; the download.
    expect(page.get_by_label("Recipient", exact=True)).to_have_value("Metro Police")
    page.get_by_label("When the bundle is made, mark the request as").select_option("fulfilled")
    page.get_by_test_id("consent-passphrase").fill(passphrase)
    page.get_by_test_id("consent").click()
    expect(page.get_by_test_id("consent-done")).to_contain_text("signed with your key")
    download_link = page.get_by_test_id("download-bundle")
    expect(download_link).to_be_visible(timeout=WORK_MS)
    expect(page.get_by_test_id("consent-passphrase")).to_have_value("")
    # A share link to the same bundle: shown once, with this box's origin; the recipient's
    # page (no account) offers the file.
    expect(page.locator("#share-links")).to_have_attribute("data-state", "shown")
    page.get_by_role("button", name="Make a link").click()
    link_url = page.get_by_test_id("link-url")
    expect(link_url).to_have_value(re.compile(rf"^{re.escape(porchlight.origin)}/s/.+"))
    expect(page.get_by_test_id("link")).to_contain_text("0 of 3 downloads")
    browser = page.context.browser
    assert browser is not None
    recipient = browser.new_context(ignore_https_errors=True)
    try:
        public = recipient.new_page()
        public.goto(link_url.input_value())
        expect(
            public.get_by_role("link", name=re.compile(r"^Download porchlight-"))
        ).to_be_visible()
    finally:
        recipient.close()
    expect(page.get_by_test_id("consent-list").get_by_test_id("consent")).to_have_count(1)
    screenshot(page, "share-bundle")
    with page.expect_download() as fetched:
        download_link.click()
    archive = tmp_path / fetched.value.suggested_filename
    fetched.value.save_as(archive)
    assert archive.name.endswith(".zip")

    # 5. The recipient's check: the bundle's own verifier, no Porchlight, only cryptography.
    unpacked = tmp_path / "bundle"
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(unpacked)
    (folder,) = list(unpacked.iterdir())
    verified = run_verifier(folder)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "NOT VERIFIED" not in verified.stdout
    assert "VERIFIED" in verified.stdout
    probed = ffprobe(folder / "clip.mp4")
    streams = probed["streams"]
    assert isinstance(streams, list)
    assert [s["codec_name"] for s in streams] == ["h264"]  # re-encoded, no sound
    fmt = probed["format"]
    assert isinstance(fmt, dict)
    assert abs(float(fmt["duration"]) - CLIP_SECONDS) < 3

    # 6. No detectable face is released (every frame), where the unredacted footage had
    # faces in `seen` sampled frames (the control, step 0).
    released, left = faces_at((folder / "clip.mp4").read_bytes())
    assert released >= CLIP_SECONDS * 10 - 2
    assert left == [], f"a face is detectable in {len(left)} of {released} released frames"
    assert seen >= 3
    query = f"start={clip_start:%Y-%m-%dT%H:%M:%SZ}&end={clip_end:%Y-%m-%dT%H:%M:%SZ}"

    # 7. The request page lists the consent; the transparency report shows the release.
    page.goto(f"/requests/{request_id}")
    expect(page.get_by_test_id("request-state")).to_have_text("fulfilled")
    expect(page.get_by_test_id("request-consents").get_by_test_id("consent")).to_contain_text(
        "to Metro Police"
    )
    page.get_by_role("link", name="Report").click()
    expect(page.get_by_test_id("report-audit")).to_contain_text("verified")
    totals = page.get_by_test_id("report-totals")
    expect(totals.get_by_role("row").filter(has_text="Clips released")).to_contain_text("1")
    expect(totals.get_by_role("row").filter(has_text="Clips redacted")).to_contain_text("1")
    row = page.get_by_test_id("report-requests").get_by_role("row").filter(has_text="Metro Police")
    expect(row).to_contain_text("fulfilled")
    expect(row).to_contain_text(f"1 ({CLIP_SECONDS})")
    screenshot(page, "share-report")

    # 8. A personal share starts from the timeline itself: no request, no window, no text.
    page.goto(f"/timeline?camera={DEMO_CAMERA}")
    page.get_by_test_id("share-a-clip").click()
    expect(page.get_by_test_id("select-panel")).to_contain_text("A personal share (no request)")
    expect(page).to_have_url(re.compile(r"[?&]share=1"))
    expect(page.get_by_test_id("timeline-window")).to_have_count(0)
    page.get_by_test_id("select-start").fill(local_input(clip_start))
    page.get_by_test_id("select-end").fill(local_input(clip_end))
    page.get_by_test_id("select-continue").click()
    page.wait_for_url(re.compile(r"/share\?"))
    expect(page.get_by_test_id("share-clip")).to_contain_text("a personal share (no request)")
    expect(page.get_by_test_id("release-text")).to_have_value("")
    expect(page.get_by_test_id("consent-list")).to_contain_text("None yet.")

    # 9. The new pages at phone width: no sideways scrolling.
    page.set_viewport_size({"width": PHONE["width"], "height": PHONE["height"]})
    page.goto(f"/timeline?request={request_id}&camera={DEMO_CAMERA}")
    expect(page.get_by_test_id("select-panel")).to_be_visible()
    expect(page.get_by_test_id("timeline-window")).to_have_count(1)  # the day has loaded
    no_sideways_scroll(page)
    screenshot(page, "share-timeline-phone")
    page.goto(f"/share?camera={DEMO_CAMERA}&{query}&request={request_id}")
    expect(page.get_by_test_id("consent-list").get_by_test_id("consent")).to_have_count(1)
    no_sideways_scroll(page)
    screenshot(page, "share-page-phone")
    expect_no_console_errors(page)
