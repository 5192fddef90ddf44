"""Browser tests: Debian Chromium driven by Playwright against the real service.

Contract:

- **Browser.** Playwright's *sync* API (``playwright.sync_api``) drives Debian's
  ``/usr/bin/chromium`` (never ``playwright install``) with ``FLAGS`` (``WEBRTC_FLAGS`` on
  top for pages that do WebRTC: ``webrtc_browser``). One browser per test module
  (``browser``, module scope); each test gets fresh contexts (no shared cookies). Tests
  that use it are plain ``def`` functions: the sync API runs its own event loop between
  calls, so a browser module holds no ``async def`` test (pytest-asyncio's loop and
  Playwright's would meet). Without chromium or playwright the tests skip and say what to
  install; in CI (``CI=true``, set by ``.ci/run``) they fail instead (``procs.require``).
- **Service.** ``porchlight`` (module scope; ``running_porchlight(tmp, owner=False)`` for
  a fresh box without keys) runs ``nvr demo`` for real (HTTPS on a free
  port of 127.0.0.1, owner ``OWNER_NAME`` created with ``--owner`` from a passphrase file,
  the demo doorbell recording) and yields a ``Porchlight``: ``url``, ``origin``,
  ``fingerprint`` (checked: the certificate actually served has the SHA-256 fingerprint
  the service printed), ``owner`` (name, passphrase) and the ``Running`` process of
  tests/service (``run.client()`` for an API call beside the browser). It stops the
  service with SIGTERM at the end of the module and fails if it did not stop cleanly.
- **Watched pages.** ``open_page(viewport=None)`` (fixture) opens a page in a new context
  (``ignore_https_errors``: the box's self-signed certificate, whose fingerprint the
  fixture checked instead; ``base_url`` the service, so ``page.goto("/signin")`` works).
  A ``Watch`` records on every page of that context: console errors (a CSP violation is
  one), uncaught page errors, and every request to another origin than the service's
  (``data:``/``blob:`` URLs are not requests that leave the box). At the end of the test
  any of these fails it; ``expect_no_console_errors(page)`` checks at a point of the
  test's choosing, ``watch_of(page).allow(pattern)`` accepts console errors the test
  expects (a wrong password makes Chromium log the 401 of the sign-in call).
  ``page`` is ``open_page()``; ``signed_in_page`` is a page signed in as the owner on the
  cameras page.
- **Own service and browser.** ``watched_context(browser, url)`` is such a context for a
  test that starts its own service and browser (``launch(driver, webrtc=True)``), as
  the walkthrough does inside a network namespace.
- **Page helpers** (a person's steps, not selectors scattered over tests): ``sign_in``,
  ``sign_out``, ``lock_now``, ``unlock``, ``reload_until``, ``session_info``
  (``GET /api/v1/session`` with the page's cookies), ``screenshot(page, name)`` (PNG
  under ``$PORCHLIGHT_ARTIFACTS/screenshots``, default ``test-artifacts/screenshots``).
"""

from __future__ import annotations

import contextlib
import os
import re
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from nvr.bench.chromium import CHROMIUM, FLAGS, WEBRTC_FLAGS
from tests.support.procs import require

if TYPE_CHECKING:
    from playwright.sync_api import (
        Browser,
        BrowserContext,
        ConsoleMessage,
        Locator,
        Page,
        Playwright,
        Request,
        ViewportSize,
    )

    from tests.service.test_serve import Running

OWNER_NAME = "alex"
OWNER_PASSPHRASE = "sunny-Meadow-42-quietly"
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 15_000  # one step of a page (a click, a navigation): generous on 2 busy cores


