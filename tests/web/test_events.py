"""The event API over HTTP against a real box: sealed events written by the box's own
``EventStore`` (real JPEG thumbnails), listed, filtered, paged, opened and their
thumbnails decrypted; the unlock, the camera check on event-id routes and the audit."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from nvr.audit.entry import Actor
from nvr.auth.policy import Role
from nvr.auth.sessions import Principal
from nvr.web.events import NOT_YOURS, Query_, list_events
from tests.support.accounts import BASE, LAN, PASSPHRASE, PASSWORDS, open_site
from tests.support.events import EventsKit, Login, jpeg

SAM = Actor(role="viewer", user="sam")

T0 = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


@dataclass
class Env:
    kit: EventsKit
    http: httpx.AsyncClient
    ids: dict[str, int]  # name -> event id


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[EventsKit]:
    site = open_site(tmp_path)
    yield EventsKit(site)
    site.box.close()


def seed(kit: EventsKit) -> dict[str, int]:
    m = timedelta(minutes=1)
    return {
        # Oldest first; the day before, two hours on T0's day, and an event late in the
        # UTC day that is the next day in Berlin.
        "yesterday": kit.add("porch", "doorbell", T0 - timedelta(days=1), source="onvif"),
        "porch-motion": kit.add(
            "porch", "motion", T0 + 5 * m, T0 + 6 * m, jpeg(1), peak_score=0.4, zones=["path"]
        ),
        "garage-motion": kit.add("garage", "motion", T0 + 10 * m, T0 + 11 * m, jpeg(2)),
        "porch-bell": kit.add("porch", "doorbell", T0 + 70 * m, source="webhook"),
        "porch-camera": kit.add("porch", "camera_motion", T0 + 80 * m),
        "late": kit.add("porch", "motion", T0 + timedelta(hours=13, minutes=30), None, jpeg(3)),
    }


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EventsKit, dict[str, int]]]:
    """One box for the tests that change nothing but sessions and the audit log."""
    site = open_site(tmp_path_factory.mktemp("events"))
    kit = EventsKit(site)
    yield kit, seed(kit)
    site.box.close()


@asynccontextmanager
async def client(kit: EventsKit, ids: dict[str, int]) -> AsyncIterator[Env]:
    transport = httpx.ASGITransport(app=kit.app(), client=LAN)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        yield Env(kit, http, ids)


@pytest.fixture
async def env(seeded: tuple[EventsKit, dict[str, int]]) -> AsyncIterator[Env]:
    async with client(*seeded) as made:
        yield made


@pytest.fixture
async def own_env(kit: EventsKit) -> AsyncIterator[Env]:
    """A box of its own (for a test that tampers with files)."""
    async with client(kit, seed(kit)) as made:
        yield made


async def listed(env: Env, headers: dict[str, str], **params: str | int) -> list[int]:
    r = await env.http.get("/api/v1/events", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return [e["id"] for e in r.json()["events"]]


async def test_the_owner_lists_events_newest_first_with_sealed_details(env: Env) -> None:
    owner = env.kit.login(Role.OWNER)
    r = await env.http.get("/api/v1/events", headers=owner.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    ids = env.ids
    order = ["late", "porch-camera", "porch-bell", "garage-motion", "porch-motion", "yesterday"]
    assert [e["id"] for e in body["events"]] == [ids[n] for n in order]
    assert body["next_before"] is None
    motion = next(e for e in body["events"] if e["id"] == ids["porch-motion"])
    assert motion == {
        "id": ids["porch-motion"],
        "camera": "porch",
        "hour": "2026-03-04T10:00:00Z",
        "kind": "motion",
        "start": "2026-03-04T10:05:00Z",
        "end": "2026-03-04T10:06:00Z",
        "has_thumbnail": True,
        "error": None,
    }
    bell = next(e for e in body["events"] if e["id"] == ids["porch-bell"])
    assert (bell["kind"], bell["end"], bell["has_thumbnail"]) == ("doorbell", None, False)


async def test_filters_by_camera_kind_and_day(env: Env) -> None:
    h = env.kit.login(Role.OWNER).headers
    ids = env.ids
    assert await listed(env, h, camera="garage") == [ids["garage-motion"]]
    assert await listed(env, h, kind="doorbell") == [ids["porch-bell"], ids["yesterday"]]
    assert await listed(env, h, camera="porch", kind="motion") == [ids["late"], ids["porch-motion"]]
    day = await listed(env, h, day="2026-03-04")
    assert day == [ids[n] for n in ("late", "porch-camera", "porch-bell", "garage-motion")] + [
        ids["porch-motion"]
    ]
    assert await listed(env, h, day="2026-03-03") == [ids["yesterday"]]
    assert await listed(env, h, day="2026-03-06") == []
    # 23:30 UTC on the 4th is 00:30 on the 5th in Berlin (UTC+1 in March).
    assert await listed(env, h, day="2026-03-05", tz="Europe/Berlin") == [ids["late"]]
    berlin_4th = await listed(env, h, day="2026-03-04", tz="Europe/Berlin")
    assert ids["late"] not in berlin_4th
    assert ids["porch-motion"] in berlin_4th
    r = await env.http.get("/api/v1/events", params={"day": "2026-03-04"}, headers=h)
    assert (r.json()["day_start"], r.json()["day_end"]) == (
        "2026-03-04T00:00:00Z",
        "2026-03-05T00:00:00Z",
    )


async def test_pages_cover_every_event_once(env: Env) -> None:
    h = env.kit.login(Role.OWNER).headers
    seen: list[int] = []
    before: int | None = None
    pages = 0
    while True:
        params: dict[str, int] = {"limit": 2} | ({"before": before} if before else {})
        r = await env.http.get("/api/v1/events", params=params, headers=h)
        body = r.json()
        assert len(body["events"]) <= 2
        seen += [e["id"] for e in body["events"]]
        pages += 1
        before = body["next_before"]
        if before is None:
            break
    assert sorted(seen) == sorted(env.ids.values())
    assert len(seen) == len(set(seen))
    assert pages >= 3
    # A page of a filtered list continues after the cursor within the filter.
    r = await env.http.get("/api/v1/events", params={"kind": "motion", "limit": 1}, headers=h)
    first = r.json()
    assert [e["id"] for e in first["events"]] == [env.ids["late"]]
    rest = await listed(env, h, kind="motion", before=first["next_before"])
    assert rest == [env.ids["garage-motion"], env.ids["porch-motion"]]


@pytest.mark.parametrize(
    ("params", "status", "reason"),
    [
        # Not a date: the schema says so (422); what it cannot say is 400.
        ({"day": "2026-13-01"}, 422, "day: not a calendar date (YYYY-MM-DD): '2026-13-01'"),
        ({"day": "4 March"}, 422, "query.day: String should match pattern"),
        ({"day": "9999-12-31", "tz": "Pacific/Kiritimati"}, 400, "day: out of range"),
        ({"day": "2026-03-04", "tz": "Mars/Olympus"}, 400, "tz: not a known time zone name"),
        ({"tz": "../../etc/passwd"}, 400, "tz: not a known time zone name"),
        ({"before": "999999"}, 400, "before: no event with id 999999"),
    ],
)
async def test_bad_input_is_refused_with_the_reason(
    env: Env, params: dict[str, str], status: int, reason: str
) -> None:
    h = env.kit.login(Role.OWNER).headers
    r = await env.http.get("/api/v1/events", params=params, headers=h)
    assert r.status_code == status
    said = [r.json()["error"], *(r.json().get("reasons") or [])]
    assert any(text.startswith(reason) for text in said), said


async def test_a_bad_kind_or_limit_is_a_validation_error(env: Env) -> None:
    h = env.kit.login(Role.OWNER).headers
    for params in ({"kind": "cat"}, {"limit": "0"}, {"limit": "201"}):
        r = await env.http.get("/api/v1/events", params=params, headers=h)
        assert r.status_code == 422
        assert r.json()["reasons"]


async def test_one_event_opened_and_its_thumbnail_decrypted(env: Env) -> None:
    h = env.kit.login(Role.OWNER).headers
    event_id = env.ids["porch-motion"]
    r = await env.http.get(f"/api/v1/events/{event_id}", headers=h)
    assert r.status_code == 200, r.text
    info = r.json()
    assert (info["kind"], info["peak_score"], info["zones"]) == ("motion", 0.4, ["path"])
    assert info["details"]["type"] == "motion"
    pic = await env.http.get(f"/api/v1/events/{event_id}/thumbnail.jpg", headers=h)
    assert pic.status_code == 200
    assert pic.headers["content-type"] == "image/jpeg"
    assert pic.headers["cache-control"] == "no-store"
    assert pic.content == jpeg(1)
    none = await env.http.get(f"/api/v1/events/{env.ids['porch-bell']}/thumbnail.jpg", headers=h)
    assert none.status_code == 404
    assert none.json()["error"] == f"event {env.ids['porch-bell']} has no thumbnail"
    missing = await env.http.get("/api/v1/events/999999", headers=h)
    assert (missing.status_code, missing.json()["error"]) == (404, "no event with id 999999")


async def test_locked_footage_is_401_and_the_index_alone_says_nothing(env: Env) -> None:
    owner = env.kit.login(Role.OWNER)
    assert owner.unlock_token is not None
    env.kit.site.unlocks.lock(owner.unlock_token, "lock")
    event_id = env.ids["porch-motion"]
    for path in (
        "/api/v1/events",
        f"/api/v1/events/{event_id}",
        f"/api/v1/events/{event_id}/thumbnail.jpg",
    ):
        r = await env.http.get(path, headers=owner.headers)
        assert r.status_code == 401, path
        assert "locked" in r.json()["error"]


async def test_a_viewer_is_refused_other_cameras_before_anything_opens(env: Env) -> None:
    viewer = env.kit.login(Role.VIEWER).headers  # allowed camera porch, holds no key
    garage = env.ids["garage-motion"]
    for path in (f"/api/v1/events/{garage}", f"/api/v1/events/{garage}/thumbnail.jpg"):
        r = await env.http.get(path, headers=viewer)
        assert (r.status_code, r.json()["error"]) == (
            403,
            "the owner has not allowed this account camera 'garage'",
        )
    r = await env.http.get("/api/v1/events", params={"camera": "garage"}, headers=viewer)
    assert (r.status_code, r.json()["error"]) == (
        403,
        "the owner has not allowed this account camera 'garage'",
    )
    # Its own camera passes the camera check and stops at the key.
    porch = env.ids["porch-motion"]
    r = await env.http.get(f"/api/v1/events/{porch}/thumbnail.jpg", headers=viewer)
    assert (r.status_code, r.json()["error"]) == (
        403,
        "this account has no key to open recorded footage yet",
    )
    installer = env.kit.login(Role.INSTALLER).headers  # no install window open
    r = await env.http.get(f"/api/v1/events/{porch}", headers=installer)
    assert r.status_code == 403
    assert "install window" in r.json()["error"]


def test_a_listing_narrowed_to_some_cameras_holds_only_theirs(kit: EventsKit) -> None:
    """``list_events`` keeps to the cameras it is given (the list route passes
    ``Decision.cameras``), whatever else the key opens: here the owner's key, which opens
    both cameras' records."""
    for i in range(3):
        kit.add("porch", "doorbell", T0 + timedelta(minutes=i))
        kit.add("garage", "doorbell", T0 + timedelta(minutes=i))
    identities = kit.site.box.keys.unlock(PASSPHRASE.encode()).identities
    query = Query_(frozenset({"porch"}), None, None, None, None, 10)
    items, _ = list_events(kit.store, identities, query)
    assert [i.camera for i in items] == ["porch"] * 3


