"""Every page of the dashboard, for every role, at desktop and phone width, in Chromium
against the real service (``nvr demo``, owner ``alex``; a household viewer allowed the
demo doorbell and an installer are made through the users API).

For each role (owner, viewer, installer, installer inside an install window) the test
signs in once, checks the menu is exactly what that role may open *now*, then visits every
menu page and the pages the role must not reach, at 1280x800 and 390x844:

- allowed pages answer 200; refused ones 403 as a readable page (the one heading "Not
  allowed here", the reason, a link home), never raw JSON; "/" sends a role that may not
  see Status to its first page;
- no console or page errors, no request leaves the box (``tests.support.browser.Watch``);
- no sideways scrolling of the page (``scrollWidth <= innerWidth``);
- exactly one ``<h1>``;
- every form control has an accessible name (a ``<label>``, ``aria-label`` or
  ``aria-labelledby``);
- every visible interactive element is reached by Tab, and shows a focus style then (at
  desktop width: the pages hold the same elements at both widths).

Screenshots of each page per role and width are kept (``screenshot``). A second test walks
the household viewer's unlock prompt and the Account page's "Log out everywhere".

Live tiles would start WebRTC; here the browser has no ``RTCPeerConnection`` (an init
script removes it before any page script runs), so the live page takes its snapshot
fallback and no ICE leaves the process (the network rule: ICE only inside a namespace).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize

from nvr.auth.sessions import CSRF_HEADER
from nvr.service.cameras import DEMO_CAMERA
from tests.support.browser import (
    PHONE,
    TIMEOUT_MS,
    Porchlight,
    Watch,
    screenshot,
)

VIEWER = ("sam", "Viewer-Lantern-58-gravel")
INSTALLER = ("ines", "Installer-Copper-93-ridge")
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE_SIZE: ViewportSize = {"width": PHONE["width"], "height": PHONE["height"]}
WIDTHS = {"desktop": DESKTOP, "phone": PHONE_SIZE}
NO_WEBRTC = "delete window.RTCPeerConnection; delete window.webkitRTCPeerConnection;"
# Chromium logs the 403 of a refused page's document as a console error: expected there.
REFUSED = r"Failed to load resource: the server responded with a status of 403"


@dataclass(frozen=True)
class Role:
    account: str  # "owner", "viewer", "installer"
    menu: tuple[str, ...]  # the menu's labels, in order
    pages: tuple[str, ...]  # what it opens (the menu's pages and a few more)
    refused: tuple[str, ...]  # what must answer 403 as a page
    window: bool = False  # an install window is open meanwhile


# The share page of a clip (nothing is made until the owner asks for a preview).
SHARE_CLIP = f"/share?camera={DEMO_CAMERA}&start=2026-01-01T00:00:00Z&end=2026-01-01T00:00:10Z"
MENU_PATHS = {
    "Live": "/live",
    "Events": "/events",
    "Timeline": "/timeline",
    "Status": "/",
    "Cameras": "/cameras",
    "Requests": "/requests",
    "Report": "/report",
    "Settings": "/settings",
    "Account": "/account",
}
ROLES = {
    "owner": Role(
        "owner",
        ("Live", "Events", "Timeline", "Status", "Cameras", "Requests", "Report", "Settings",
         "Account"),
        ("/live", f"/live/{DEMO_CAMERA}", "/events", "/timeline", "/", "/cameras",
         "/requests", "/requests/new", "/report", "/share", SHARE_CLIP, "/timeline?share=1",
         "/settings", "/settings/audit", "/account"),
        (),
    ),
    "viewer": Role(
        "viewer",
        ("Live", "Events", "Timeline", "Account"),
        ("/live", f"/live/{DEMO_CAMERA}", "/events", "/timeline", "/account"),
        ("/cameras", "/settings", "/settings/audit", "/requests", "/report", "/share"),
    ),
    "installer": Role(
        "installer",
        ("Status", "Cameras", "Account"),
        ("/", "/cameras", "/account"),
        ("/live", "/events", "/timeline", "/settings", "/requests", "/report"),
    ),
    "installer-window": Role(
        "installer",
        ("Live", "Events", "Timeline", "Status", "Cameras", "Account"),
        ("/live", "/events", "/timeline", "/", "/cameras", "/account"),
        ("/settings", "/settings/audit"),
        window=True,
    ),
}  # fmt: skip

# Form controls without an accessible name; visible interactive elements (tagged with
# data-tab-index, in document order) that Tab must reach.
UNLABELLED = """() => [...document.querySelectorAll("input, select, textarea")]
  .filter((e) => e.type !== "hidden")
  .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute("aria-label")
                 && !e.getAttribute("aria-labelledby"))
  .map((e) => e.outerHTML.slice(0, 120))"""
TABBABLE = """() => {
  const all = [...document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]')];
  const shown = (e) => {
    if (e.closest("[hidden], dialog:not([open]), [inert]")) return false;
    const style = getComputedStyle(e);
    return style.visibility !== "hidden" && style.display !== "none"
      && e.getClientRects().length > 0;
  };
  const list = all.filter((e) => !e.disabled && e.tabIndex >= 0 && shown(e));
  list.forEach((e, i) => e.setAttribute("data-tab-index", String(i)));
  return list.map((e) => e.outerHTML.slice(0, 100));
}"""
FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const s = getComputedStyle(e);
  const ring = (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0)
    || s.boxShadow !== "none";
  return [e.getAttribute("data-tab-index"), ring, e.outerHTML.slice(0, 100)];
}"""