def browser_unavailable_reason() -> str | None:
    """Why the browser tests cannot run here, or ``None``."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: apt-get install chromium (Debian)"
    try:
        import playwright.sync_api  # noqa: F401 (only: is it installed?)
    except ImportError:
        return "playwright is missing: pip install -e '.[test]' (never 'playwright install')"
    return None


def artifacts_dir() -> Path:
    return Path(os.environ.get("PORCHLIGHT_ARTIFACTS", "test-artifacts"))


def screenshot(page: Page, name: str) -> Path:
    """A full-page PNG of what the page shows now, kept as a test artefact."""
    path = artifacts_dir() / "screenshots" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


@dataclass
class Watch:
    """What went wrong on the pages of one browser context (see the module docstring)."""

    origin: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    offsite: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        """Accept console errors matching ``pattern`` (a regex searched in the message and
        the URL it names) from now on in this context."""
        self.allowed.append(re.compile(pattern))

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        where = message.location.get("url", "") if message.location else ""
        text = f"{message.text} [{where}]" if where else message.text
        if not any(p.search(text) for p in self.allowed):
            self.console_errors.append(text)

    def on_page_error(self, error: Any) -> None:
        self.page_errors.append(str(error))

    def on_request(self, request: Request) -> None:
        url = request.url
        self.requests.append(f"{request.method} {url}")
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob"):
            return
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            self.offsite.append(f"{request.method} {url}")

    def problems(self) -> list[str]:
        return (
            [f"console error: {e}" for e in self.console_errors]
            + [f"page error: {e}" for e in self.page_errors]
            + [f"request left the box: {r}" for r in self.offsite]
        )

    def check(self) -> None:
        problems = self.problems()
        assert not problems, "\n".join(problems)

    def attach(self, context: BrowserContext) -> None:
        context.on("console", self.on_console)
        context.on("weberror", lambda error: self.on_page_error(error.error))
        context.on("request", self.on_request)


_WATCHES: dict[int, Watch] = {}  # id(context) -> its Watch, while the test runs


def watch_of(page: Page) -> Watch:
    return _WATCHES[id(page.context)]


def expect_no_console_errors(page: Page) -> None:
    """Fail now if the page's context logged an error, threw, or left the box's origin."""
    watch_of(page).check()


# -- a person's steps ----------------------------------------------------------------------


def sign_in(page: Page, name: str, password: str, *, expect_ok: bool = True) -> None:
    """Type into the sign-in form and press Enter; with ``expect_ok`` wait for the
    cameras page it opens."""
    if urlsplit(page.url).path != "/signin":
        page.goto("/signin")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password or, for the owner, the key passphrase").fill(password)
    page.get_by_role("button", name="Sign in").click()
    if expect_ok:
        page.wait_for_url(re.compile(r"/$"))
        page.get_by_role("heading", name="Status").wait_for()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/signin$"))


def lock_now(page: Page) -> None:
    """The owner's Lock button: footage locks and the passphrase dialog opens."""
    page.get_by_role("button", name="Lock").click()
    page.locator("#unlock-dialog[open]").wait_for()


def unlock(page: Page, passphrase: str) -> None:
    """Answer the open passphrase dialog; it closes once footage is unlocked."""
    dialog = page.locator("#unlock-dialog")
    dialog.get_by_label("Key passphrase").fill(passphrase)
    dialog.get_by_role("button", name="Unlock").click()
    page.locator("#unlock-dialog:not([open])").wait_for(state="attached")


def reload_until(page: Page, find: Callable[[], Locator], timeout: float = 30.0) -> None:
    """Reload (as a person would) until ``find()`` shows something, or fail after
    ``timeout`` seconds: for server-rendered state that changes (a camera coming online)."""
    deadline = time.monotonic() + timeout
    while not find().first.is_visible():
        assert time.monotonic() < deadline, f"not shown within {timeout} s: {find()}"
        page.wait_for_timeout(500)
        page.reload()


def session_info(page: Page) -> tuple[int, dict[str, Any]]:
    """``GET /api/v1/session`` with the page's cookies: (status, JSON body)."""
    response = page.context.request.get("/api/v1/session")
    body: dict[str, Any] = response.json()
    return response.status, body


# -- fixtures ------------------------------------------------------------------------------


@dataclass
class Porchlight:
    url: str
    origin: str
    fingerprint: str
    owner: tuple[str, str]
    run: Running


def served_fingerprint(url: str) -> str:
    from nvr.web.tls import fingerprint

    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    pem = ssl.get_server_certificate((parts.hostname, parts.port), timeout=10)
    return fingerprint(pem.encode())


