"""Accounts and install windows over HTTP (nvr/web/users.py) against a real box: owner
``alex``, viewer ``sam`` (camera ``porch``), installer ``ines``; sign-ins are real."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from nvr.auth.sessions import CSRF_HEADER
from tests.support.accounts import PASSWORDS, Site, open_site
from tests.support.settings import as_, client, settings_for

NEW_PASSWORD = "Orchard-Kettle-71-umbrella"
CLIP = "/api/v1/cameras/porch/clip?start=2026-01-01T00:00:00Z&end=2026-01-01T00:00:05Z"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    built = open_site(tmp_path)
    yield built
    built.box.close()


@pytest.fixture
async def http(site: Site) -> AsyncIterator[httpx.AsyncClient]:
    async with client(site, settings_for(site, None)) as c:
        yield c


async def sign_in(http: httpx.AsyncClient, name: str, password: str) -> int:
    http.cookies.clear()
    r = await http.post("/api/v1/session", json={"name": name, "password": password})
    http.cookies.clear()
    return r.status_code


async def test_the_owner_lists_accounts_with_roles_and_cameras(
    site: Site, http: httpx.AsyncClient
) -> None:
    r = await http.get("/api/v1/users", headers=as_(site, "alex"))
    assert r.status_code == 200, r.text
    rows = {u["name"]: (u["role"], u["enabled"], u["cameras"]) for u in r.json()}
    assert rows == {
        "alex": ("owner", True, None),
        "sam": ("viewer", True, ["porch"]),
        "ines": ("installer", True, None),
    }


async def test_adding_a_viewer_checks_the_password_and_the_viewer_signs_in(
    site: Site, http: httpx.AsyncClient
) -> None:
    owner = as_(site, "alex")
    weak = {"name": "kim", "role": "viewer", "password": "password123"}
    r = await http.post("/api/v1/users", json=weak, headers=owner)
    assert r.status_code == 422
    assert r.json()["error"].startswith("the password is too short (11 characters")
    body = {"name": "Kim", "role": "viewer", "password": NEW_PASSWORD, "cameras": ["garage"]}
    r = await http.post("/api/v1/users", json=body, headers=owner)
    assert r.status_code == 201, r.text
    assert (r.json()["name"], r.json()["cameras"]) == ("kim", ["garage"])
    assert await sign_in(http, "kim", NEW_PASSWORD) == 200
    again = await http.post("/api/v1/users", json=body, headers=owner)
    assert again.status_code == 409
    bad_name = await http.post("/api/v1/users", json={**body, "name": "no spaces"}, headers=owner)
    assert bad_name.status_code == 422
    unknown = {**body, "name": "lee", "cameras": ["attic"]}
    r = await http.post("/api/v1/users", json=unknown, headers=owner)
    assert (r.status_code, r.json()["error"]) == (422, "unknown camera: attic")
    assert await sign_in(http, "lee", NEW_PASSWORD) == 401  # rolled back with the cameras
    entries = [(k, p) for k, p, _ in site.audit() if k.startswith("users.")]
    assert entries == [("users.create", {"name": "kim", "role": "viewer", "cameras": ["garage"]})]
    assert NEW_PASSWORD not in json.dumps(site.audit())


async def test_changes_end_the_accounts_sessions(site: Site, http: httpx.AsyncClient) -> None:
    owner = as_(site, "alex")
    sam = as_(site, "sam")
    assert (await http.get("/api/v1/session", headers=sam)).status_code == 200
    r = await http.patch("/api/v1/users/sam", json={"role": "installer"}, headers=owner)
    assert (r.status_code, r.json()["role"], r.json()["cameras"]) == (200, "installer", None)
    assert (await http.get("/api/v1/session", headers=sam)).status_code == 401

    r = await http.patch("/api/v1/users/sam", json={"password": NEW_PASSWORD}, headers=owner)
    assert r.status_code == 200
    assert await sign_in(http, "sam", PASSWORDS["sam"]) == 401
    assert await sign_in(http, "sam", NEW_PASSWORD) == 200

    r = await http.patch("/api/v1/users/sam", json={"enabled": False}, headers=owner)
    assert (r.status_code, r.json()["enabled"]) == (200, False)
    assert await sign_in(http, "sam", NEW_PASSWORD) == 401
    r = await http.patch("/api/v1/users/sam", json={"enabled": True}, headers=owner)
    assert await sign_in(http, "sam", NEW_PASSWORD) == 200

    assert (await http.patch("/api/v1/users/sam", json={}, headers=owner)).status_code == 422
    weak = await http.patch("/api/v1/users/sam", json={"password": "abc"}, headers=owner)
    assert weak.status_code == 422
    changes = [p["changes"] for k, p, _ in site.audit() if k == "users.update"]
    assert changes == [["role installer"], ["password reset"], ["disabled"], ["enabled"]]


async def test_the_owner_cannot_be_deleted_demoted_or_disabled(
    site: Site, http: httpx.AsyncClient
) -> None:
    owner = as_(site, "alex")
    assert (await http.delete("/api/v1/users/alex", headers=owner)).status_code == 409
    for change in ({"role": "viewer"}, {"enabled": False}, {"password": NEW_PASSWORD}):
        r = await http.patch("/api/v1/users/alex", json=change, headers=owner)
        assert r.status_code == 409, change
        assert "owner" in r.json()["error"]
    assert (await http.get("/api/v1/session", headers=owner)).status_code == 200


async def test_deleting_an_account_ends_its_sessions(site: Site, http: httpx.AsyncClient) -> None:
    owner = as_(site, "alex")
    sam = as_(site, "sam")
    assert (await http.delete("/api/v1/users/sam", headers=owner)).status_code == 204
    assert (await http.get("/api/v1/session", headers=sam)).status_code == 401
    assert await sign_in(http, "sam", PASSWORDS["sam"]) == 401
    assert (await http.delete("/api/v1/users/sam", headers=owner)).status_code == 404
    deleted = [p for k, p, _ in site.audit() if k == "users.delete"]
    assert deleted == [{"name": "sam", "role": "viewer", "sessions_ended": 1}]


async def test_a_viewers_cameras(site: Site, http: httpx.AsyncClient) -> None:
    owner = as_(site, "alex")
    r = await http.put("/api/v1/users/sam/cameras", json={"cameras": ["garage"]}, headers=owner)
    assert (r.status_code, r.json()["cameras"]) == (200, ["garage"])
    sam = as_(site, "sam")
    denied = await http.get(CLIP, headers=sam)
    assert (denied.status_code, denied.json()["error"]) == (
        403,
        "the owner has not allowed this account camera 'porch'",
    )
    r = await http.put("/api/v1/users/ines/cameras", json={"cameras": ["porch"]}, headers=owner)
    assert r.status_code == 409
    r = await http.put("/api/v1/users/sam/cameras", json={"cameras": ["attic"]}, headers=owner)
    assert r.status_code == 422


async def test_changes_need_the_csrf_token_and_the_owner(
    site: Site, http: httpx.AsyncClient
) -> None:
    owner = as_(site, "alex")
    no_csrf = {k: v for k, v in owner.items() if k != CSRF_HEADER}
    r = await http.delete("/api/v1/users/sam", headers=no_csrf)
    assert r.status_code == 403
    for name in ("sam", "ines"):
        r = await http.post("/api/v1/install-windows", json={"minutes": 5}, headers=as_(site, name))
        assert r.status_code == 403
        assert "may not use install_window.open" in r.json()["error"]


async def test_an_install_window_opens_and_closes_the_installers_footage_decision(
    site: Site, http: httpx.AsyncClient
) -> None:
    owner = as_(site, "alex")
    ines = as_(site, "ines")
    before = await http.get(CLIP, headers=ines)
    assert before.json()["error"] == "footage.view needs an install window opened by the owner"
    for minutes in (0, 481):
        r = await http.post("/api/v1/install-windows", json={"minutes": minutes}, headers=owner)
        assert r.status_code == 422
    r = await http.post("/api/v1/install-windows", json={"minutes": 90}, headers=owner)
    assert r.status_code == 201, r.text
    window = r.json()
    assert (window["open"], window["seconds_left"], window["opened_by"]) == (True, 5400, "alex")
    inside = await http.get(CLIP, headers=ines)
    # The table now lets the installer through; only the missing key stops the footage.
    assert inside.json()["error"] == "this account has no key to open recorded footage yet"
    site.clock.advance(600)
    listed = (await http.get("/api/v1/install-windows", headers=owner)).json()
    assert listed["current"]["seconds_left"] == 4800
    assert listed["max_minutes"] == 480
    r = await http.delete(f"/api/v1/install-windows/{window['id']}", headers=owner)
    assert r.status_code == 204
    after = await http.get(CLIP, headers=ines)
    assert after.json()["error"] == "footage.view needs an install window opened by the owner"
    listed = (await http.get("/api/v1/install-windows", headers=owner)).json()
    assert listed["current"] is None
    assert listed["recent"][0]["closed_at"] is not None
    r = await http.delete(f"/api/v1/install-windows/{window['id']}", headers=owner)
    assert r.status_code == 404
    huge = await http.delete(f"/api/v1/install-windows/{2**64}", headers=owner)
    assert huge.status_code == 422
    kinds = [(k, p.get("minutes")) for k, p, _ in site.audit() if k.startswith("install_window")]
    assert kinds == [("install_window.open", 90), ("install_window.close", None)]
