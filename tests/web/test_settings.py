"""The owner's settings over HTTP (nvr/web/settings.py) against a real box: the key
passphrase, household keys, retention and quota in the config file, the audit log viewer
and the two pages."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from nvr.config import load_config
from nvr.config.models import StorageConfig
from nvr.service.box import SYSTEM
from tests.support.accounts import PASSPHRASE, Site, open_site
from tests.support.settings import CONFIG_TEXT, as_, client, settings_for

NEW_PASSPHRASE = "copper-Lantern-88-drifting"
MEMBER_PASSPHRASE = "Harbour-Violet-26-pebble"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    built = open_site(tmp_path)
    yield built
    built.box.close()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "nvr.yaml"
    path.write_text(CONFIG_TEXT)
    return path


@pytest.fixture
def applied() -> list[StorageConfig]:
    return []


@pytest.fixture
async def http(
    site: Site, config: Path, applied: list[StorageConfig]
) -> AsyncIterator[httpx.AsyncClient]:
    async with client(site, settings_for(site, config, applied)) as c:
        yield c


async def sign_in(http: httpx.AsyncClient, name: str, secret: str) -> int:
    http.cookies.clear()
    r = await http.post("/api/v1/session", json={"name": name, "password": secret})
    http.cookies.clear()
    return r.status_code


async def test_changing_the_passphrase(site: Site, http: httpx.AsyncClient) -> None:
    mine, other = as_(site, "alex"), as_(site, "alex")
    weak = await http.post(
        "/api/v1/keys/passphrase", json={"old": PASSPHRASE, "new": "alex alex"}, headers=mine
    )
    assert weak.status_code == 422
    assert weak.json()["error"].startswith("the passphrase is too short")
    wrong = await http.post(
        "/api/v1/keys/passphrase",
        json={"old": "Not-The-Passphrase-99", "new": NEW_PASSPHRASE},
        headers=mine,
    )
    assert (wrong.status_code, wrong.json()["error"]) == (403, "wrong owner passphrase")
    r = await http.post(
        "/api/v1/keys/passphrase", json={"old": PASSPHRASE, "new": NEW_PASSPHRASE}, headers=mine
    )
    assert (r.status_code, r.json()) == (200, {"sessions_ended": 1})
    # This session (and its unlock) goes on; the other one ended.
    me = await http.get("/api/v1/session", headers=mine)
    assert (me.status_code, me.json()["unlocked"]) == (200, True)
    assert (await http.get("/api/v1/session", headers=other)).status_code == 401
    assert await sign_in(http, "alex", PASSPHRASE) == 401
    assert await sign_in(http, "alex", NEW_PASSPHRASE) == 200
    kinds = [(k, p) for k, p, _ in site.audit() if k.startswith("keys.passphrase")]
    assert kinds == [
        ("keys.passphrase.failed", {"reason": "wrong passphrase"}),
        ("keys.passphrase", {"sessions_ended": 1}),
    ]
    assert NEW_PASSPHRASE not in json.dumps(site.audit())


async def test_household_member_keys(site: Site, http: httpx.AsyncClient) -> None:
    owner = as_(site, "alex")
    assert (await http.get("/api/v1/keys/members", headers=owner)).json() == {"members": []}
    body = {"name": "kim", "owner_passphrase": PASSPHRASE, "member_passphrase": "kim"}
    weak = await http.post("/api/v1/keys/members", json=body, headers=owner)
    assert weak.status_code == 422
    body["member_passphrase"] = MEMBER_PASSPHRASE
    wrong = await http.post(
        "/api/v1/keys/members", json={**body, "owner_passphrase": "Wrong-One-77-x"}, headers=owner
    )
    assert wrong.status_code == 403
    bad = await http.post("/api/v1/keys/members", json={**body, "name": "k m"}, headers=owner)
    assert bad.status_code == 422
    r = await http.post("/api/v1/keys/members", json=body, headers=owner)
    assert (r.status_code, r.json()) == (201, {"members": ["kim"]})
    assert "member:kim" in site.box.keys.recipient_list()
    again = await http.post("/api/v1/keys/members", json=body, headers=owner)
    assert again.status_code == 409
    gone = await http.request(
        "DELETE", "/api/v1/keys/members/kim", json={"owner_passphrase": PASSPHRASE}, headers=owner
    )
    assert (gone.status_code, gone.json()) == (200, {"members": []})
    missing = await http.request(
        "DELETE", "/api/v1/keys/members/kim", json={"owner_passphrase": PASSPHRASE}, headers=owner
    )
    assert missing.status_code == 404
    kinds = [k for k, _, _ in site.audit() if k.startswith("keys.member")]
    assert kinds == ["keys.member.add", "keys.member.remove"]


async def test_retention_is_saved_with_the_comments_and_applied(
    site: Site, http: httpx.AsyncClient, config: Path, applied: list[StorageConfig]
) -> None:
    owner = as_(site, "alex")
    view = (await http.get("/api/v1/settings/retention", headers=owner)).json()
    assert (view["editable"], view["config_file"]) == (True, str(config))
    body = {"continuous_days": 7, "event_days": 60, "quota": "80%"}
    r = await http.put("/api/v1/settings/retention", json=body, headers=owner)
    assert r.status_code == 200, r.text
    assert (r.json()["continuous_days"], r.json()["event_days"], r.json()["quota"]) == (
        7,
        60,
        "80%",
    )
    text = config.read_text()
    assert "# The installer's config." in text
    assert "continuous_days: 7  # two weeks of everything" in text
    saved = load_config(config).storage
    assert (saved.retention.continuous_days, saved.retention.event_days, saved.quota) == (
        7,
        60,
        "80%",
    )
    assert [(s.retention.continuous_days, s.quota) for s in applied] == [(7, "80%")]
    audit = [p for k, p, _ in site.audit() if k == "settings.retention"]
    assert audit == [{"continuous_days": 7, "event_days": 60, "quota": "80%"}]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"continuous_days": -1, "event_days": 30}, "invalid request"),
        ({"continuous_days": 7, "event_days": 30, "quota": "lots"}, "quota 'lots'"),
        ({"continuous_days": 7, "event_days": 30, "quota": "5 parsecs"}, "quota"),
        ({"continuous_days": 40, "event_days": 30}, "event recordings must be kept"),
    ],
)
async def test_bad_retention_is_422_and_the_file_is_unchanged(
    site: Site, http: httpx.AsyncClient, config: Path, body: dict[str, object], reason: str
) -> None:
    r = await http.put("/api/v1/settings/retention", json=body, headers=as_(site, "alex"))
    assert r.status_code == 422, r.text
    assert reason in r.json()["error"]
    assert config.read_text() == CONFIG_TEXT


async def test_without_a_config_file_retention_cannot_be_saved(site: Site) -> None:
    async with client(site, settings_for(site, None)) as http:
        owner = as_(site, "alex")
        view = (await http.get("/api/v1/settings/retention", headers=owner)).json()
        assert (view["editable"], view["continuous_days"]) == (False, 14)
        body = {"continuous_days": 7, "event_days": 30}
        r = await http.put("/api/v1/settings/retention", json=body, headers=owner)
        assert r.status_code == 409


async def test_the_audit_viewer_pages_and_verifies(site: Site, http: httpx.AsyncClient) -> None:
    owner = as_(site, "alex")
    for n in range(7):
        site.box.record("test.entry", {"n": n, "text": "x" * 300}, SYSTEM)
    total = len(site.audit())
    first = (await http.get("/api/v1/audit?limit=3", headers=owner)).json()
    assert first["total"] == total
    assert [e["seq"] for e in first["entries"]] == [total - 1, total - 2, total - 3]
    newest = first["entries"][0]
    assert (newest["kind"], newest["actor"]) == ("test.entry", {"role": "system", "user": None})
    assert newest["summary"].startswith('{"n": 6, "text": "xxx')
    assert len(newest["summary"]) == 240
    second = await http.get(f"/api/v1/audit?limit=3&before={first['next_before']}", headers=owner)
    assert [e["seq"] for e in second.json()["entries"]] == [total - 4, total - 5, total - 6]
    verdict = (await http.post("/api/v1/audit/verify", headers=owner)).json()
    assert (verdict["ok"], verdict["entries"]) == (True, total)
    for query in ("limit=0", "limit=201", f"before={2**63}"):
        assert (await http.get(f"/api/v1/audit?{query}", headers=owner)).status_code == 422


async def test_verify_reports_a_tampered_entry(site: Site, http: httpx.AsyncClient) -> None:
    seq = site.box.record("test.entry", {"n": 1}, SYSTEM)
    with site.box.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE audit_entries SET entry_json = replace(entry_json, '\"n\":1', '\"n\":2')"
            " WHERE kind = 'test.entry'"
        )
    verdict = (await http.post("/api/v1/audit/verify", headers=as_(site, "alex"))).json()
    assert verdict["ok"] is False
    assert verdict["bad_seq"] == seq
    assert verdict["reason"]


async def test_the_pages(site: Site, http: httpx.AsyncClient) -> None:
    owner = as_(site, "alex")
    page = await http.get("/settings", headers=owner)
    assert page.status_code == 200
    for section in (
        "users-title",
        "windows-title",
        "members-title",
        "passphrase-title",
        "totp-title",
        "retention-title",
        "notify-title",
    ):
        assert f'id="{section}"' in page.text
    assert '<script type="module" src="/static/settings.js"></script>' in page.text
    assert 'aria-current="page"' in page.text
    audit = await http.get("/settings/audit", headers=owner)
    assert audit.status_code == 200
    assert "/static/audit.js" in audit.text
    assert (await http.get("/settings", headers=as_(site, "ines"))).status_code == 403
    http.cookies.clear()
    anonymous = await http.get("/settings/audit")
    assert (anonymous.status_code, anonymous.headers["location"]) == (303, "/signin")
    for asset in ("settings.js", "audit.js", "notify.js"):
        assert (await http.get(f"/static/{asset}")).status_code == 200
