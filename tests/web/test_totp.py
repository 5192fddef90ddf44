"""The owner's second factor over HTTP: enrol and confirm with codes pyotp makes, sign in
with the code, the same 401 for a missing or wrong code as for a wrong passphrase, a
replayed code refused, wrong codes counted by the throttle, turning it off."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from tests.support.accounts import PASSPHRASE, Site, open_site
from tests.support.settings import as_, client, settings_for

WRONG = {"error": "wrong name or password"}


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    built = open_site(tmp_path)
    yield built
    built.box.close()


@pytest.fixture
async def http(site: Site) -> AsyncIterator[httpx.AsyncClient]:
    async with client(site, settings_for(site, None)) as c:
        yield c


def code_at(secret: str, site: Site, offset: float = 0) -> str:
    return pyotp.TOTP(secret).at(site.clock.wall().timestamp() + offset)


def other_code(secret: str, site: Site) -> str:
    """A six-digit code that is none of the three accepted now."""
    accepted = {code_at(secret, site, d) for d in (-30, 0, 30)}
    return next(c for c in (f"{n:06d}" for n in range(4)) if c not in accepted)


async def sign_in(http: httpx.AsyncClient, **body: Any) -> httpx.Response:
    http.cookies.clear()
    r = await http.post("/api/v1/session", json={"name": "alex", **body})
    http.cookies.clear()
    return r


async def enrol(site: Site, http: httpx.AsyncClient) -> str:
    owner = as_(site, "alex")
    r = await http.post("/api/v1/totp/enrol", headers=owner)
    assert r.status_code == 200, r.text
    secret: str = r.json()["secret"]
    assert r.json()["uri"].startswith("otpauth://totp/Porchlight:alex?secret=")
    wrong = await http.post(
        "/api/v1/totp/confirm", json={"code": other_code(secret, site)}, headers=owner
    )
    assert wrong.status_code == 422
    r = await http.post("/api/v1/totp/confirm", json={"code": code_at(secret, site)}, headers=owner)
    assert (r.status_code, r.json()) == (200, {"enabled": True})
    assert (await http.get("/api/v1/totp", headers=owner)).json() == {"enabled": True}
    again = await http.post("/api/v1/totp/enrol", headers=owner)
    assert again.status_code == 409
    site.clock.advance(30)  # the confirming code's step is used
    return secret


async def test_sign_in_with_the_code(site: Site, http: httpx.AsyncClient) -> None:
    assert (await sign_in(http, password=PASSPHRASE)).status_code == 200  # off by default
    secret = await enrol(site, http)
    missing = await sign_in(http, password=PASSPHRASE)
    assert (missing.status_code, missing.json()) == (401, WRONG)
    assert "set-cookie" not in missing.headers
    wrong = await sign_in(http, password=PASSPHRASE, otp=other_code(secret, site))
    assert (wrong.status_code, wrong.json()) == (401, WRONG)
    # A right code with a wrong passphrase: the same answer (no oracle either way).
    bad_phrase = await sign_in(http, password="Not-The-Passphrase-1", otp=code_at(secret, site))
    assert (bad_phrase.status_code, bad_phrase.json()) == (401, WRONG)
    good = await sign_in(http, password=PASSPHRASE, otp=code_at(secret, site))
    assert good.status_code == 200, good.text
    assert good.json()["unlocked"] is True
    replay = await sign_in(http, password=PASSPHRASE, otp=code_at(secret, site))
    assert (replay.status_code, replay.json()) == (401, WRONG)
    reasons = [p["reason"] for k, p, _ in site.audit() if k == "login.failed"]
    assert reasons == ["code missing", "wrong code", "wrong passphrase", "wrong code"]
    # Every refused code locked the unlock its passphrase had opened.
    locks = [p["reason"] for k, p, _ in site.audit() if k == "lock"]
    assert locks == ["second factor refused"] * 3
    assert site.unlocks.active == 3  # the first sign-in's, the enrolling session's, the good one
    assert secret not in json.dumps(site.audit())


async def test_wrong_codes_are_throttled_like_passwords(
    site: Site, http: httpx.AsyncClient
) -> None:
    secret = await enrol(site, http)
    statuses = [
        (await sign_in(http, password=PASSPHRASE, otp=other_code(secret, site))).status_code
        for _ in range(7)
    ]
    assert statuses == [401] * 6 + [429]
    lockouts = [p["kind"] for k, p, _ in site.audit() if k == "login.lockout"]
    assert "address" in lockouts


async def test_turning_it_off_needs_the_passphrase_and_a_code(
    site: Site, http: httpx.AsyncClient
) -> None:
    secret = await enrol(site, http)
    owner = as_(site, "alex")
    body = {"passphrase": "Not-The-Passphrase-1", "code": code_at(secret, site)}
    r = await http.request("DELETE", "/api/v1/totp", json=body, headers=owner)
    assert r.status_code == 403
    body = {"passphrase": PASSPHRASE, "code": other_code(secret, site)}
    r = await http.request("DELETE", "/api/v1/totp", json=body, headers=owner)
    assert (r.status_code, r.json()) == (403, {"error": "wrong code"})
    body = {"passphrase": PASSPHRASE, "code": code_at(secret, site)}
    r = await http.request("DELETE", "/api/v1/totp", json=body, headers=owner)
    assert (r.status_code, r.json()) == (200, {"enabled": False})
    assert (await sign_in(http, password=PASSPHRASE)).status_code == 200
    kinds = [k for k, _, _ in site.audit() if k.startswith("totp.")]
    assert kinds == ["totp.enrol", "totp.enable", "totp.disable"]


async def test_viewers_and_installers_have_no_second_factor_routes(
    site: Site, http: httpx.AsyncClient
) -> None:
    for name in ("sam", "ines"):
        r = await http.post("/api/v1/totp/enrol", headers=as_(site, name))
        assert r.status_code == 403
