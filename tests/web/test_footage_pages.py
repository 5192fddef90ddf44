"""The events and timeline pages in a real browser (Chromium through Playwright) against
the app over HTTPS on 127.0.0.1: real encrypted segments (cut from a synthetic clip, as
the recorder writes them) and sealed events with JPEG thumbnails. The pages' modules
load the list, decrypted thumbnails show, a click plays the clip, the timeline draws
its spans and plays from a click; locked footage brings up the passphrase dialog."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import uvicorn
from playwright.async_api import BrowserContext, ConsoleMessage, Page, async_playwright

from nvr.auth.policy import Role
from nvr.bench.chromium import CHROMIUM, FLAGS
from nvr.crypto import X25519Identity
from nvr.events import EventBus, LiveEvent
from nvr.web import tls
from nvr.web.events import EventStreams
from tests.playback.conftest import T0, Kit, SourceClip, segment_source, write_segments
from tests.support.accounts import PASSPHRASE, open_site
from tests.support.events import EventsKit, jpeg
from tests.support.procs import require

PATIENCE_MS = 15000

__all__ = ["segment_source"]  # the fixture, used by name


@dataclass
class Box:
    kit: EventsKit
    url: str
    event_id: int
    bus: EventBus


@pytest.fixture
async def box(tmp_path: Path, segment_source: SourceClip) -> AsyncIterator[Box]:
    site = open_site(tmp_path)
    kit = EventsKit(site)
    store = site.box.segment_store()
    write_segments(
        Kit(store, X25519Identity.generate(), site.clock, [], segment_source), [0, 30, 60, 90]
    )
    event_id = kit.add(
        "front", "motion", T0 + timedelta(seconds=3), T0 + timedelta(seconds=6), jpeg(7, 320, 180)
    )
    kit.add("front", "doorbell", T0 + timedelta(seconds=8))
    bus = EventBus()
    streams = EventStreams(bus)
    files = tls.ensure_self_signed(tmp_path / "tls", ["127.0.0.1"], site.clock.wall())
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        kit.app(streams),
        log_config=None,
        access_log=False,
        lifespan="off",
        ws="none",
        ssl_certfile=str(files.cert),
        ssl_keyfile=str(files.key),
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            assert not task.done()
            await asyncio.sleep(0.01)
        yield Box(kit, f"https://127.0.0.1:{sock.getsockname()[1]}", event_id, bus)
    finally:
        streams.close()
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()
        site.box.close()


@pytest.fixture
def allow() -> list[str]:
    """Console errors a test expects (substrings), e.g. the 401 of a call made while locked."""
    return []


@pytest.fixture
async def page(box: Box, allow: list[str]) -> AsyncIterator[BrowserContext]:
    """A browser context on the box; at the end, no console error (a CSP violation is one),
    no uncaught page error and no request to another origin may have happened. The
    async API in pytest-asyncio's loop (tests/support/browser.py drives the sync API
    against a real ``nvr demo``; these tests need a box the test fills itself)."""
    require(None if CHROMIUM.exists() else "needs Debian's chromium (apt install chromium)")
    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        text = f"{message.text} ({message.location.get('url')})"
        if message.type == "error" and not any(a in text for a in allow):
            problems.append(f"console error: {text}")

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=list(FLAGS))
        context = await browser.new_context(ignore_https_errors=True)
        context.on("console", console)
        context.on("weberror", lambda error: problems.append(f"page error: {error.error}"))
        context.on(
            "request",
            lambda request: (
                None
                if request.url.startswith((box.url, "data:", "blob:"))
                else problems.append(f"request off the box: {request.url}")
            ),
        )
        yield context
        await context.close()
        await browser.close()
    assert problems == []


async def signed_in(context: BrowserContext, box: Box, *, locked: bool = False) -> Page:
    login = box.kit.login(Role.OWNER)
    if locked:
        assert login.unlock_token is not None
        box.kit.site.unlocks.lock(login.unlock_token, "lock")
    await context.add_cookies(
        [
            {
                "name": "__Host-porchlight",
                "value": login.issued.token,
                "url": box.url + "/",
                "secure": True,
                "httpOnly": True,
                "sameSite": "Strict",
            }
        ]
    )
    tab = await context.new_page()
    tab.set_default_timeout(PATIENCE_MS)
    return tab


async def until(tab: Page, selector: str, predicate: str) -> None:
    """Poll ``predicate`` (a JS function of the element) until true. Not
    ``wait_for_function``: it evaluates strings, which the pages' CSP forbids."""
    element = tab.locator(selector)
    for _ in range(PATIENCE_MS // 50):
        if await element.evaluate(predicate):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{selector}: {predicate} stayed false")


async def video_ready(tab: Page, selector: str) -> None:
    await until(tab, selector, "v => v.readyState >= 1 && v.duration > 0")


async def test_events_page_lists_thumbnails_and_plays_an_event(
    page: BrowserContext, box: Box
) -> None:
    tab = await signed_in(page, box)
    await tab.goto(box.url + "/events")
    rows = tab.locator("[data-testid=event-row]")
    await rows.first.wait_for()
    assert await rows.count() == 2
    thumb = tab.locator("[data-testid=event-thumbnail]")
    await until(tab, "[data-testid=event-thumbnail]", "img => img.naturalWidth === 320")
    assert await thumb.count() == 1  # the doorbell press has no picture
    motion = tab.locator(f"[data-event-id='{box.event_id}'] [data-testid=event-play]")
    await motion.click()
    await video_ready(tab, "[data-testid=event-video]")
    src = await tab.get_attribute("[data-testid=event-video]", "src")
    assert src == "/api/v1/cameras/front/clip?start=2026-03-04T09:59:58Z&end=2026-03-04T10:00:11Z"
    assert await tab.get_attribute("[data-testid=event-video]", "controlslist") == "nodownload"
    assert await tab.locator("a[download]").count() == 0
    # A new event on the live stream offers to reload the list.
    notice = tab.locator("[data-testid=events-new]")
    assert not await notice.is_visible()
    for _ in range(PATIENCE_MS // 50):  # the page's EventSource subscribes when it connects
        if box.bus.subscribers:
            break
        await asyncio.sleep(0.05)
    box.bus.publish(LiveEvent("front", "doorbell", "instant", T0 + timedelta(minutes=5)))
    await notice.wait_for(state="visible")


async def test_locked_footage_asks_for_the_passphrase_then_lists(
    page: BrowserContext, box: Box, allow: list[str]
) -> None:
    allow.append("status of 401 (Unauthorized) (https://127.0.0.1:")  # the locked list
    tab = await signed_in(page, box, locked=True)
    await tab.goto(box.url + "/events")
    dialog = tab.locator("#unlock-dialog")
    await dialog.wait_for(state="visible")
    await tab.fill("#unlock-passphrase", PASSPHRASE)
    await tab.click("#unlock-form button[type=submit]")
    await tab.locator("[data-testid=event-row]").first.wait_for()
    assert await tab.locator("[data-testid=event-row]").count() == 2


async def test_timeline_draws_spans_and_plays_from_a_click(page: BrowserContext, box: Box) -> None:
    tab = await signed_in(page, box)
    await tab.goto(box.url + "/timeline?camera=front&day=2026-03-04")
    spans = tab.locator("[data-testid=timeline-span]")
    await spans.first.wait_for(state="attached")
    assert await spans.count() == 1  # three touching segments, one span
    assert await tab.locator("[data-testid=timeline-event]").count() == 2
    # Zoom to 10:00-11:00: the 9 s of footage are 0.25 % of the hour from its start.
    await tab.select_option("#timeline-zoom", "10")
    bar = await tab.locator("[data-testid=timeline]").bounding_box()
    assert bar is not None
    await tab.mouse.click(bar["x"] + 1, bar["y"] + bar["height"] / 2)
    await video_ready(tab, "[data-testid=timeline-video]")
    src = await tab.get_attribute("[data-testid=timeline-video]", "src")
    assert src is not None
    assert src.startswith("/api/v1/cameras/front/clip?start=2026-03-04T10:00:")
    assert src.endswith("&end=2026-03-04T10:00:09Z")
