"""The transparency report from a seeded audit log: requests by basis, organisation and
outcome, response times, releases (``share.release``, ``share.link.download`` written as
the consent/export code will write them), the period, CSV/JSON shape, and what the report
says about the log it was computed over."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from nvr.audit.entry import Actor
from nvr.db.models import AuditEntry
from nvr.sharing.report import LINK_DOWNLOAD, RELEASE, report_from_log
from nvr.sharing.requests import LegalBasis, RequestLog, State
from tests.support.accounts import Site, open_site
from tests.support.settings import as_
from tests.support.sharing import sharing_client

OWNER = Actor("owner", "alex")
DAY = 86400


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    built = open_site(tmp_path)
    yield built
    built.box.close()


def release(site: Site, request: int | None, seconds: int, *, audio: bool, redacted: bool) -> None:
    site.box.record(
        RELEASE,
        {
            "request": request,
            "consent": f"consent-{request}-{seconds}",
            "camera": "porch",
            "start": "2025-12-31T20:00:00+00:00",
            "end": "2025-12-31T20:01:00+00:00",
            "seconds": seconds,
            "audio": audio,
            "redacted": redacted,
            "recipient": "Metro Police",
        },
        OWNER,
    )


def seed(site: Site) -> list[int]:
    """Four requests over January 2026 and what became of them (the clock starts 1 Jan)."""
    log = RequestLog(site.box.sessions, site.box.record, site.clock)

    def new(org: str, basis: LegalBasis, received: datetime) -> int:
        fields: dict[str, Any] = {"organisation": org, "basis": basis, "received_at": received}
        return log.create(fields, OWNER).id

    a = new("Metro Police", LegalBasis.VOLUNTARY, datetime(2026, 1, 1, tzinfo=UTC))
    b = new("Metro Police", LegalBasis.SEARCH_WARRANT, datetime(2026, 1, 1, tzinfo=UTC))
    c = new("Insurer Ltd", LegalBasis.VOLUNTARY, datetime(2026, 1, 1, tzinfo=UTC))
    new("=cmd|' /C calc'!A0", LegalBasis.PRESERVATION, datetime(2025, 6, 1, tzinfo=UTC))
    site.clock.advance(2 * 3600)
    log.transition(a, State.DECLINED, "no", OWNER)  # 2 h
    log.transition(b, State.UNDER_REVIEW, "reading", OWNER)
    site.clock.advance(DAY - 2 * 3600)
    log.transition(b, State.FULFILLED, "produced", OWNER)  # 1 day
    release(site, b, 60, audio=False, redacted=True)
    release(site, b, 30, audio=True, redacted=False)
    site.box.record(LINK_DOWNLOAD, {"link": "l1", "consent": "c", "request": b}, OWNER)
    site.box.record(LINK_DOWNLOAD, {"link": "l1", "consent": "c", "request": b}, OWNER)
    release(site, None, 15, audio=False, redacted=True)  # a personal share
    log.update(c, {"organisation": "Insurer plc"}, OWNER)
    site.clock.advance(40 * DAY)  # February
    d = new("County Sheriff", LegalBasis.EMERGENCY_CLAIM, site.clock.wall())
    log.transition(d, State.WITHDRAWN, "not needed", OWNER)
    release(site, d, 999, audio=True, redacted=True)  # in February: outside January
    return [a, b, c, d]


def test_report_numbers_from_the_log(site: Site) -> None:
    a, b, c, _ = seed(site)[:4]
    report = report_from_log(
        site.box.sessions,
        site.box.audit,
        start=datetime(2026, 1, 1, tzinfo=UTC),
        end=datetime(2026, 2, 1, tzinfo=UTC),
    )
    assert report.requests == 3
    assert report.by_basis == {"search_warrant": 1, "voluntary": 2}
    assert report.by_organisation == {"Insurer plc": 1, "Metro Police": 2}
    assert report.by_outcome == {"declined": 1, "fulfilled": 1, "received": 1}
    assert report.declines == 1
    assert report.decided == 2
    assert report.response_max_seconds == DAY
    assert report.response_median_seconds == (2 * 3600 + DAY) // 2
    assert (report.clips_released, report.seconds_released) == (3, 105)
    assert (report.clips_with_audio, report.clips_redacted) == (1, 2)
    assert report.clips_without_request == 1
    assert report.link_downloads == 2
    lines = {line.id: line for line in report.lines}
    assert set(lines) == {a, b, c}
    assert (lines[b].clips, lines[b].seconds, lines[b].response_seconds) == (2, 90, DAY)
    assert lines[a].response_seconds == 2 * 3600
    assert lines[c].decided_at is None
    assert report.audit is not None
    assert report.audit.verified is True
    assert report.audit.tree_size == site.box.audit.verify().entries

    everything = report_from_log(site.box.sessions, None)
    assert everything.requests == 5
    assert everything.by_outcome["withdrawn"] == 1
    assert everything.seconds_released == 105 + 999
    assert everything.audit is not None
    assert everything.audit.verified is None


def test_a_tampered_log_is_reported(site: Site) -> None:
    seed(site)
    site.box.audit.checkpoint()
    with site.box.sessions.begin() as session:
        session.execute(
            update(AuditEntry)
            .where(AuditEntry.kind == RELEASE)
            .values(entry_json=AuditEntry.entry_json + " ")
        )
    report = report_from_log(site.box.sessions, site.box.audit)
    assert report.audit is not None
    assert report.audit.verified is False
    assert report.audit.checkpoint_size is not None


@pytest.fixture
async def http(site: Site) -> AsyncIterator[httpx.AsyncClient]:
    async with sharing_client(site) as client:
        yield client


async def test_report_api_json_csv_and_pages(site: Site, http: httpx.AsyncClient) -> None:
    seed(site)
    owner = as_(site, "alex")
    query = "start=2026-01-01T00:00:00Z&end=2026-02-01T00:00:00Z"
    body = (await http.get(f"/api/v1/report?{query}", headers=owner)).json()
    assert body["requests"] == 3
    assert body["by_outcome"] == {"declined": 1, "fulfilled": 1, "received": 1}
    assert body["audit"]["verified"] is True
    assert set(body["lines"][0]) == {
        "id",
        "organisation",
        "basis",
        "received_at",
        "state",
        "decided_at",
        "response_seconds",
        "clips",
        "seconds",
    }
    r = await http.get(f"/api/v1/report?format=csv&{query}", headers=owner)
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["section", "name", "value"]
    table = {(s, n): v for s, n, v in rows[1:]}
    assert table[("totals", "declines")] == "1"
    assert table[("totals", "seconds_released")] == "105"
    assert table[("organisation", "Metro Police")] == "2"
    assert table[("audit", "verified")] == "True"
    everything = (await http.get("/api/v1/report?format=csv", headers=owner)).text
    assert "'=cmd" in everything
    assert "\n=cmd" not in everything
    assert ",=cmd" not in everything
    r = await http.get(
        "/api/v1/report?start=2026-02-01T00:00:00Z&end=2026-01-01T00:00:00Z", headers=owner
    )
    assert r.status_code == 400
    r = await http.get("/api/v1/report?format=xml", headers=owner)
    assert r.status_code == 422

    page = await http.get("/report?start=2026-01-01&end=2026-01-31", headers=owner)
    assert page.status_code == 200
    assert "Insurer plc" in page.text
    assert "County Sheriff" not in page.text
    assert "verified" in page.text
    printable = await http.get("/report/print?start=2026-01-01&end=2026-01-31", headers=owner)
    assert printable.status_code == 200
    assert "Metro Police" in printable.text
    assert (await http.get("/report?start=January", headers=owner)).status_code == 400
