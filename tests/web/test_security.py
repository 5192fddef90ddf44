"""The web layer's defences, over every route the app has (read from ``app.routes``, so a
route added later is covered without touching this file; a route hidden from the OpenAPI
document inside an included router would not be, and none is)): CSRF and cross-site ``Origin``
on every state-changing route, throttling per account and per client, session fixation
with an attacker-chosen id, and path traversal in every path parameter.

What tests/web/test_session.py already shows (the per-address lockout, rotation of a
valid presented id, the cross-site sign-in, logout's CSRF) is not repeated here.
"""

from __future__ import annotations

import re
import secrets as random
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from nvr.auth.deps import SAFE_METHODS
from nvr.auth.policy import Role
from nvr.auth.sessions import CSRF_HEADER, Principal
from nvr.clock import FakeClock
from nvr.secrets import Secret
from nvr.service.status import ServiceStatus
from nvr.web.app import create_app
from nvr.web.doorbell import doorbell_router
from tests.support.accounts import BASE, LAN, PASSPHRASE, PASSWORDS, Site, cookie, open_site
from tests.support.accounts import token_of as _token_of

# Unsafe routes that take no CSRF token, and why (each must still exist: see below).
NO_CSRF = {
    ("POST", "/api/v1/session"): "sign-in: there is no session yet; a cross-site Origin is "
    "refused instead (test_session.py)",
    ("POST", "/api/v1/cameras/{camera}/doorbell"): "a camera's webhook, signed with its "
    "secret (test_doorbell.py)",
}
PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")
# A path parameter that tries to climb out: encoded once, twice, with backslashes, a NUL.
TRAVERSALS = [
    "..%2f..%2f..%2fetc%2fpasswd",
    "%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "..%252f..%252f..%252fetc%252fpasswd",
    "..%5c..%5c..%5cetc%5cpasswd",
    "%2e%2e",
    "..",
    "porch%00.mp4",
    "%c0%ae%c0%ae%2fetc%2fpasswd",
]
OUTSIDE = ("root:x:0:0", "def create_app", "BEGIN PRIVATE KEY", "AGE-SECRET-KEY")


def status() -> ServiceStatus:
    return ServiceStatus(
        version="0.1.0",
        started_at=datetime(2026, 11, 27, tzinfo=UTC),
        uptime_seconds=1.0,
        tls_fingerprint="AB:CD",
    )


def build(site: Site) -> FastAPI:
    """The app as the service builds it: accounts, playback and the doorbell webhook."""
    webhook = Secret(random.token_hex(16))
    return create_app(
        status=status,
        accounts=site.accounts,
        segments=site.box.segment_store,
        record=site.box.record,
        doorbell=doorbell_router(
            lambda camera: webhook if camera == "porch" else None,
            lambda camera, when: None,
            FakeClock(),
        ),
    )


def routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path template): included routers show in the OpenAPI document (this
    FastAPI keeps them out of ``app.routes``), the pages in ``app.routes`` (as in
    tests/web/test_routes.py)."""
    documented = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    own = {
        (method, route.path)
        for route in app.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }
    return sorted(documented | own)


def fill(template: str, value: str = "porch") -> str:
    return PARAM.sub(value, template)


@pytest.fixture
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    built = open_site(tmp_path_factory.mktemp("security"))
    yield built
    built.box.close()


@pytest.fixture
def app(site: Site) -> FastAPI:
    return build(site)


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=LAN)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


def owner_session(site: Site) -> tuple[dict[str, str], str]:
    """The owner signed in and unlocked (made directly: no throttle spent): the cookie
    header and the session's CSRF token."""
    principal = Principal(site.ids["alex"], "alex", Role.OWNER)
    unlock = site.unlocks.unlock(PASSPHRASE.encode())
    issued = site.accounts.sessions.login(principal, unlock_token=unlock)
    return cookie(issued.token), issued.session.csrf_token


def unsafe_routes(app: FastAPI) -> list[tuple[str, str]]:
    return [(m, p) for m, p in routes(app) if m not in SAFE_METHODS and (m, p) not in NO_CSRF]


async def test_every_unsafe_route_wants_the_csrf_token_and_this_origin(
    site: Site, app: FastAPI, http: httpx.AsyncClient
) -> None:
    every = routes(app)
    assert set(NO_CSRF) <= set(every)  # an exemption for a route that is gone goes too
    unsafe = unsafe_routes(app)
    assert ("DELETE", "/api/v1/session") in unsafe  # the app's routes really were read
    mine, csrf = owner_session(site)
    refusals = {
        "missing": ({}, "missing CSRF token (header X-CSRF-Token)"),
        "wrong": ({CSRF_HEADER: csrf[::-1]}, "wrong CSRF token: reload the page"),
        "cross-site": (
            {CSRF_HEADER: csrf, "origin": "https://evil.test"},
            "cross-site request refused",
        ),
        "null origin": ({CSRF_HEADER: csrf, "origin": "null"}, "cross-site request refused"),
        "other port": (
            {CSRF_HEADER: csrf, "origin": "https://box.test:8443"},
            "cross-site request refused",
        ),
    }
    for method, template in unsafe:
        for case, (headers, reason) in refusals.items():
            r = await http.request(method, fill(template), headers={**mine, **headers})
            assert (r.status_code, r.json()) == (403, {"error": reason}), (method, template, case)
    # Nothing refused had an effect: still signed in, still unlocked.
    me = await http.get("/api/v1/session", headers=mine)
    assert (me.status_code, me.json()["unlocked"]) == (200, True)
    # And the same token from this origin passes the check (the route's own answer).
    lock = await http.post("/api/v1/lock", headers={**mine, CSRF_HEADER: csrf, "origin": BASE})
    assert lock.status_code == 204