@contextlib.contextmanager
def owner_api(box: Porchlight) -> Iterator[httpx.Client]:
    """The owner's API client with the CSRF token (state changes through the users API)."""
    if box.run.session is None:
        box.run.sign_in(*box.owner)
    with box.run.client() as client:
        client.headers[CSRF_HEADER] = client.get("/api/v1/session").json()["csrf_token"]
        yield client


@pytest.fixture(scope="module")
def accounts(porchlight: Porchlight) -> None:
    """The viewer (allowed the demo doorbell) and the installer, made as the owner would."""
    with owner_api(porchlight) as api:
        for (name, password), role, cameras in (
            (VIEWER, "viewer", [DEMO_CAMERA]),
            (INSTALLER, "installer", []),
        ):
            r = api.post(
                "/api/v1/users",
                json={"name": name, "role": role, "password": password, "cameras": cameras},
            )
            assert r.status_code == 201, r.text


def set_install_window(box: Porchlight, open_: bool) -> None:
    with owner_api(box) as api:
        current = api.get("/api/v1/install-windows").json()["current"]
        if open_ and current is None:
            assert api.post("/api/v1/install-windows", json={"minutes": 30}).status_code == 201
        if not open_ and current is not None:
            r = api.delete(f"/api/v1/install-windows/{current['id']}")
            assert r.status_code == 204, r.text


@dataclass
class Signed:
    context: BrowserContext
    watch: Watch


@pytest.fixture(scope="module")
def signed(browser: Browser, porchlight: Porchlight, accounts: None) -> Iterator[dict[str, Signed]]:
    """One signed-in browser context per account, shared by the module's tests (a sign-in
    is a few hundred milliseconds of key stretching: once per account)."""
    contexts: dict[str, Signed] = {}
    secrets = {"owner": porchlight.owner, "viewer": VIEWER, "installer": INSTALLER}
    for account, (name, password) in secrets.items():
        context = browser.new_context(
            base_url=porchlight.url, ignore_https_errors=True, viewport=DESKTOP
        )
        context.set_default_timeout(TIMEOUT_MS)
        context.add_init_script(NO_WEBRTC)
        watch = Watch(porchlight.origin)
        watch.attach(context)
        r = context.request.post(
            "/api/v1/session",
            data={"name": name, "password": password},
            headers={"origin": porchlight.origin},
        )
        assert r.status == 200, r.text()
        contexts[account] = Signed(context, watch)
    yield contexts
    for each in contexts.values():
        each.context.close()


def settle(page: Page) -> None:
    """Let the page's module load its data (the pages hold open event streams, so
    "network idle" never comes): the load event, then the scripts' first fetches."""
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)


