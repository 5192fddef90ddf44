"""Signing in, out, locking and unlocking as a person does it, in Chromium, against the
real service (``nvr demo`` with owner ``alex``): what the pages show, what the browser
keeps (the cookie and its flags), what the server then answers, and the page frame's
promises (security headers, CSP enforced, keyboard use, phone width)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page

from nvr.auth.sessions import COOKIE_NAME
from nvr.web.app import SECURITY_HEADERS
from tests.support.browser import (
    PHONE,
    OpenPage,
    Porchlight,
    expect_no_console_errors,
    lock_now,
    screenshot,
    session_info,
    sign_in,
    sign_out,
    unlock,
    watch_of,
)

# Chromium logs every 4xx answer of a fetch as a console error; these tests expect some.
REFUSED = r"Failed to load resource: the server responded with a status of 40[13]"
OWNER_NAV = [
    "Live",
    "Events",
    "Timeline",
    "Status",
    "Cameras",
    "Requests",
    "Report",
    "Settings",
    "Account",
]


def session_cookie(page: Page) -> dict[str, object]:
    cookies = [c for c in page.context.cookies() if c["name"] == COOKIE_NAME]
    assert len(cookies) == 1, page.context.cookies()
    return dict(cookies[0])


def test_sign_in_wrong_then_right_then_out(page: Page, porchlight: Porchlight) -> None:
    name, passphrase = porchlight.owner
    page.goto("/")
    page.wait_for_url(re.compile(r"/signin$"))  # no session: the sign-in page
    assert page.get_by_role("heading", name="Sign in").is_visible()
    screenshot(page, "signin")

    watch_of(page).allow(REFUSED)
    sign_in(page, name, "not-the-passphrase-at-all", expect_ok=False)
    alert = page.get_by_role("alert")
    alert.filter(has_text="wrong name or password").wait_for()
    assert page.url.endswith("/signin")
    assert page.get_by_label("Password or, for the owner, the key passphrase").input_value() == ""

    sign_in(page, name, passphrase)
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link").all_inner_texts() == OWNER_NAV
    assert nav.get_by_role("link", name="Status").get_attribute("aria-current") == "page"
    assert page.get_by_text("demo-doorbell").first.is_visible()
    assert porchlight.fingerprint in page.locator("main").inner_text()
    assert session_info(page)[1]["name"] == name
    screenshot(page, "cameras")
    token = str(session_cookie(page)["value"])

    sign_out(page)
    assert page.get_by_role("heading", name="Sign in").is_visible()
    status, body = session_info(page)
    assert (status, body) == (401, {"error": "sign in first"})  # the browser forgot it
    with porchlight.run.anonymous() as api:  # and the server ended it
        kept = api.get("/api/v1/session", headers={"cookie": f"{COOKIE_NAME}={token}"})
    assert kept.status_code == 401
    expect_no_console_errors(page)


def test_the_session_cookie_as_the_browser_keeps_it(
    signed_in_page: Page, porchlight: Porchlight
) -> None:
    cookie = session_cookie(signed_in_page)
    assert cookie["httpOnly"] is True
    assert cookie["secure"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/"
    assert cookie["domain"] == "127.0.0.1"  # host-only (__Host-: no Domain attribute)
    assert signed_in_page.evaluate("document.cookie") == ""  # scripts never see it


def test_a_planted_session_is_replaced_at_sign_in(page: Page, porchlight: Porchlight) -> None:
    """Session fixation: an attacker's own valid session id, planted in the victim's
    browser before they sign in, is not the one they get and is dead afterwards."""
    name, passphrase = porchlight.owner
    with porchlight.run.anonymous() as api:
        mine = api.post("/api/v1/session", json={"name": name, "password": passphrase})
    planted = mine.cookies[COOKIE_NAME]
    page.context.add_cookies(
        [
            {
                "name": COOKIE_NAME,
                "value": planted,
                "url": porchlight.url,
                "secure": True,
                "httpOnly": True,
                "sameSite": "Strict",
            }
        ]
    )
    page.goto("/signin")
    sign_in(page, name, passphrase)
    fresh = session_cookie(page)["value"]
    assert fresh != planted
    with porchlight.run.anonymous() as api:
        replaced = api.get("/api/v1/session", headers={"cookie": f"{COOKIE_NAME}={planted}"})
    assert replaced.status_code == 401
    assert session_info(page)[0] == 200


def test_every_page_has_the_security_headers_and_the_csp_holds(
    signed_in_page: Page, porchlight: Porchlight
) -> None:
    page = signed_in_page
    # The watch sees the page's requests (so it would see one leave the box).
    seen = watch_of(page).requests
    assert f"GET {porchlight.origin}/static/app.js" in seen
    links = page.get_by_role("navigation", name="Main").get_by_role("link")
    paths = [str(link.get_attribute("href")) for link in links.all()]
    assert "/" in paths
    for path in [*paths, "/signin", "/static/api.js"]:
        response = page.request.get(path)
        for header, value in SECURITY_HEADERS.items():
            assert response.headers.get(header.lower()) == value, (path, header)
        assert response.headers["strict-transport-security"].startswith("max-age=")
    # The CSP is enforced, not only sent: an inline script put into the page never runs.
    watch_of(page).allow(r"inline script violates the following Content Security Policy")
    ran = page.evaluate(
        """() => {
            const s = document.createElement("script");
            s.textContent = "window.inlineRan = true";
            document.body.append(s);
            return window.inlineRan === true;
        }"""
    )
    assert ran is False


def test_the_sign_in_form_by_keyboard(page: Page, porchlight: Porchlight) -> None:
    name, passphrase = porchlight.owner
    page.goto("/signin")
    order = []
    for _ in range(5):
        page.keyboard.press("Tab")
        order.append(
            page.evaluate("document.activeElement.id || document.activeElement.textContent")
        )
    # The two-factor code field is always there (optional): showing it only after a right
    # passphrase would tell a guesser the passphrase was right.
    assert order == ["Skip to content", "name", "password", "otp", "Sign in"]
    for _ in range(3):
        page.keyboard.press("Shift+Tab")
    page.keyboard.type(name)
    page.keyboard.press("Tab")
    page.keyboard.type(passphrase)
    page.keyboard.press("Enter")  # Enter submits
    page.get_by_role("heading", name="Status").wait_for()
    assert page.evaluate("document.activeElement.tagName") == "BODY"


@pytest.mark.parametrize("path", ["/signin", "/"])
def test_phone_width_has_no_sideways_scrolling(
    open_page: OpenPage, porchlight: Porchlight, path: str
) -> None:
    page = open_page(viewport=PHONE)
    if path != "/signin":
        sign_in(page, *porchlight.owner)
    page.goto(path)
    width, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    screenshot(page, f"phone{path.replace('/', '-').rstrip('-') or '-cameras'}")
    assert width <= inner, f"{path}: {width}px wide in a {inner}px screen"


def test_lock_then_unlock_with_the_passphrase(signed_in_page: Page, porchlight: Porchlight) -> None:
    page = signed_in_page
    assert session_info(page)[1]["unlocked"] is True
    lock_now(page)
    dialog = page.get_by_role("dialog", name="Footage is locked")
    assert dialog.is_visible()
    assert page.evaluate("document.activeElement.id") == "unlock-passphrase"
    assert session_info(page)[1]["unlocked"] is False
    screenshot(page, "unlock-dialog")

    watch_of(page).allow(REFUSED)
    dialog.get_by_label("Key passphrase").fill("not-the-passphrase-at-all")
    dialog.get_by_role("button", name="Unlock").click()
    dialog.get_by_role("alert").filter(has_text="wrong passphrase").wait_for()
    assert session_info(page)[1]["unlocked"] is False

    unlock(page, porchlight.owner[1])
    assert not dialog.is_visible()
    status, me = session_info(page)
    assert (status, me["unlocked"]) == (200, True)
