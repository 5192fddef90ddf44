"""A camera's day over HTTP against a real box: segments written through the box's own
``SegmentStore`` (encrypted files and index rows), outages through the recorder's
``GapLog``, sealed events through its ``EventStore``; spans merged and clipped to the day,
gaps with their reason, events opened only with the unlock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from nvr.auth.policy import Role
from nvr.record.gaps import GapLog, Outage
from nvr.storage.segments import SegmentStore
from nvr.web.timeline import merge_spans
from tests.support.accounts import BASE, LAN, open_site
from tests.support.events import EventsKit

DAY = datetime(2026, 3, 4, tzinfo=UTC)
URL = "/api/v1/cameras/porch/timeline"


def at(hours: float) -> datetime:
    return DAY + timedelta(hours=hours)


def iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def write(store: SegmentStore, camera: str, start: datetime, seconds: float) -> None:
    segment = store.open_segment(camera, start)
    segment.write(b"\x00" * 1024)
    segment.close(start + timedelta(seconds=seconds))


@dataclass
class Env:
    kit: EventsKit
    http: httpx.AsyncClient
    events: dict[str, int]


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[EventsKit]:
    site = open_site(tmp_path)
    yield EventsKit(site)
    site.box.close()


def seed(kit: EventsKit) -> dict[str, int]:
    store = kit.site.box.segment_store()
    # Porch: three touching 10-minute segments from 08:00, a hole, one at 09:00; one
    # that starts before midnight and runs into the day; one in the next day.
    for i in range(3):
        write(store, "porch", at(8) + timedelta(minutes=10 * i), 600)
    write(store, "porch", at(9), 300)
    write(store, "porch", at(-0.25), 1800)
    write(store, "porch", at(25), 60)
    write(store, "garage", at(8), 600)
    log = GapLog(kit.site.box.sessions, kit.site.clock)
    log(Outage("porch", at(8.5), at(9), "no_packets"))
    log(Outage("porch", at(-2), at(-1), "reconnect"))  # the day before
    log(Outage("porch", at(23.5), None, "error"))  # still lasting
    return {
        "bell": kit.add("porch", "doorbell", at(8.25)),
        "motion": kit.add("porch", "motion", at(9.05), at(9.06)),
        "garage": kit.add("garage", "motion", at(8.1), at(8.2)),
        "next-day": kit.add("porch", "doorbell", at(24.5)),
    }


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EventsKit, dict[str, int]]]:
    """One box for every test that changes nothing but sessions and the audit log."""
    site = open_site(tmp_path_factory.mktemp("timeline"))
    kit = EventsKit(site)
    yield kit, seed(kit)
    site.box.close()


@pytest.fixture
async def env(seeded: tuple[EventsKit, dict[str, int]]) -> AsyncIterator[Env]:
    kit, events = seeded
    transport = httpx.ASGITransport(app=kit.app(), client=LAN)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        yield Env(kit, http, events)


async def test_spans_gaps_and_events_of_the_day(env: Env) -> None:
    r = await env.http.get(
        URL, params={"day": "2026-03-04"}, headers=env.kit.login(Role.OWNER).headers
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["camera"], body["day"], body["tz"]) == ("porch", "2026-03-04", "UTC")
    assert (body["start"], body["end"]) == (iso(at(0)), iso(at(24)))
    assert body["spans"] == [
        {"start": iso(at(0)), "end": iso(at(0.25))},  # clipped at midnight
        {"start": iso(at(8)), "end": iso(at(8.5))},  # three segments, one span
        {"start": iso(at(9)), "end": iso(at(9) + timedelta(minutes=5))},
    ]
    assert body["gaps"] == [
        {"start": iso(at(8.5)), "end": iso(at(9)), "reason": "no_packets"},
        {"start": iso(at(23.5)), "end": None, "reason": "error"},
    ]
    assert body["events_sealed"] is False
    assert body["events"] == [
        {
            "id": env.events["bell"],
            "hour": iso(at(8)),
            "at": iso(at(8.25)),
            "end": None,
            "kind": "doorbell",
        },
        {
            "id": env.events["motion"],
            "hour": iso(at(9)),
            "at": iso(at(9.05)),
            "end": iso(at(9.06)),
            "kind": "motion",
        },
    ]
    # Opening the events was a view.
    assert env.kit.audit("events.view")[-1] == (
        {
            "camera": "porch",
            "day": "2026-03-04",
            "tz": "UTC",
            "events": [env.events["bell"], env.events["motion"]],
            "via": "timeline",
        },
        "alex",
    )


async def test_the_day_follows_the_time_zone(env: Env) -> None:
    h = env.kit.login(Role.OWNER).headers
    # New York is UTC-5 on March 4th: its day is 05:00 to 05:00 UTC.
    r = await env.http.get(URL, params={"day": "2026-03-04", "tz": "America/New_York"}, headers=h)
    body = r.json()
    assert (body["start"], body["end"]) == (iso(at(5)), iso(at(29)))
    assert [e["id"] for e in body["events"]] == [
        env.events["bell"],
        env.events["motion"],
        env.events["next-day"],
    ]
    assert body["spans"][-1] == {"start": iso(at(25)), "end": iso(at(25) + timedelta(minutes=1))}
    # The day the clocks go forward lasts 23 hours.
    r = await env.http.get(URL, params={"day": "2026-03-08", "tz": "America/New_York"}, headers=h)
    body = r.json()
    length = datetime.fromisoformat(body["end"]) - datetime.fromisoformat(body["start"])
    assert length == timedelta(hours=23)


async def test_no_unlock_needed_but_events_stay_sealed_without_it(env: Env) -> None:
    owner = env.kit.login(Role.OWNER)
    assert owner.unlock_token is not None
    env.kit.site.unlocks.lock(owner.unlock_token, "lock")
    before = len(env.kit.site.audit())
    r = await env.http.get(URL, params={"day": "2026-03-04"}, headers=owner.headers)
    assert r.status_code == 200
    body = r.json()
    assert len(body["spans"]) == 3
    assert body["events_sealed"] is True
    assert body["events"] == [
        {"id": env.events["bell"], "hour": iso(at(8)), "at": None, "end": None, "kind": None},
        {"id": env.events["motion"], "hour": iso(at(9)), "at": None, "end": None, "kind": None},
    ]
    assert len(env.kit.site.audit()) == before  # nothing was opened


async def test_a_viewer_sees_their_camera_and_is_refused_another(env: Env) -> None:
    viewer = env.kit.login(Role.VIEWER).headers  # porch only, no key
    r = await env.http.get(URL, params={"day": "2026-03-04"}, headers=viewer)
    assert r.status_code == 200
    assert r.json()["events_sealed"] is True
    assert len(r.json()["spans"]) == 3
    r = await env.http.get(
        "/api/v1/cameras/garage/timeline", params={"day": "2026-03-04"}, headers=viewer
    )
    assert (r.status_code, r.json()["error"]) == (
        403,
        "the owner has not allowed this account camera 'garage'",
    )


@pytest.mark.parametrize(
    ("params", "status", "reason"),
    [
        ({"day": "2026-02-30"}, 422, "day: not a calendar date (YYYY-MM-DD): '2026-02-30'"),
        ({"day": "20260304"}, 422, "query.day: String should match pattern"),
        ({"day": "2026-03-04", "tz": "Nowhere/Special"}, 400, "tz: not a known time zone"),
    ],
)
async def test_a_bad_day_or_zone_is_refused_with_the_reason(
    env: Env, params: dict[str, str], status: int, reason: str
) -> None:
    r = await env.http.get(URL, params=params, headers=env.kit.login(Role.OWNER).headers)
    assert r.status_code == status
    said = [r.json()["error"], *(r.json().get("reasons") or [])]
    assert any(text.startswith(reason) for text in said), said


async def test_a_missing_day_or_unknown_camera(env: Env) -> None:
    h = env.kit.login(Role.OWNER).headers
    r = await env.http.get(URL, headers=h)
    assert r.status_code == 422
    assert r.json()["reasons"] == ["query.day: Field required"]
    r = await env.http.get(
        "/api/v1/cameras/attic/timeline", params={"day": "2026-03-04"}, headers=h
    )
    assert (r.status_code, r.json()["error"]) == (404, "no camera named 'attic'")


def test_spans_merge_only_touching_segments(kit: EventsKit) -> None:
    store = kit.site.box.segment_store()
    write(store, "porch", at(1), 10)
    write(store, "porch", at(1) + timedelta(seconds=10.5), 10)  # within a second: joined
    write(store, "porch", at(1) + timedelta(seconds=25), 10)  # 4.5 s later: a hole
    spans = merge_spans(store.find("porch", at(0), at(24)), at(0), at(24))
    assert [(s.start, s.end) for s in spans] == [
        (at(1), at(1) + timedelta(seconds=20.5)),
        (at(1) + timedelta(seconds=25), at(1) + timedelta(seconds=35)),
    ]


async def test_the_timeline_page(env: Env) -> None:
    r = await env.http.get("/timeline", headers=env.kit.login(Role.VIEWER).headers)
    assert r.status_code == 200
    assert 'value="porch"' in r.text
    assert 'value="garage"' not in r.text
    assert 'src="/static/timeline.js"' in r.text
    assert 'controlslist="nodownload"' in r.text