@contextlib.contextmanager
def running_porchlight(
    tmp: Path, *, owner: bool = True, config: str | None = None
) -> Iterator[Porchlight]:
    """``nvr demo`` in ``tmp``: with ``owner`` (the default) keys and the owner account
    made from a passphrase file; without, a fresh box (no keys, nobody to sign in as:
    only this machine may open it, for a first-run walkthrough). ``config``: the text of
    a config file for the demo (``--config``), e.g. ``demo: {scene: faces}``. Stopped
    with SIGTERM on exit, which must be clean."""
    from tests.service.test_serve import start

    args = ["demo"]
    if config is not None:
        config_file = tmp / "nvr.yaml"
        config_file.write_text(config)
        args += ["--config", str(config_file)]
    if owner:
        secret = tmp / "passphrase"
        secret.write_text(OWNER_PASSPHRASE + "\n")
        secret.chmod(0o600)
        args += ["--passphrase-file", str(secret), "--work-factor", "15", "--owner", OWNER_NAME]
    run = start(args, tmp)
    try:
        parts = urlsplit(run.url)
        assert parts.hostname == "127.0.0.1", run.url
        assert served_fingerprint(run.url) == run.fingerprint
        yield Porchlight(
            url=run.url,
            origin=f"{parts.scheme}://{parts.netloc}",
            fingerprint=run.fingerprint,
            owner=(OWNER_NAME, OWNER_PASSPHRASE),
            run=run,
        )
        code, log = run.stop()
        assert code == 0, log
        assert "Traceback" not in log, log
    finally:
        run.close()


@pytest.fixture(scope="module")
def porchlight(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Porchlight]:
    """``nvr demo`` with an owner, for the browser tests of one module."""
    require(browser_unavailable_reason())  # no service for nothing
    with running_porchlight(tmp_path_factory.mktemp("porchlight")) as box:
        yield box


@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Playwright]:
    require(browser_unavailable_reason())
    from playwright.sync_api import sync_playwright

    driver = sync_playwright().start()
    try:
        yield driver
    finally:
        driver.stop()


def launch(driver: Playwright, *, webrtc: bool = False) -> Browser:
    args = [*FLAGS, *(WEBRTC_FLAGS if webrtc else ())]
    return driver.chromium.launch(executable_path=str(CHROMIUM), args=args, headless=True)


@pytest.fixture(scope="module")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    launched = launch(playwright_driver)
    yield launched
    launched.close()


@pytest.fixture(scope="module")
def webrtc_browser(playwright_driver: Playwright) -> Iterator[Browser]:
    """The browser with the WebRTC flags (loopback candidates, no mDNS hiding); use it
    only inside a network namespace's reach (docs/testing.md, network rule)."""
    launched = launch(playwright_driver, webrtc=True)
    yield launched
    launched.close()


@contextlib.contextmanager
def watched_context(
    browser: Browser, url: str, *, viewport: ViewportSize | None = None
) -> Iterator[BrowserContext]:
    """A new context of ``browser`` for the service at ``url``, as ``open_page`` makes
    them (self-signed certificate accepted, ``TIMEOUT_MS``, a ``Watch``), for a test that
    starts its own service and browser (the walkthrough, inside a network namespace).
    On exit the watch's problems fail the test and the context closes."""
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    context = browser.new_context(
        base_url=url,
        ignore_https_errors=True,  # self-signed: the caller checks its fingerprint
        viewport=viewport or {"width": 1280, "height": 800},
    )
    context.set_default_timeout(TIMEOUT_MS)
    watch = Watch(origin)
    watch.attach(context)
    _WATCHES[id(context)] = watch
    try:
        yield context
        watch.check()
    finally:
        _WATCHES.pop(id(context), None)
        context.close()


OpenPage = Callable[..., "Page"]


@pytest.fixture
def open_page(browser: Browser, porchlight: Porchlight) -> Iterator[OpenPage]:
    """``open_page(viewport=None, using=None)``: a watched page in a new context of
    ``using`` (default: ``browser``; ``webrtc_browser`` for WebRTC pages)."""
    contexts: list[tuple[BrowserContext, Watch]] = []

    def new(viewport: ViewportSize | None = None, using: Browser | None = None) -> Page:
        context = (using or browser).new_context(
            base_url=porchlight.url,
            ignore_https_errors=True,  # self-signed: the fixture checked its fingerprint
            viewport=viewport or {"width": 1280, "height": 800},
        )
        context.set_default_timeout(TIMEOUT_MS)
        watch = Watch(porchlight.origin)
        watch.attach(context)
        _WATCHES[id(context)] = watch
        contexts.append((context, watch))
        return context.new_page()

    yield new
    problems = []
    for context, watch in contexts:
        problems += watch.problems()
        _WATCHES.pop(id(context), None)
        context.close()
    assert not problems, "\n".join(problems)


@pytest.fixture
def page(open_page: OpenPage) -> Page:
    return open_page()


@pytest.fixture
def signed_in_page(open_page: OpenPage, porchlight: Porchlight) -> Page:
    """A page signed in as the owner (so unlocked), on the cameras page."""
    signed_in = open_page()
    sign_in(signed_in, *porchlight.owner)
    return signed_in