async def test_views_are_audited_once_per_event_not_per_thumbnail(env: Env) -> None:
    owner = env.kit.login(Role.OWNER)
    h = owner.headers
    before = len(env.kit.audit("events.view"))
    r = await env.http.get("/api/v1/events", params={"camera": "porch", "limit": 3}, headers=h)
    shown = [e["id"] for e in r.json()["events"]]
    views = env.kit.audit("events.view")[before:]
    assert views == [
        ({"query": {"camera": "porch", "limit": 3}, "events": shown}, "alex"),
    ]
    # Thumbnails of listed events: no new entry.
    for event_id in shown:
        await env.http.get(f"/api/v1/events/{event_id}/thumbnail.jpg", headers=h)
    assert len(env.kit.audit("events.view")) == before + 1
    # A thumbnail by id alone (never listed in this session) is its own entry.
    garage = env.ids["garage-motion"]
    pic = await env.http.get(f"/api/v1/events/{garage}/thumbnail.jpg", headers=h)
    assert pic.status_code == 200
    assert env.kit.audit("events.view")[-1] == (
        {"camera": "garage", "events": [garage], "thumbnail": True},
        "alex",
    )
    # Another session showing the same thumbnail is audited again.
    other = env.kit.login(Role.OWNER).headers
    await env.http.get(f"/api/v1/events/{garage}/thumbnail.jpg", headers=other)
    assert len(env.kit.audit("events.view")) == before + 3
    # Opening an event is always an entry.
    await env.http.get(f"/api/v1/events/{garage}", headers=h)
    assert env.kit.audit("events.view")[-1] == ({"camera": "garage", "events": [garage]}, "alex")


