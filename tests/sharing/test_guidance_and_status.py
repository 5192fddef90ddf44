"""Guidance for every legal basis, and overdue requests as ``nvr status`` problems."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from nvr.audit.entry import Actor
from nvr.service.inspect import inspect_box
from nvr.sharing.guidance import DISCLAIMER, GUIDANCE
from nvr.sharing.requests import LegalBasis, RequestLog, State
from tests.support.accounts import open_site

OWNER = Actor("owner", "alex")


def test_every_basis_has_guidance_and_the_disclaimer_says_not_legal_advice() -> None:
    assert set(GUIDANCE) == set(LegalBasis)
    assert "not legal advice" in DISCLAIMER
    for basis in (LegalBasis.VOLUNTARY, LegalBasis.EMERGENCY_CLAIM):
        assert GUIDANCE[basis].compels is False
        assert any("ecline" in line for line in GUIDANCE[basis].you_may), basis
    assert GUIDANCE[LegalBasis.SEARCH_WARRANT].compels is True


def test_deadlines_are_status_problems(tmp_path: Path) -> None:
    site = open_site(tmp_path)
    try:
        log = RequestLog(site.box.sessions, site.box.record, site.clock)
        now = site.clock.wall()  # 2026: the status check reads the real clock, later
        soon = log.create(
            {
                "organisation": "Metro Police",
                "basis": "voluntary",
                "deadline": now + timedelta(days=1),
            },
            OWNER,
        )
        answered = log.create(
            {"organisation": "Sheriff", "basis": "subpoena", "deadline": now + timedelta(days=1)},
            OWNER,
        )
        log.transition(answered.id, State.DECLINED, "no", OWNER)
        log.create({"organisation": "Far away", "basis": "subpoena"}, OWNER)  # no deadline
    finally:
        site.box.close()
    problems = inspect_box(site.box.cfg).problems
    mine = [p for p in problems if p.startswith("request ")]
    assert mine == [
        f"request {soon.id} from Metro Police was due "
        f"{soon.deadline:%Y-%m-%d %H:%M UTC}: answer it on the dashboard (/requests/{soon.id})"
    ]
