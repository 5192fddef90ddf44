"""The request log over HTTP: create, list, get, update, state machine, decline, paperwork
(sealed on disk), legal holds, and the audit entries every change leaves."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select
from sqlalchemy.exc import DatabaseError

from nvr.db.models import DataRequest, Hold, RequestChange
from nvr.sharing.requests import TRANSITIONS, NothingDeleted, State
from tests.support.accounts import Site, open_site
from tests.support.settings import as_
from tests.support.sharing import sharing_client

PDF = b"%PDF-1.4\n% the officer's letter: CASE-2026-0042 secret-marker\n%%EOF\n"
NEW = {
    "organisation": "Metro Police",
    "person": "Officer Lee",
    "badge": "4471",
    "contact": "lee@metro.example",
    "reference": "CASE-2026-0042",
    "basis": "voluntary",
    "channel": "in_person",
    "received_at": "2026-01-01T09:00:00Z",
    "deadline": "2026-01-02T09:00:00Z",
    "window_start": "2025-12-31T20:00:00Z",
    "window_end": "2025-12-31T21:00:00Z",
    "cameras": ["porch"],
    "reason": "a parcel theft on the street",
}


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    built = open_site(tmp_path)
    yield built
    built.box.close()


@pytest.fixture
async def http(site: Site) -> AsyncIterator[httpx.AsyncClient]:
    async with sharing_client(site) as client:
        yield client


async def create(http: httpx.AsyncClient, site: Site, **changes: Any) -> dict[str, Any]:
    r = await http.post("/api/v1/requests", json={**NEW, **changes}, headers=as_(site, "alex"))
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def kinds(site: Site, prefix: str) -> list[tuple[str, dict[str, Any]]]:
    return [(k, p) for k, p, _ in site.audit() if k.startswith(prefix)]


async def test_create_list_get_with_guidance_and_audit(site: Site, http: httpx.AsyncClient) -> None:
    created = await create(http, site)
    assert created["state"] == "received"
    assert created["allowed"] == ["declined", "expired", "under_review", "withdrawn"]
    # 2026-01-01 00:00 on the fake clock: the deadline is 33 h away.
    assert (created["overdue"], created["due_soon"]) == (False, True)
    owner = as_(site, "alex")
    listed = (await http.get("/api/v1/requests", headers=owner)).json()["requests"]
    assert [r["id"] for r in listed] == [created["id"]]
    detail = (await http.get(f"/api/v1/requests/{created['id']}", headers=owner)).json()
    assert detail["request"]["reference"] == "CASE-2026-0042"
    assert "not legal advice" in detail["guidance"]["disclaimer"]
    assert detail["guidance"]["compels"] is False
    assert [h["kind"] for h in detail["history"]] == ["create"]
    [(kind, payload)] = kinds(site, "request.")
    assert kind == "request.create"
    assert payload["organisation"] == "Metro Police"
    assert payload["basis"] == "voluntary"
    assert payload["received_at"] == "2026-01-01T09:00:00+00:00"
    seqs = [seq for seq, (k, _, _) in enumerate(site.audit()) if k == "request.create"]
    assert [h["audit_seq"] for h in detail["history"]] == seqs


async def test_filters_and_overdue(site: Site, http: httpx.AsyncClient) -> None:
    first = await create(http, site, basis="search_warrant")
    await create(http, site, deadline=None)
    site.clock.advance(3 * 86400)  # past the first one's deadline
    owner = as_(site, "alex")
    overdue = (await http.get("/api/v1/requests?overdue=true", headers=owner)).json()
    assert [r["id"] for r in overdue["requests"]] == [first["id"]]
    warrants = (await http.get("/api/v1/requests?basis=search_warrant", headers=owner)).json()
    assert [r["id"] for r in warrants["requests"]] == [first["id"]]
    none = (await http.get("/api/v1/requests?state=declined", headers=owner)).json()
    assert none["requests"] == []
    r = await http.get("/api/v1/requests?state=deleted", headers=owner)
    assert r.status_code == 422


async def test_update_records_each_change(site: Site, http: httpx.AsyncClient) -> None:
    created = await create(http, site)
    owner = as_(site, "alex")
    path = f"/api/v1/requests/{created['id']}"
    r = await http.patch(path, json={"notes": "called back", "basis": "subpoena"}, headers=owner)
    assert r.status_code == 200, r.text
    assert r.json()["basis"] == "subpoena"
    again = await http.patch(path, json={"notes": "called back"}, headers=owner)
    assert again.status_code == 200
    updates = kinds(site, "request.update")
    assert len(updates) == 1  # no change, no entry
    assert updates[0][1]["changes"] == {
        "basis": ["voluntary", "subpoena"],
        "notes": ["", "called back"],
    }
    history = (await http.get(path, headers=owner)).json()["history"]
    assert [h["kind"] for h in history] == ["create", "update"]
    for bad, status in (
        ({"basis": None}, 400),
        ({"received_at": None}, 400),
        ({"window_end": "2025-12-31T19:00:00Z"}, 400),
        ({"organisation": ""}, 422),
        ({"state": "fulfilled"}, 422),  # states move only through /state
    ):
        r = await http.patch(path, json=bad, headers=owner)
        assert r.status_code == status, (bad, r.text)
    assert len(kinds(site, "request.update")) == 1


async def test_state_machine(site: Site, http: httpx.AsyncClient) -> None:
    created = await create(http, site)
    owner = as_(site, "alex")
    state = f"/api/v1/requests/{created['id']}/state"
    r = await http.post(state, json={"to": "fulfilled", "reason": "sent"}, headers=owner)
    assert r.status_code == 409
    assert "cannot become fulfilled" in r.json()["error"]
    r = await http.post(state, json={"to": "under_review", "reason": "reading it"}, headers=owner)
    assert r.json()["state"] == "under_review"
    r = await http.post(state, json={"to": "fulfilled", "reason": ""}, headers=owner)
    assert r.status_code == 422  # a reason is required
    r = await http.post(
        state, json={"to": "partially_fulfilled", "reason": "one clip"}, headers=owner
    )
    assert r.json()["state"] == "partially_fulfilled"
    assert r.json()["allowed"] == []
    r = await http.post(state, json={"to": "received", "reason": "reopen"}, headers=owner)
    assert r.status_code == 409  # final
    moves = [(p["from"], p["to"]) for _, p in kinds(site, "request.state")]
    assert moves == [("received", "under_review"), ("under_review", "partially_fulfilled")]


def test_transitions_table_is_closed() -> None:
    """Every state has an entry; outcomes are final; only open states lead anywhere."""
    assert set(TRANSITIONS) == set(State)
    for source, targets in TRANSITIONS.items():
        assert source not in targets
        if source not in (State.RECEIVED, State.UNDER_REVIEW):
            assert targets == frozenset()
    assert State.DECLINED in TRANSITIONS[State.RECEIVED]  # one click, straight away


async def test_decline_is_one_call(site: Site, http: httpx.AsyncClient) -> None:
    created = await create(http, site)
    r = await http.post(
        f"/api/v1/requests/{created['id']}/decline", json={}, headers=as_(site, "alex")
    )
    assert r.status_code == 200
    assert r.json()["state"] == "declined"
    [(_, payload)] = kinds(site, "request.state")
    assert payload == {
        "request": created["id"],
        "from": "received",
        "to": "declined",
        "reason": "declined by the owner",
    }


async def test_bad_input_is_refused_with_reasons(site: Site, http: httpx.AsyncClient) -> None:
    owner = as_(site, "alex")
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"basis": "gut_feeling"}, 422, "basis"),
        ({"organisation": ""}, 422, "organisation"),
        ({"received_at": "2026-01-01T09:00:00"}, 422, "received_at"),  # no zone
        ({"window_end": "2025-12-31T19:00:00Z"}, 400, "must end after it starts"),
        ({"window_end": None}, 400, "both a start and an end"),
        ({"deadline": "2025-01-01T00:00:00Z"}, 400, "deadline is before"),
        ({"colour": "red"}, 422, "colour"),
    ]
    for change, status, reason in cases:
        r = await http.post("/api/v1/requests", json={**NEW, **change}, headers=owner)
        assert r.status_code == status, (change, r.text)
        assert reason in json.dumps(r.json()), r.text
    r = await http.get("/api/v1/requests/99", headers=owner)
    assert r.status_code == 404
    assert kinds(site, "request.") == []


async def test_only_the_owner_and_only_with_csrf(site: Site, http: httpx.AsyncClient) -> None:
    for name in ("sam", "ines"):
        r = await http.post("/api/v1/requests", json=NEW, headers=as_(site, name))
        assert r.status_code == 403
        assert (await http.get("/api/v1/requests", headers=as_(site, name))).status_code == 403
        assert (await http.get("/api/v1/report", headers=as_(site, name))).status_code == 403
    owner = {k: v for k, v in as_(site, "alex").items() if k.lower() != "x-csrf-token"}
    r = await http.post("/api/v1/requests", json=NEW, headers=owner)
    assert r.status_code == 403
    assert kinds(site, "request.") == []


async def test_nothing_is_deletable(site: Site, http: httpx.AsyncClient) -> None:
    created = await create(http, site)
    owner = as_(site, "alex")
    r = await http.delete(f"/api/v1/requests/{created['id']}", headers=owner)
    assert r.status_code == 405
    with site.box.sessions() as session:
        row = session.get(DataRequest, created["id"])
        session.delete(row)
        with pytest.raises(NothingDeleted):
            session.flush()
        session.rollback()
        change = session.scalars(select(RequestChange)).first()
        session.delete(change)
        with pytest.raises(NothingDeleted):
            session.flush()
    # A bulk DELETE bypasses the ORM's per-object hooks: the database's trigger refuses it.
    for model in (RequestChange, DataRequest):
        with pytest.raises(DatabaseError, match="never deleted"), site.box.sessions.begin() as s:
            s.execute(delete(model))
    assert (await http.get(f"/api/v1/requests/{created['id']}", headers=owner)).status_code == 200


async def test_paperwork_is_sealed_and_opens_for_the_owner(
    site: Site, http: httpx.AsyncClient
) -> None:
    created = await create(http, site)
    owner = as_(site, "alex")
    base = f"/api/v1/requests/{created['id']}/paperwork"
    r = await http.post(
        f"{base}?name=letter.pdf",
        content=PDF,
        headers={**owner, "Content-Type": "application/pdf"},
    )
    assert r.status_code == 201, r.text
    paper = r.json()
    assert (paper["name"], paper["content_type"], paper["length"]) == (
        "letter.pdf",
        "application/pdf",
        len(PDF),
    )
    data_dir = site.box.cfg.storage.data_dir
    for path in data_dir.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert b"secret-marker" not in content, path
            assert b"letter.pdf" not in content, path
    listed = (await http.get(base, headers=owner)).json()["paperwork"]
    assert [p["name"] for p in listed] == ["letter.pdf"]
    r = await http.get(f"{base}/{paper['id']}", headers=owner)
    assert r.status_code == 200
    assert r.content == PDF
    assert r.headers["content-type"] == "application/pdf"
    r = await http.post(
        f"{base}?name=Pr%C3%BCfung%20%E2%84%962.pdf",
        content=PDF,
        headers={**owner, "Content-Type": "application/pdf"},
    )
    assert r.json()["name"] == "Prüfung №2.pdf"
    r = await http.get(f"{base}/{r.json()['id']}", headers=owner)
    assert r.status_code == 200
    assert "filename*=UTF-8''Pr%C3%BCfung%20%E2%84%962.pdf" in r.headers["content-disposition"]
    logged = [k for k, _ in kinds(site, "request.paperwork")]
    assert logged == ["request.paperwork", "request.paperwork.open"] * 2


async def test_paperwork_refusals(site: Site, http: httpx.AsyncClient) -> None:
    created = await create(http, site)
    owner = as_(site, "alex")
    base = f"/api/v1/requests/{created['id']}/paperwork"
    r = await http.post(
        base, content=b"MZ\x90\x00", headers={**owner, "Content-Type": "application/x-msdownload"}
    )
    assert r.status_code == 415
    r = await http.post(
        base, content=b"not a pdf", headers={**owner, "Content-Type": "application/pdf"}
    )
    assert r.status_code == 400
    assert "first bytes" in r.json()["error"]
    big = b"%PDF-" + b"0" * (20 * 1024 * 1024)
    r = await http.post(base, content=big, headers={**owner, "Content-Type": "application/pdf"})
    assert r.status_code == 413
    r = await http.post(
        "/api/v1/requests/77/paperwork",
        content=PDF,
        headers={**owner, "Content-Type": "application/pdf"},
    )
    assert r.status_code == 404
    # Without an unlocked key not even the names are shown.
    site.unlocks.lock_all("test")
    r = await http.get(base, headers=owner)
    assert r.status_code == 401
    # Sealing needs no key: an upload while locked is stored (and its answer is what was sent).
    r = await http.post(
        f"{base}?name=../../etc/scan.png",
        content=b"\x89PNG\r\n\x1a\n rest",
        headers={**owner, "Content-Type": "image/png"},
    )
    assert r.status_code == 201
    assert r.json()["name"] == "scan.png"
    assert (await http.get(f"{base}/{r.json()['id']}", headers=owner)).status_code == 401


async def test_holds_linked_to_a_request(site: Site, http: httpx.AsyncClient) -> None:
    created = await create(http, site)
    owner = as_(site, "alex")
    body = {
        "camera": "porch",
        "start": NEW["window_start"],
        "end": NEW["window_end"],
        "reason": "CASE-2026-0042",
        "request": created["id"],
    }
    r = await http.post("/api/v1/holds", json=body, headers=owner)
    assert r.status_code == 201, r.text
    hold = r.json()
    assert (hold["camera"], hold["request"], hold["released_at"]) == ("porch", created["id"], None)
    r = await http.post("/api/v1/holds", json={**body, "camera": "attic"}, headers=owner)
    assert r.status_code == 400
    r = await http.post("/api/v1/holds", json={**body, "request": 99}, headers=owner)
    assert r.status_code == 400
    r = await http.post("/api/v1/holds", json={**body, "end": NEW["window_start"]}, headers=owner)
    assert r.status_code == 400
    r = await http.post(f"/api/v1/holds/{hold['id']}/release", headers=owner)
    assert r.status_code == 200
    assert r.json()["released_at"] is not None
    r = await http.post(f"/api/v1/holds/{hold['id']}/release", headers=owner)
    assert r.status_code == 409
    r = await http.post("/api/v1/holds/99/release", headers=owner)
    assert r.status_code == 404
    holds = (await http.get("/api/v1/holds", headers=owner)).json()["holds"]
    assert len(holds) == 1
    placed = kinds(site, "hold.")
    assert [k for k, _ in placed] == ["hold.place", "hold.release"]
    assert placed[0][1]["request"] == created["id"]
    with site.box.sessions() as session:
        assert session.scalar(select(Hold.request_id)) == created["id"]
    assert (await http.get("/api/v1/holds", headers=as_(site, "sam"))).status_code == 403


async def test_deadline_banner_on_owner_pages(site: Site, http: httpx.AsyncClient) -> None:
    await create(
        http, site, deadline=(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=30)).isoformat()
    )
    page = await http.get("/requests", headers=as_(site, "alex"))
    assert page.status_code == 200
    assert "Request deadlines" in page.text
    assert "Metro Police" in page.text
    site.clock.advance(10 * 86400)
    assert "overdue since" in (await http.get("/report", headers=as_(site, "alex"))).text