async def test_a_tampered_record_is_listed_as_failed_not_hidden(own_env: Env) -> None:
    env = own_env
    h = env.kit.login(Role.OWNER).headers
    # Swap the two records' files: each decrypts but names the other's path.
    a, b = env.ids["porch-bell"], env.ids["porch-camera"]
    _, path_a = env.kit.store._row(a)
    _, path_b = env.kit.store._row(b)
    root = env.kit.store.data_dir
    data_a, data_b = (root / path_a).read_bytes(), (root / path_b).read_bytes()
    (root / path_a).write_bytes(data_b)
    (root / path_b).write_bytes(data_a)
    r = await env.http.get("/api/v1/events", headers=h)
    broken = {e["id"]: e for e in r.json()["events"] if e["error"]}
    assert set(broken) == {a, b}
    assert broken[a]["kind"] is None
    assert "failed authentication" in broken[a]["error"]
    r = await env.http.get(f"/api/v1/events/{a}", headers=h)
    assert r.status_code == 409
    # A filtered list cannot tell their kind: they are left out of it.
    assert a not in await listed(env, h, kind="doorbell")


async def test_the_events_page_lists_the_callers_cameras(env: Env) -> None:
    owner = await env.http.get("/events", headers=env.kit.login(Role.OWNER).headers)
    assert owner.status_code == 200
    assert 'value="garage"' in owner.text
    assert 'src="/static/events.js"' in owner.text
    viewer = await env.http.get("/events", headers=env.kit.login(Role.VIEWER).headers)
    assert viewer.status_code == 200
    assert 'value="porch"' in viewer.text
    assert 'value="garage"' not in viewer.text
    anonymous = await env.http.get("/events")
    assert (anonymous.status_code, anonymous.headers["location"]) == (303, "/signin")


