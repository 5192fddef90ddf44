"""Sign-in over HTTP against the real app and a real box (owner ``alex`` with keys, viewer
``sam``, installer ``ines``), from a LAN address: the owner's passphrase unlocks, every
failure is the same 401, throttling, session rotation, logout, logout everywhere, the
owner's re-unlock, the loopback-only fresh box, and the audit entries of all of it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from nvr.auth import users
from nvr.auth.passwords import Argon2Params, Passwords
from nvr.auth.sessions import COOKIE_NAME, CSRF_HEADER
from nvr.service.box import CLI_OWNER
from nvr.service.status import ServiceStatus
from nvr.web.app import create_app
from tests.support.accounts import BASE, LAN, PASSPHRASE, PASSWORDS, Site, cookie, open_site
from tests.support.accounts import token_of as _token_of

WRONG = {"error": "wrong name or password"}


def status() -> ServiceStatus:
    return ServiceStatus(
        version="0.1.0",
        started_at=datetime(2026, 11, 27, tzinfo=UTC),
        uptime_seconds=1.0,
        tls_fingerprint="AB:CD",
    )


def client_for(site: Site, host: tuple[str, int] = LAN) -> httpx.AsyncClient:
    app = create_app(
        status=status,
        accounts=site.accounts,
        segments=site.box.segment_store,
        record=site.box.record,
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=host), base_url=BASE)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    built = open_site(tmp_path)
    yield built
    built.box.close()


@pytest.fixture
async def http(site: Site) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(site) as client:
        yield client


async def login(http: httpx.AsyncClient, name: str, secret: str, **headers: str) -> httpx.Response:
    """Sign in; the cookie goes back explicitly (tests play several browsers at once)."""
    http.cookies.clear()
    return await http.post(
        "/api/v1/session", json={"name": name, "password": secret}, headers=headers
    )


async def test_the_owner_signs_in_with_the_passphrase_and_is_unlocked(
    site: Site, http: httpx.AsyncClient
) -> None:
    r = await login(http, "Alex", PASSPHRASE)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["name"] == "alex"
    assert body["role"] == "owner"
    assert body["unlocked"] is True
    assert body["idle_timeout_seconds"] == 1800
    set_cookie = r.headers["set-cookie"]
    for attribute in ("HttpOnly", "Secure", "Path=/", "SameSite=strict", "Max-Age=43200"):
        assert attribute in set_cookie
    assert set_cookie.startswith(f"{COOKIE_NAME}=")
    assert "Domain" not in set_cookie
    mine = cookie(_token_of(r))
    assert (await http.get("/api/v1/health", headers=mine)).status_code == 200
    me = (await http.get("/api/v1/session", headers=mine)).json()
    assert me == body
    kinds = [(kind, actor) for kind, _, actor in site.audit()]
    assert kinds[-2:] == [("unlock", "alex"), ("login", "alex")]
    login_payload = site.audit()[-1][1]
    assert login_payload["client"] == "192.0.2.50"
    assert len(login_payload["session"]) == 16


async def test_viewers_and_installers_sign_in_with_their_passwords(
    http: httpx.AsyncClient,
) -> None:
    for name, role in (("sam", "viewer"), ("ines", "installer")):
        r = await login(http, name, PASSWORDS[name])
        assert r.status_code == 200, r.text
        assert (r.json()["role"], r.json()["unlocked"]) == (role, False)


async def test_every_failure_is_the_same_401_and_audited_without_the_secret(
    site: Site, http: httpx.AsyncClient
) -> None:
    with site.box.sessions.begin() as session:
        users.set_disabled(session, site.ids["ines"], True)
    tries = [
        ("alex", "Wrong-Passphrase-Typed-1"),
        ("nobody", "Unknown-Account-Secret-2"),
        ("sam", "Wrong-Viewer-Password-3"),
        ("ines", PASSWORDS["ines"]),  # right password, disabled account
        ("Typed-A-Password-In-The-Name", "x"),
    ]
    for name, secret in tries:
        r = await login(http, name, secret)
        assert (r.status_code, r.json()) == (401, WRONG), name
        assert "set-cookie" not in r.headers
    failed = [(payload, actor) for kind, payload, actor in site.audit() if kind == "login.failed"]
    assert [(p.get("user"), p["reason"], actor) for p, actor in failed] == [
        ("alex", "wrong passphrase", "alex"),
        (None, "unknown account", None),
        ("sam", "wrong password", "sam"),
        ("ines", "account disabled", "ines"),
        (None, "unknown account", None),
    ]
    everything = json.dumps(site.audit())
    for _, secret in tries[:3]:
        assert secret not in everything
    assert PASSWORDS["ines"] not in everything
    assert "Typed-A-Password" not in everything  # unknown names are not written down


async def test_an_old_hash_is_replaced_at_the_next_sign_in(
    site: Site, http: httpx.AsyncClient
) -> None:
    old = Passwords(Argon2Params(time_cost=2, memory_cost=2048, parallelism=1))
    with site.box.sessions.begin() as session:
        users.set_password_hash(session, site.ids["sam"], old.hash(PASSWORDS["sam"]))
    assert (await login(http, "sam", PASSWORDS["sam"])).status_code == 200
    with site.box.sessions() as session:
        record = users.get_user(session, "sam")
    assert record is not None
    assert record.password_hash is not None
    assert "m=1024,t=1,p=1" in record.password_hash
    assert (await login(http, "sam", PASSWORDS["sam"])).status_code == 200


async def test_throttling_answers_429_with_retry_after_and_logs_the_lockout(
    site: Site, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    for i in range(6):  # five free attempts per address, the sixth leaves it waiting
        r = await login(http, "nobody", f"Guess-Number-{i}-abcdef")
        assert r.status_code == 401
    r = await login(http, "alex", PASSPHRASE)
    assert r.status_code == 429
    assert r.headers["retry-after"] == "1"
    assert "try again in 1 s" in r.json()["error"]
    lockouts = [p for kind, p, _ in site.audit() if kind == "login.lockout"]
    assert lockouts == [{"kind": "address", "key": "192.0.2.50", "attempts": 6, "retry_after": 1}]
    assert any(rec.getMessage() == "sign-in lockout" for rec in caplog.records)
    assert "Guess-Number" not in caplog.text
    site.clock.advance(1)
    assert (await login(http, "alex", PASSPHRASE)).status_code == 200


async def test_sign_in_rotates_a_presented_session_id(site: Site, http: httpx.AsyncClient) -> None:
    planted = cookie(_token_of(await login(http, "sam", PASSWORDS["sam"])))
    r = await login(http, "alex", PASSPHRASE, **planted)
    fresh = cookie(_token_of(r))
    assert fresh != planted
    assert (await http.get("/api/v1/session", headers=planted)).status_code == 401
    assert (await http.get("/api/v1/session", headers=fresh)).json()["name"] == "alex"
    ended = [p["reason"] for kind, p, _ in site.audit() if kind == "session.end"]
    assert ended == ["replaced"]


async def test_a_cross_site_sign_in_is_refused(http: httpx.AsyncClient) -> None:
    r = await login(http, "alex", PASSPHRASE, origin="https://evil.test")
    assert (r.status_code, r.json()) == (403, {"error": "cross-site request refused"})


async def test_logout_needs_the_csrf_token_and_ends_the_session(
    site: Site, http: httpx.AsyncClient
) -> None:
    r = await login(http, "alex", PASSPHRASE)
    mine, csrf = cookie(_token_of(r)), r.json()["csrf_token"]
    assert (await http.delete("/api/v1/session", headers=mine)).status_code == 403
    bye = await http.delete("/api/v1/session", headers={**mine, CSRF_HEADER: csrf})
    assert bye.status_code == 204
    assert bye.headers["set-cookie"].startswith(f'{COOKIE_NAME}="";')
    assert (await http.get("/api/v1/health", headers=mine)).status_code == 401
    assert not site.unlocks.active  # the owner's unlock went with the session
    ended = [(p["reason"], actor) for kind, p, actor in site.audit() if kind == "session.end"]
    assert ended == [("logout", "alex")]


async def test_logout_everywhere_ends_every_session_of_the_account(
    http: httpx.AsyncClient,
) -> None:
    first = await login(http, "sam", PASSWORDS["sam"])
    second = await login(http, "sam", PASSWORDS["sam"])
    other = await login(http, "ines", PASSWORDS["ines"])
    mine = cookie(_token_of(first))
    r = await http.post(
        "/api/v1/session/logout-everywhere",
        headers={**mine, CSRF_HEADER: first.json()["csrf_token"]},
    )
    assert r.json() == {"ended": 2}
    for response, alive in ((first, False), (second, False), (other, True)):
        answer = await http.get("/api/v1/session", headers=cookie(_token_of(response)))
        assert answer.status_code == (200 if alive else 401)


async def test_the_owner_locks_and_unlocks_again_within_the_session(
    site: Site, http: httpx.AsyncClient
) -> None:
    r = await login(http, "alex", PASSPHRASE)
    headers = {**cookie(_token_of(r)), CSRF_HEADER: r.json()["csrf_token"]}
    assert (await http.post("/api/v1/lock", headers=headers)).status_code == 204
    assert (await http.get("/api/v1/session", headers=headers)).json()["unlocked"] is False
    wrong = await http.post("/api/v1/unlock", json={"passphrase": "nope"}, headers=headers)
    assert (wrong.status_code, wrong.json()) == (403, {"error": "wrong passphrase"})
    ok = await http.post("/api/v1/unlock", json={"passphrase": PASSPHRASE}, headers=headers)
    assert ok.json() == {"unlocked": True, "idle_timeout_seconds": 600}
    assert (await http.get("/api/v1/session", headers=headers)).json()["unlocked"] is True
    assert site.unlocks.active == 1
    # The unlock's own idle timer (10 min) locks footage; the session (30 min) goes on.
    site.clock.advance(11 * 60)
    site.unlocks.sweep()
    me = await http.get("/api/v1/session", headers=headers)
    assert (me.status_code, me.json()["unlocked"]) == (200, False)


async def test_a_fresh_box_answers_only_on_the_box_itself(tmp_path: Path) -> None:
    fresh = open_site(tmp_path, owner=False)
    try:
        async with client_for(fresh) as lan, client_for(fresh, ("127.0.0.1", 40000)) as local:
            assert (await lan.get("/api/v1/health")).status_code == 403
            assert (await lan.get("/")).status_code == 403
            assert (await local.get("/api/v1/health")).status_code == 200
            assert (await login(lan, "owner", PASSPHRASE)).json() == WRONG
            # Keys (and the owner's account) made while it runs: sign-in from now on.
            fresh.box.create_owner_keys(PASSPHRASE.encode(), 15, CLI_OWNER, "owner")
            assert (await local.get("/api/v1/health")).status_code == 401
            r = await login(lan, "owner", PASSPHRASE)
            assert r.status_code == 200
            assert (await lan.get("/api/v1/health", headers=cookie(_token_of(r)))).is_success
    finally:
        fresh.box.close()


async def test_the_sign_in_page_and_the_redirect_to_it(http: httpx.AsyncClient) -> None:
    page = await http.get("/signin")
    assert page.status_code == 200
    assert 'action="/api/v1/session"' in page.text
    assert 'autocomplete="current-password"' in page.text
    # Script only from the box, never inline (the CSP forbids it anyway).
    assert page.text.count("<script") == page.text.count('<script type="module" src="/static/')
    script = await http.get("/static/signin.js")
    assert script.status_code == 200
    assert "/api/v1/session" in script.text
    assert "0.1.0" not in page.text  # no version shown to who is not signed in
    anonymous = await http.get("/")
    assert (anonymous.status_code, anonymous.headers["location"]) == (303, "/signin")
    r = await login(http, "alex", PASSPHRASE)
    home = await http.get("/", headers=cookie(_token_of(r)))
    assert home.status_code == 200
    assert "Cameras" in home.text


async def test_a_household_viewer_unlocks_again_with_their_password(
    site: Site, http: httpx.AsyncClient
) -> None:
    """docs/design/auth.md, "Unlocking again": a viewer whose household key opens with their
    password may unlock after the idle lock; a viewer without a key and an installer may not."""
    plain = await login(http, "sam", PASSWORDS["sam"])
    assert plain.json()["can_unlock"] is False
    sam_plain = {**cookie(_token_of(plain)), CSRF_HEADER: plain.json()["csrf_token"]}
    none = await http.post(
        "/api/v1/unlock", json={"passphrase": PASSWORDS["sam"]}, headers=sam_plain
    )
    assert (none.status_code, none.json()["error"]) == (
        403,
        "this account has no household key: ask the owner to make one",
    )
    site.box.keys.add_member(
        PASSPHRASE.encode(),
        "sam",
        PASSWORDS["sam"].encode(),
        log_n=15,
        now=datetime.now(UTC),
    )
    r = await login(http, "sam", PASSWORDS["sam"])
    assert (r.json()["unlocked"], r.json()["can_unlock"]) == (True, True)
    headers = {**cookie(_token_of(r)), CSRF_HEADER: r.json()["csrf_token"]}
    site.clock.advance(11 * 60)  # the idle lock
    site.unlocks.sweep()
    assert (await http.get("/api/v1/session", headers=headers)).json()["unlocked"] is False
    wrong = await http.post("/api/v1/unlock", json={"passphrase": "nope"}, headers=headers)
    assert (wrong.status_code, wrong.json()) == (403, {"error": "wrong password"})
    ok = await http.post("/api/v1/unlock", json={"passphrase": PASSWORDS["sam"]}, headers=headers)
    assert ok.json() == {"unlocked": True, "idle_timeout_seconds": 600}
    assert (await http.get("/api/v1/session", headers=headers)).json()["unlocked"] is True
    kinds = [(kind, user) for kind, _, user in site.audit()]
    assert ("unlock.failed", "sam") in kinds
    assert kinds[-1] == ("unlock", "sam")

    installer = await login(http, "ines", PASSWORDS["ines"])
    assert installer.json()["can_unlock"] is False
    refused = await http.post(
        "/api/v1/unlock",
        json={"passphrase": PASSWORDS["ines"]},
        headers={**cookie(_token_of(installer)), CSRF_HEADER: installer.json()["csrf_token"]},
    )
    assert refused.status_code == 403