async def test_a_csrf_token_is_worth_nothing_with_another_session(
    site: Site, app: FastAPI, http: httpx.AsyncClient
) -> None:
    mine, _ = owner_session(site)
    _, other_csrf = owner_session(site)
    for method, template in unsafe_routes(app):
        r = await http.request(method, fill(template), headers={**mine, CSRF_HEADER: other_csrf})
        assert r.status_code == 403, (method, template)


async def login(site: Site, app: FastAPI, name: str, secret: str, address: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        return await client.post("/api/v1/session", json={"name": name, "password": secret})


async def test_an_account_is_throttled_across_addresses(site: Site, app: FastAPI) -> None:
    """Ten wrong passwords for ``sam``, each from another address (no address is over its
    budget): the account now waits, even with the right password, from a new address."""
    for i in range(10):
        r = await login(site, app, "sam", f"Wrong-Guess-{i}-lantern", f"198.51.100.{i}")
        assert r.status_code == 401, i
    r = await login(site, app, "sam", "Wrong-Guess-10-lantern", "198.51.100.10")
    assert r.status_code == 401  # the 11th is checked, and leaves the account waiting
    for address in ("198.51.100.11", "203.0.113.5"):
        r = await login(site, app, "sam", PASSWORDS["sam"], address)
        assert r.status_code == 429
        assert r.headers["retry-after"] == "1"
        assert r.json() == {"error": "too many attempts: try again in 1 s"}
    other = await login(site, app, "ines", PASSWORDS["ines"], "198.51.100.12")
    assert other.status_code == 200  # another account is not affected
    lockouts = [p for kind, p, _ in site.audit() if kind == "login.lockout"]
    assert lockouts == [{"kind": "account", "key": "sam", "attempts": 11, "retry_after": 1}]
    site.clock.advance(1)
    assert (await login(site, app, "sam", PASSWORDS["sam"], "198.51.100.11")).status_code == 200


async def test_a_client_is_throttled_across_accounts_but_not_for_signing_in(
    site: Site, app: FastAPI
) -> None:
    """One address: right passwords never make it wait (they take back their attempt);
    five wrong ones, whatever the names, do, then even the right password waits."""
    client = "192.0.2.77"
    for _ in range(8):
        assert (await login(site, app, "ines", PASSWORDS["ines"], client)).status_code == 200
    for name in ("sam", "ines", "nobody", "alex-typo", "sam"):
        assert (await login(site, app, name, "Not-It-At-All-42", client)).status_code == 401
    assert (await login(site, app, "ines", "Not-It-At-All-43", client)).status_code == 401
    refused = await login(site, app, "ines", PASSWORDS["ines"], client)
    assert (refused.status_code, refused.headers["retry-after"]) == (429, "1")
    elsewhere = await login(site, app, "ines", PASSWORDS["ines"], "192.0.2.78")
    assert elsewhere.status_code == 200


async def test_the_owners_unlock_is_throttled_like_a_sign_in(
    site: Site, http: httpx.AsyncClient
) -> None:
    mine, csrf = owner_session(site)
    headers = {**mine, CSRF_HEADER: csrf}
    for _ in range(6):  # five free attempts for this address, the sixth leaves it waiting
        r = await http.post("/api/v1/unlock", json={"passphrase": "wrong-one"}, headers=headers)
        assert (r.status_code, r.json()) == (403, {"error": "wrong passphrase"})
    r = await http.post("/api/v1/unlock", json={"passphrase": PASSPHRASE}, headers=headers)
    assert (r.status_code, r.headers["retry-after"]) == (429, "1")
    site.clock.advance(1)
    r = await http.post("/api/v1/unlock", json={"passphrase": PASSPHRASE}, headers=headers)
    assert r.status_code == 200


async def test_an_attacker_chosen_session_id_is_never_adopted(
    http: httpx.AsyncClient,
) -> None:
    planted = cookie("attacker-chosen-session-id-0123456789abcdef")
    r = await http.post(
        "/api/v1/session", json={"name": "alex", "password": PASSPHRASE}, headers=planted
    )
    assert r.status_code == 200
    issued = _token_of(r)
    assert cookie(issued) != planted
    assert (await http.get("/api/v1/session", headers=planted)).status_code == 401
    assert (await http.get("/api/v1/session", headers=cookie(issued))).status_code == 200


async def test_path_traversal_in_every_path_parameter_is_a_4xx(
    site: Site, app: FastAPI, http: httpx.AsyncClient
) -> None:
    mine, csrf = owner_session(site)  # the most any caller may do
    headers = {**mine, CSRF_HEADER: csrf}
    templated = [(m, p) for m, p in routes(app) if PARAM.search(p)]
    assert ("GET", "/api/v1/cameras/{camera}/clip") in templated
    query = "?start=2026-01-01T00:00:00Z&end=2026-01-01T00:00:05Z"
    targets = [(m, fill(p, attack) + query) for m, p in templated for attack in TRAVERSALS]
    # (A bare ".." is resolved by the client itself, as a browser does: not sent.)
    targets += [("GET", f"/static/{attack}") for attack in TRAVERSALS if "%" in attack]
    targets += [("GET", "/static/..%2f..%2fnvr%2fweb%2fapp.py"), ("GET", "/static/%2e%2e/")]
    for method, url in targets:
        r = await http.request(method, url, headers=headers)
        assert 400 <= r.status_code < 500, (method, url, r.status_code, r.text[:200])
        for leak in OUTSIDE:
            assert leak not in r.text, (method, url)
    me = await http.get("/api/v1/session", headers=mine)
    assert me.status_code == 200  # nothing above ended or broke the session
