"""The browser harness does what docs/testing.md says: its watch flags what must fail a
test, it skips (or in CI fails) when the browser is missing, and screenshots land in the
artefacts folder. (That the listeners are attached to real pages is shown by the browser
tests themselves: tests/browser/test_signin.py needs ``allow`` for the CSP violation it
causes, and checks the requests the watch saw.)"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest

from nvr.bench.chromium import CHROMIUM
from tests.support import browser as browser_module
from tests.support.browser import Watch, artifacts_dir, browser_unavailable_reason
from tests.support.procs import require

if TYPE_CHECKING:
    from playwright.sync_api import Browser

ORIGIN = "https://127.0.0.1:8443"


@dataclass
class FakeRequest:
    url: str
    method: str = "GET"


@dataclass
class FakeMessage:
    text: str
    type: str = "error"
    location: dict[str, Any] | None = None


def test_requests_off_the_box_are_flagged_and_same_origin_ones_are_not() -> None:
    watch = Watch(ORIGIN)
    for url in (
        f"{ORIGIN}/static/api.js",
        f"{ORIGIN}/api/v1/session",
        "data:image/png;base64,AAAA",
        "blob:https://127.0.0.1:8443/5f0c",
    ):
        watch.on_request(cast(Any, FakeRequest(url)))
    assert watch.problems() == []
    for url in (
        "https://127.0.0.1:8444/api.js",  # another port is another origin
        "http://127.0.0.1:8443/",  # and another scheme
        "https://cdn.example/lib.js",
    ):
        watch.on_request(cast(Any, FakeRequest(url)))
    assert watch.offsite == [
        "GET https://127.0.0.1:8444/api.js",
        "GET http://127.0.0.1:8443/",
        "GET https://cdn.example/lib.js",
    ]
    with pytest.raises(AssertionError, match="request left the box"):
        watch.check()


def test_console_errors_fail_unless_allowed_and_page_errors_always_do() -> None:
    watch = Watch(ORIGIN)
    watch.on_console(cast(Any, FakeMessage("just a log line", type="log")))
    watch.allow(r"status of 401")
    watch.on_console(
        cast(
            Any,
            FakeMessage(
                "Failed to load resource: the server responded with a status of 401",
                location={"url": f"{ORIGIN}/api/v1/session"},
            ),
        )
    )
    assert watch.problems() == []
    watch.on_console(cast(Any, FakeMessage("Refused to load the script (CSP)")))
    watch.on_page_error(ValueError("boom"))
    assert watch.problems() == [
        "console error: Refused to load the script (CSP)",
        "page error: boom",
    ]


def test_a_missing_browser_skips_here_and_fails_in_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(browser_module, "CHROMIUM", tmp_path / "no-chromium")
    reason = browser_unavailable_reason()
    assert reason is not None
    assert "apt-get install chromium" in reason
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        require(reason)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must provide this"):
        require(reason)


def test_screenshots_go_to_the_artifacts_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("PORCHLIGHT_ARTIFACTS", raising=False)
    assert artifacts_dir() == Path("test-artifacts")
    monkeypatch.setenv("PORCHLIGHT_ARTIFACTS", str(tmp_path / "out"))
    assert artifacts_dir() == tmp_path / "out"


def test_both_browsers_are_debian_chromium(browser: Browser, webrtc_browser: Browser) -> None:
    """Playwright drives the Debian package (no downloaded browser), with either flag set."""
    shown = subprocess.run(
        [str(CHROMIUM), "--version"], capture_output=True, text=True, check=True
    ).stdout
    for launched in (browser, webrtc_browser):
        assert launched.version in shown
        page = launched.new_page()
        try:
            assert page.evaluate("typeof RTCPeerConnection") == "function"
        finally:
            page.close()
