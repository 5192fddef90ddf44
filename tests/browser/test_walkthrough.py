"""The owner's walkthrough (issue 6), one person's session in Chromium from start to end,
against the real service with the demo doorbell; a screenshot at each main page.

Today it walks what the dashboard has: sign in, the cameras page, lock, unlock with the
passphrase, sign out. The steps the issue lists that need pages still being built are
TODO comments at the place they go (no placeholder test pretends to cover them).
"""

from __future__ import annotations

import re

from playwright.sync_api import Page

from tests.support.browser import (
    Porchlight,
    expect_no_console_errors,
    lock_now,
    reload_until,
    screenshot,
    session_info,
    sign_in,
    sign_out,
    unlock,
)


def test_the_owners_walkthrough(page: Page, porchlight: Porchlight) -> None:
    name, passphrase = porchlight.owner

    # TODO(issue 6, first run): start from a fresh box instead, with
    #   ``running_porchlight(tmp, owner=False)`` (tests/support/browser.py): on the box
    #   itself the setup page asks for the owner's name and passphrase (strength shown),
    #   then shows the recovery key once; check it is shown once and never again, that the
    #   owner must confirm they saved it, and sign in from there.
    sign_in(page, name, passphrase)
    expect_no_console_errors(page)

    # The cameras page: the demo doorbell, online and recording (keys exist).
    row = page.get_by_role("row").filter(has_text="demo-doorbell")
    reload_until(page, lambda: row.get_by_text(re.compile(r"^recording")))
    assert row.get_by_text("online").is_visible()
    screenshot(page, "walkthrough-cameras")

    # TODO(issue 6, add a camera): Settings -> add the GStreamer test camera
    #   (``rtsp_camera_factory``, tests/support/rtsp_server.py) by URL and credentials;
    #   it appears on the cameras page and goes online; its password never shows again.
    # TODO(issue 6, live): Live -> the new camera plays over WebRTC (``webrtc_browser``,
    #   inside a network namespace's reach: docs/testing.md); two screenshots of the video
    #   element some time apart differ (the pixels change).
    # TODO(issue 6, events): a visitor walks past (a synthetic clip mount) -> a motion
    #   event appears in Events without reloading the page, with its thumbnail.
    # TODO(issue 6, play): open the event -> the clip plays (the video element's
    #   currentTime advances; an audit entry "footage.view" names the owner).
    # TODO(issue 6, timeline): Timeline for today -> the recorded spans cover the
    #   recording time; clicking a span plays from there.

    # Lock now: footage locks, the passphrase dialog opens; the passphrase unlocks again.
    lock_now(page)
    assert session_info(page)[1]["unlocked"] is False
    screenshot(page, "walkthrough-locked")
    unlock(page, passphrase)
    assert session_info(page)[1]["unlocked"] is True

    # TODO(issue 6, idle lock): after the unlock's idle timeout (10 min, too long for a
    #   test: start the service with a short one once it is configurable) the next footage
    #   request brings the passphrase dialog by itself; the passphrase opens the footage.

    sign_out(page)
    assert session_info(page)[0] == 401
    page.goto("/")
    page.wait_for_url(re.compile(r"/signin$"))
    expect_no_console_errors(page)
