"""A viewer linked to a household member key (same name, the sign-in password opens it):
the sign-in unlocks that key, which opens footage recorded since it was added, for the
cameras the owner allows; footage from before stays closed; removing the key ends the
viewer's sessions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from nvr.crypto import NoIdentityMatchError
from nvr.keys.files import seal, unseal
from tests.support.accounts import PASSPHRASE, PASSWORDS, Site, cookie, open_site, token_of
from tests.support.settings import as_, client, settings_for


def clip_url(camera: str, start: str = "2026-01-01T00:00:00Z") -> str:
    return f"/api/v1/cameras/{camera}/clip?start={start}&end=2026-01-01T00:00:30Z"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    built = open_site(tmp_path)
    yield built
    built.box.close()


@pytest.fixture
async def http(site: Site) -> AsyncIterator[httpx.AsyncClient]:
    async with client(site, settings_for(site, None)) as c:
        yield c


async def sign_in(http: httpx.AsyncClient, name: str, password: str) -> httpx.Response:
    http.cookies.clear()
    r = await http.post("/api/v1/session", json={"name": name, "password": password})
    http.cookies.clear()
    return r


async def add_member(http: httpx.AsyncClient, site: Site, name: str, passphrase: str) -> None:
    body = {"name": name, "owner_passphrase": PASSPHRASE, "member_passphrase": passphrase}
    r = await http.post("/api/v1/keys/members", json=body, headers=as_(site, "alex"))
    assert r.status_code == 201, r.text


async def test_a_linked_viewer_signs_in_unlocked(site: Site, http: httpx.AsyncClient) -> None:
    before = await sign_in(http, "sam", PASSWORDS["sam"])
    assert before.json()["unlocked"] is False
    no_key = await http.get(clip_url("porch"), headers=cookie(token_of(before)))
    assert (no_key.status_code, no_key.json()["error"]) == (
        403,
        "this account has no key to open recorded footage yet",
    )
    owner_only = seal(b"recorded before", site.box.keys.recipients())
    await add_member(http, site, "sam", PASSWORDS["sam"])
    after_key = seal(b"recorded after", site.box.keys.recipients())

    listed = (await http.get("/api/v1/users", headers=as_(site, "alex"))).json()
    assert {u["name"]: u["household_key"] for u in listed} == {
        "alex": False,
        "sam": True,
        "ines": False,
    }
    r = await sign_in(http, "sam", PASSWORDS["sam"])
    assert (r.status_code, r.json()["unlocked"]) == (200, True)
    session = site.accounts.sessions.get(token_of(r))
    assert session is not None
    assert session.unlock_token is not None
    identities = site.unlocks.identities(session.unlock_token)
    assert unseal(after_key, identities) == b"recorded after"
    with pytest.raises(NoIdentityMatchError):
        unseal(owner_only, identities)
    # Past the key gate: no footage in that range (404); another camera: the table says no.
    mine = cookie(token_of(r))
    assert (await http.get(clip_url("porch"), headers=mine)).status_code == 404
    other = await http.get(clip_url("garage"), headers=mine)
    assert (other.status_code, other.json()["error"]) == (
        403,
        "the owner has not allowed this account camera 'garage'",
    )
    unlocks = [p for k, p, user in site.audit() if k == "unlock" and user == "sam"]
    assert [p.get("member") for p in unlocks] == ["sam"]


async def test_footage_from_before_the_key_stays_closed(
    site: Site, http: httpx.AsyncClient
) -> None:
    store = site.box.segment_store()
    start = site.clock.wall()
    segment = store.open_segment("porch", start)
    segment.write(b"\x00" * 512)  # the bytes do not matter: the key opens nothing here
    segment.close(start + timedelta(seconds=10))
    await add_member(http, site, "sam", PASSWORDS["sam"])
    r = await sign_in(http, "sam", PASSWORDS["sam"])
    iso = start.isoformat().replace("+00:00", "Z")
    clip = await http.get(
        f"/api/v1/cameras/porch/clip?start={iso}&end="
        + (start + timedelta(seconds=10)).isoformat().replace("+00:00", "Z"),
        headers=cookie(token_of(r)),
    )
    assert (clip.status_code, clip.json()["error"]) == (
        403,
        "this account's key does not open the footage in this range",
    )


async def test_a_different_member_passphrase_leaves_the_viewer_locked(
    site: Site, http: httpx.AsyncClient
) -> None:
    await add_member(http, site, "sam", "Harbour-Violet-26-pebble")
    r = await sign_in(http, "sam", PASSWORDS["sam"])
    assert (r.status_code, r.json()["unlocked"]) == (200, False)
    # Installers never get a key, even with a member key of their name.
    await add_member(http, site, "ines", PASSWORDS["ines"])
    r = await sign_in(http, "ines", PASSWORDS["ines"])
    assert (r.status_code, r.json()["unlocked"]) == (200, False)


async def test_removing_the_key_ends_the_viewers_sessions(
    site: Site, http: httpx.AsyncClient
) -> None:
    await add_member(http, site, "sam", PASSWORDS["sam"])
    r = await sign_in(http, "sam", PASSWORDS["sam"])
    mine = cookie(token_of(r))
    assert (await http.get("/api/v1/session", headers=mine)).status_code == 200
    gone = await http.request(
        "DELETE",
        "/api/v1/keys/members/sam",
        json={"owner_passphrase": PASSPHRASE},
        headers=as_(site, "alex"),
    )
    assert gone.status_code == 200
    assert (await http.get("/api/v1/session", headers=mine)).status_code == 401
    removed = [p for k, p, _ in site.audit() if k == "keys.member.remove"]
    assert removed == [{"name": "sam", "sessions_ended": 1}]
    again = await sign_in(http, "sam", PASSWORDS["sam"])
    assert (again.status_code, again.json()["unlocked"]) == (200, False)