def slug(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", path.strip("/")).strip("-") or "status"


def check_frame(page: Page, where: str) -> list[str]:
    """The promises every page keeps; a list of what broke (empty: all kept)."""
    problems = []
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    if width[0] > width[1]:
        problems.append(f"{where}: the page scrolls sideways ({width[0]} > {width[1]} px)")
    h1 = page.locator("h1").count()
    if h1 != 1:
        problems.append(f"{where}: {h1} <h1> elements, not one")
    for control in page.evaluate(UNLABELLED):
        problems.append(f"{where}: no accessible name: {control}")
    return problems


def check_keyboard(page: Page, where: str) -> list[str]:
    """Tab from the top through the page: each visible interactive element is reached,
    and shows a focus style when it is."""
    problems = []
    elements = page.evaluate(TABBABLE)
    reached: set[str] = set()
    page.evaluate("() => { document.activeElement?.blur(); window.scrollTo(0, 0); }")
    # Chromium stops on each part of a date or datetime-local input (day, month, year ...).
    for _ in range(len(elements) * 6 + 3):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused is None:
            continue
        index, ring, html = focused
        if index is not None:
            reached.add(index)
        if not ring:
            problems.append(f"{where}: no visible focus style on {html}")
        if len(reached) == len(elements):
            break
    for i, html in enumerate(elements):
        if str(i) not in reached:
            problems.append(f"{where}: not reachable with Tab: {html}")
    return problems


def visit(page: Page, path: str, expect: int, where: str) -> list[str]:
    response = page.goto(path)
    assert response is not None
    settle(page)
    problems = []
    if response.status != expect:
        problems.append(f"{where}: {path} answered {response.status}, not {expect}")
    if expect == 403:
        assert "text/html" in response.headers["content-type"], (where, "a refusal in JSON")
        main = page.locator("main")
        if not main.get_by_role("heading", level=1, name="Not allowed here").is_visible():
            problems.append(f"{where}: the refusal has no 'Not allowed here' heading")
        if not main.get_by_role("alert").inner_text().strip():
            problems.append(f"{where}: the refusal gives no reason")
        if not main.get_by_role("link").count():
            problems.append(f"{where}: the refusal has no link home")
    return problems


@pytest.mark.parametrize("role_name", list(ROLES))
def test_every_page_for_every_role(
    signed: dict[str, Signed], porchlight: Porchlight, role_name: str
) -> None:
    role = ROLES[role_name]
    if role.account == "installer":
        set_install_window(porchlight, role.window)
    use = signed[role.account]
    page = use.context.new_page()
    problems: list[str] = []
    try:
        for width_name, viewport in WIDTHS.items():
            page.set_viewport_size(viewport)
            # "/" is where sign-in lands: Status, or the role's first menu page.
            page.goto("/")
            settle(page)
            first = "/" if "Status" in role.menu else MENU_PATHS[role.menu[0]]
            assert re.sub(r"^https://[^/]+", "", page.url) == first, (role_name, page.url)
            nav = page.get_by_role("navigation", name="Main").get_by_role("link")
            assert tuple(nav.all_inner_texts()) == role.menu, role_name
            user = page.locator(".who .user").inner_text()
            assert user == {"owner": "alex", "viewer": VIEWER[0]}.get(role.account, INSTALLER[0])
            for path in role.pages:
                where = f"{role_name} {width_name} {path}"
                problems += visit(page, path, 200, where)
                problems += check_frame(page, where)
                if width_name == "desktop":  # the same elements at both widths: Tab once
                    problems += check_keyboard(page, where)
                screenshot(page, f"pages-{role_name}-{width_name}-{slug(path)}")
            use.watch.allow(REFUSED)
            for path in role.refused:
                where = f"{role_name} {width_name} {path} (refused)"
                problems += visit(page, path, 403, where)
                problems += check_frame(page, where)
                if width_name == "desktop":
                    problems += check_keyboard(page, where)
                screenshot(page, f"pages-{role_name}-{width_name}-refused-{slug(path)}")
            use.watch.allowed.clear()
    finally:
        page.close()
        problems += use.watch.problems()
        use.watch.console_errors.clear()
        use.watch.page_errors.clear()
        use.watch.offsite.clear()
        if role.window:
            set_install_window(porchlight, False)
    assert not problems, "\n".join(problems)


def test_a_missing_page_is_a_page(signed: dict[str, Signed]) -> None:
    use = signed["owner"]  # (a viewer is refused any camera it was not allowed: 403)
    page = use.context.new_page()
    use.watch.allow(r"status of 404")
    try:
        response = page.goto("/live/no-such-camera")
        assert response is not None
        assert response.status == 404
        assert page.get_by_role("heading", level=1, name="Not found").is_visible()
        reason = page.get_by_role("alert").inner_text()
        assert reason == "No camera named 'no-such-camera'."
        page.get_by_role("link", name="Back to your start page").click()
        page.wait_for_url(re.compile(r"/$"))
    finally:
        page.close()
        use.watch.allowed.clear()
    use.watch.check()


def member_key(box: Porchlight, name: str, passphrase: str) -> dict[str, Any]:
    with owner_api(box) as api:
        r = api.post(
            "/api/v1/keys/members",
            json={"name": name, "owner_passphrase": box.owner[1], "member_passphrase": passphrase},
        )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def test_a_household_viewer_unlocks_again_and_logs_out_everywhere(
    browser: Browser, porchlight: Porchlight, accounts: None
) -> None:
    """The viewer's household key opens with their password: after a lock (the idle lock,
    or "Lock footage now" on the Account page), the Account page offers the unlock
    prompt, which takes the password; "Log out everywhere" then ends every session of the
    account."""
    name, password = "kim", "Harbour-Kestrel-71-meadow"  # not sam: the module's sessions stay
    with owner_api(porchlight) as api:
        r = api.post(
            "/api/v1/users",
            json={"name": name, "role": "viewer", "password": password, "cameras": [DEMO_CAMERA]},
        )
        assert r.status_code == 201, r.text
    member_key(porchlight, name, password)
    contexts = []
    watch = Watch(porchlight.origin)
    try:
        for _ in range(2):  # two browsers of the same person
            context = browser.new_context(
                base_url=porchlight.url, ignore_https_errors=True, viewport=PHONE_SIZE
            )
            context.set_default_timeout(TIMEOUT_MS)
            context.add_init_script(NO_WEBRTC)
            watch.attach(context)
            contexts.append(context)
        page = contexts[0].new_page()
        page.goto("/signin")
        page.get_by_label("Name").fill(name)
        page.get_by_label("Password or, for the owner, the key passphrase").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r"/live$"))  # the viewer's first page, not a 403
        other = contexts[1].request.post(
            "/api/v1/session",
            data={"name": name, "password": password},
            headers={"origin": porchlight.origin},
        )
        assert other.json()["unlocked"] is True

        page.get_by_role("navigation", name="Main").get_by_role("link", name="Account").click()
        page.get_by_text("Footage is unlocked for this session.").wait_for()
        page.get_by_role("button", name="Lock footage now").click()
        page.get_by_text("Footage is locked.").wait_for()
        assert page.request.get("/api/v1/session").json()["unlocked"] is False
        page.get_by_role("button", name="Unlock footage").click()
        dialog = page.locator("#unlock-dialog")
        assert dialog.get_by_label("Your password").is_visible()
        screenshot(page, "pages-viewer-unlock-prompt")
        dialog.get_by_label("Your password").fill(password)
        dialog.get_by_role("button", name="Unlock").click()
        page.locator("#unlock-dialog:not([open])").wait_for(state="attached")
        page.get_by_text("Footage is unlocked for this session.").wait_for()
        assert page.request.get("/api/v1/session").json()["unlocked"] is True

        page.get_by_role("button", name="Log out everywhere").click()
        page.wait_for_url(re.compile(r"/signin$"))
        assert page.request.get("/api/v1/session").status == 401
        assert contexts[1].request.get("/api/v1/session").status == 401
    finally:
        for context in contexts:
            context.close()
    watch.check()
