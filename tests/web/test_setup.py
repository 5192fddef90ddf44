"""First run over HTTP against the real app and a real box WITHOUT keys or owner: the LAN
check, the setup code and its throttle, the strength meter, key creation (the recovery
identity opens, with the real ``age`` CLI, a segment written afterwards), the owner
signed in, the recording callback, the recovery confirmation, and the end of setup."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from nvr.auth.sessions import CSRF_HEADER
from nvr.service.status import ServiceStatus
from nvr.web.app import create_app
from nvr.web.setup import (
    CODE_FILE,
    CODE_HEADER,
    PENDING_FILE,
    SetupCode,
    SetupFlow,
    is_lan,
    normalise_code,
)
from tests.support.accounts import BASE, Site, cookie, open_site, token_of

HOME = ("192.168.1.20", 50000)
PASSPHRASE = "Lantern-Orchard-17-briskly"


def status() -> ServiceStatus:
    return ServiceStatus(
        version="0.1.0",
        started_at=datetime(2026, 11, 27, tzinfo=UTC),
        uptime_seconds=1.0,
        tls_fingerprint="AB:CD",
    )


class Fresh:
    def __init__(self, site: Site) -> None:
        self.site = site
        self.data_dir = site.box.cfg.storage.data_dir
        self.code = SetupCode.create(self.data_dir)
        self.keys_made = 0

        async def on_keys() -> list[str]:
            self.keys_made += 1
            return ["porch"]

        self.app = create_app(
            status=status,
            accounts=site.accounts,
            segments=site.box.segment_store,
            record=site.box.record,
            setup=SetupFlow(site.box, self.code, on_keys, work_factor=15),
        )

    def client(self, host: tuple[str, int] = HOME) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, client=host)
        return httpx.AsyncClient(transport=transport, base_url=BASE)

    def kinds(self) -> list[str]:
        return [kind for kind, _, _ in self.site.audit()]


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Fresh]:
    site = open_site(tmp_path, owner=False)
    yield Fresh(site)
    site.box.close()


@pytest.fixture
async def http(fresh: Fresh) -> AsyncIterator[httpx.AsyncClient]:
    async with fresh.client() as client:
        yield client


def owner_body(passphrase: str = PASSPHRASE, confirmation: str | None = None) -> dict[str, str]:
    return {"name": "Alex", "passphrase": passphrase, "confirmation": confirmation or passphrase}


@pytest.mark.parametrize(
    ("host", "lan"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("10.1.2.3", True),
        ("172.16.0.9", True),
        ("172.32.0.9", False),
        ("192.168.1.20", True),
        ("169.254.7.7", True),
        ("fd12:3456::1", True),
        ("fe80::1%eth0", True),
        ("::ffff:192.168.1.4", True),
        ("203.0.113.7", False),
        ("8.8.8.8", False),
        ("2001:db8::1", False),
        ("192.0.2.50", False),  # documentation range, not RFC 1918
        ("not-an-ip", False),
        (None, False),
    ],
)
def test_only_lan_addresses_count_as_lan(host: str | None, lan: bool) -> None:
    assert is_lan(host) is lan


def test_the_code_is_8_base32_symbols_in_a_0600_file(fresh: Fresh) -> None:
    path = fresh.data_dir / CODE_FILE
    text = path.read_text().strip()
    assert text == fresh.code.display
    assert len(text) == 9
    assert text[4] == "-"
    assert (path.stat().st_mode & 0o777) == 0o600
    assert fresh.code.matches(text.lower().replace("-", " "))
    assert normalise_code("o1l-i") == "0111"
    assert not fresh.code.matches(text[:-1])
    assert not fresh.code.matches(None)


async def test_a_wrong_code_is_refused_then_throttled(
    fresh: Fresh, http: httpx.AsyncClient
) -> None:
    good = {CODE_HEADER: fresh.code.display}
    assert (await http.post("/api/v1/setup/check", headers=good)).status_code == 204
    for _ in range(6):
        r = await http.post("/api/v1/setup/check", headers={CODE_HEADER: "AAAA-AAAA"})
        assert r.status_code == 403
        assert "setup code" in r.json()["error"]
    # Now even the right code waits: the address guessed too often.
    r = await http.post("/api/v1/setup/check", headers=good)
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) >= 1
    missing = await http.post("/api/v1/setup/strength", json={"passphrase": "x"})
    assert missing.status_code == 429
    fresh.site.clock.advance(2)
    assert (await http.post("/api/v1/setup/check", headers=good)).status_code == 204
    assert fresh.kinds().count("setup.code_failed") == 6


async def test_a_public_address_is_refused_even_with_the_code(fresh: Fresh) -> None:
    async with fresh.client(("203.0.113.7", 40000)) as outsider:
        r = await outsider.post("/api/v1/setup/check", headers={CODE_HEADER: fresh.code.display})
        assert r.status_code == 403
        assert "local network" in r.json()["error"]
        page = await outsider.get("/setup")
        assert page.status_code == 403
    async with fresh.client(("fd00::5", 40000)) as neighbour:
        r = await neighbour.post("/api/v1/setup/check", headers={CODE_HEADER: fresh.code.display})
        assert r.status_code == 204


async def test_the_page_is_served_on_the_lan_without_inline_script(
    http: httpx.AsyncClient,
) -> None:
    page = await http.get("/setup?code=ABCD-EFGH")
    assert page.status_code == 200
    assert 'src="/static/setup.js"' in page.text
    assert "<script>" not in page.text
    assert "onclick" not in page.text


async def test_strength_meter_and_weak_passphrases_refused_with_the_reason(
    fresh: Fresh, http: httpx.AsyncClient
) -> None:
    code = {CODE_HEADER: fresh.code.display}
    weak = await http.post(
        "/api/v1/setup/strength", json={"passphrase": "password1234"}, headers=code
    )
    assert weak.status_code == 200
    assert weak.json()["ok"] is False
    assert weak.json()["score"] < 3
    assert "weak" in weak.json()["reason"]
    short = await http.post("/api/v1/setup/strength", json={"passphrase": "abc"}, headers=code)
    assert "too short" in short.json()["reason"]
    strong = await http.post(
        "/api/v1/setup/strength", json={"passphrase": PASSPHRASE}, headers=code
    )
    assert strong.json()["ok"] is True
    assert strong.json()["score"] >= 3
    r = await http.post("/api/v1/setup/owner", json=owner_body("password1234"), headers=code)
    assert r.status_code == 422
    assert r.json()["field"] == "passphrase"
    assert "too weak" in r.json()["error"]
    r = await http.post(
        "/api/v1/setup/owner", json=owner_body(confirmation=PASSPHRASE + "x"), headers=code
    )
    assert (r.status_code, r.json()["field"]) == (422, "confirmation")
    r = await http.post(
        "/api/v1/setup/owner", json={**owner_body(), "name": "no spaces!"}, headers=code
    )
    assert (r.status_code, r.json()["field"]) == (422, "name")
    assert not fresh.site.box.keys.exists()


@pytest.mark.usefixtures("age_required")
async def test_setup_creates_keys_signs_in_and_the_recovery_key_opens_new_footage(
    fresh: Fresh, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    code = {CODE_HEADER: fresh.code.display}
    r = await http.post("/api/v1/setup/owner", json=owner_body(), headers=code)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["name"], body["role"], body["unlocked"]) == ("alex", "owner", True)
    assert body["recording"] == ["porch"]
    assert fresh.keys_made == 1
    recovery = body["recovery_identity"]
    assert recovery.startswith("AGE-SECRET-KEY-1")
    assert not (fresh.data_dir / CODE_FILE).exists()
    assert (fresh.data_dir / PENDING_FILE).exists()
    # Nothing on the box holds the recovery identity.
    for path in fresh.data_dir.rglob("*"):
        if path.is_file():
            assert recovery.encode() not in path.read_bytes(), path
    # Signed in, unlocked, and the normal guard applies from now on.
    token = token_of(r)
    http.cookies.clear()  # each request below says which cookie it presents
    me = await http.get("/api/v1/session", headers=cookie(token))
    assert me.json()["unlocked"] is True
    assert (await http.get("/api/v1/health")).status_code == 401
    # Setup is over: every setup route says so, even with the old code.
    again = await http.post("/api/v1/setup/owner", json=owner_body(), headers=code)
    assert (again.status_code, again.json()["error"]) == (409, "already set up: sign in instead")
    assert (await http.get("/setup")).status_code == 409
    assert (await http.post("/api/v1/setup/check", headers=code)).status_code == 409
    # A segment written now opens with the recovery identity alone (the real age CLI).
    store = fresh.site.box.segment_store()
    now = fresh.site.clock.wall()
    segment = store.open_segment("porch", now)
    segment.write(b"porch footage after setup")
    record = segment.close(now + timedelta(seconds=4))
    key = tmp_path / "recovery.key"
    key.write_text(recovery + "\n")
    key.chmod(0o600)
    plain = subprocess.run(
        ["age", "-d", "-i", str(key), str(store.path_of(record))],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    assert plain.startswith(b"porch footage after setup")
    # The recovery key is confirmed once, by the signed-in owner (CSRF).
    confirm = "/api/v1/setup/recovery-confirmed"
    assert (await http.post(confirm)).status_code == 401
    assert (await http.post(confirm, headers=cookie(token))).status_code == 403
    headers = {**cookie(token), CSRF_HEADER: body["csrf_token"]}
    state = await http.get("/api/v1/setup/recovery", headers=cookie(token))
    assert state.json() == {"pending": True}
    assert (await http.post(confirm, headers=headers)).status_code == 204
    state = await http.get("/api/v1/setup/recovery", headers=cookie(token))
    assert state.json() == {"pending": False}
    assert not (fresh.data_dir / PENDING_FILE).exists()
    assert (await http.post(confirm, headers=headers)).status_code == 409
    kinds = fresh.kinds()
    for kind in ("keys.init", "setup.owner", "unlock", "login", "setup.recovery_confirmed"):
        assert kind in kinds
    entries = fresh.site.audit()
    assert PASSPHRASE not in str(entries)
    assert recovery not in str(entries)
    assert {user for kind, _, user in entries if kind.startswith("setup.")} == {"alex"}


async def test_two_browsers_racing_make_one_owner_and_a_cross_site_post_is_refused(
    fresh: Fresh, http: httpx.AsyncClient
) -> None:
    code = {CODE_HEADER: fresh.code.display}
    evil = await http.post(
        "/api/v1/setup/owner",
        json=owner_body(),
        headers={**code, "origin": "https://evil.example"},
    )
    assert (evil.status_code, evil.json()["error"]) == (403, "cross-site request refused")
    assert not fresh.site.box.keys.exists()
    async with fresh.client(("192.168.1.21", 50000)) as other:
        first, second = await asyncio.gather(
            http.post("/api/v1/setup/owner", json=owner_body(), headers=code),
            other.post(
                "/api/v1/setup/owner",
                json={**owner_body(), "name": "mallory"},
                headers=code,
            ),
        )
    assert sorted([first.status_code, second.status_code]) == [200, 409]
    assert fresh.kinds().count("keys.init") == 1
    assert fresh.keys_made == 1