async def test_a_viewer_with_a_household_key_sees_only_what_it_opens(kit: EventsKit) -> None:
    """Sam (viewer, camera porch) gets a household member key: events kept since then on
    porch are his to list, open and see; older ones are left out (403 by id), and another
    camera stays refused whatever the key would open."""
    site = kit.site
    porch_before = kit.add("porch", "motion", T0, T0 + timedelta(seconds=9), jpeg(4))
    site.box.keys.add_member(
        PASSPHRASE.encode(), "sam", PASSWORDS["sam"].encode(), log_n=15, now=site.clock.wall()
    )
    porch_after = kit.add(
        "porch", "motion", T0 + timedelta(minutes=1), T0 + timedelta(minutes=2), jpeg(5)
    )
    garage_after = kit.add("garage", "doorbell", T0 + timedelta(minutes=3))
    token = site.unlocks.unlock_member("sam", PASSWORDS["sam"].encode(), SAM)
    assert token is not None
    sam = Principal(site.ids["sam"], "sam", Role.VIEWER)
    headers = Login(site.accounts.sessions.login(sam, unlock_token=token), token).headers
    transport = httpx.ASGITransport(app=kit.app(), client=LAN)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        r = await http.get("/api/v1/events", headers=headers)
        assert r.status_code == 200, r.text
        assert [e["id"] for e in r.json()["events"]] == [porch_after]
        pic = await http.get(f"/api/v1/events/{porch_after}/thumbnail.jpg", headers=headers)
        assert (pic.status_code, pic.content) == (200, jpeg(5))
        old = await http.get(f"/api/v1/events/{porch_before}", headers=headers)
        assert (old.status_code, old.json()["error"]) == (403, NOT_YOURS)
        other = await http.get(f"/api/v1/events/{garage_after}", headers=headers)
        assert (other.status_code, other.json()["error"]) == (
            403,
            "the owner has not allowed this account camera 'garage'",
        )
        day = await http.get(
            "/api/v1/cameras/porch/timeline", params={"day": "2026-03-04"}, headers=headers
        )
        events = {e["id"]: e for e in day.json()["events"]}
        assert events[porch_before]["kind"] is None  # sealed to the owner alone
        assert events[porch_after]["kind"] == "motion"
    assert kit.audit("events.view")[-1] == (
        {
            "camera": "porch",
            "day": "2026-03-04",
            "tz": "UTC",
            "events": [porch_after],
            "via": "timeline",
        },
        "sam",
    )
