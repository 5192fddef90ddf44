"""Consents: signed with the owner key the passphrase opens, stored, logged, never
deleted; a tampered record or an edited row is refused by the enforcement point."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import DatabaseError

from nvr.audit.entry import Actor
from nvr.db.models import Consent
from nvr.keys.store import KeyError_
from nvr.redact import RedactionPlan
from nvr.sharing.consent import (
    AlreadyRevoked,
    ConsentError,
    Draft,
    NoSuchConsent,
    canonical,
    verify_record,
)
from nvr.sharing.release import ReleaseRefused, authorize_release
from nvr.sharing.requests import NothingDeleted
from tests.support.accounts import PASSPHRASE, Site, open_site
from tests.support.consent import clip, consents_of, draft

OWNER = Actor("owner", "alex")


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    built = open_site(tmp_path)
    yield built
    built.box.close()


def kinds(site: Site) -> list[str]:
    return [kind for kind, _, _ in site.audit()]


def test_grant_signs_with_the_owner_key_and_logs(site: Site) -> None:
    consents = consents_of(site)
    plan = RedactionPlan(masks=(((0.0, 0.0), (0.5, 0.0), (0.5, 0.5)),), text="Released")
    view = consents.grant(PASSPHRASE.encode(), draft(plan=plan), OWNER)
    body = verify_record(view.record, view.signature, site.box.keys.pinned_signing_key())
    assert body["camera"] == "porch"
    assert body["start"] == "2026-03-04T10:00:02Z"
    assert body["end"] == "2026-03-04T10:00:05Z"
    assert body["redactions"] == plan.as_record()
    assert body["request"] is None
    assert body["audio"] is False
    assert body["recipient"] == {"name": "Metro Police", "age": None}
    assert body["expires_at"] == "2026-01-08T00:00:00Z"  # the fake clock + 7 days
    assert consents.get(view.id).record == view.record
    entry = next(p for k, p, _ in site.audit() if k == "consent.grant")
    assert entry["consent"] == view.id
    assert entry["record"] == view.record
    assert entry["signature"] == view.signature
    # The signature covers every field: any change breaks it.
    forged = dict(body, end="2026-03-04T10:00:09Z")
    with pytest.raises(ValueError, match="does not verify"):
        verify_record(
            canonical(forged).decode(), view.signature, site.box.keys.pinned_signing_key()
        )


def test_wrong_passphrase_signs_nothing_and_is_logged(site: Site) -> None:
    consents = consents_of(site)
    with pytest.raises(KeyError_, match="wrong passphrase"):
        consents.grant(b"not-the-passphrase-at-all", draft(), OWNER)
    assert consents.list() == []
    assert "consent.refused" in kinds(site)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (draft(5, 2), "end after it starts"),
        (draft(0, 7 * 3600), "at most"),
        (draft(request=99), "no request 99"),
        (draft(recipient_age="age1notakey"), "age1"),
        (
            Draft(clip(1, 2), RedactionPlan(audio=True), audio=False, recipient="x"),
            "audio must match",
        ),
        (Draft(clip(1, 2), RedactionPlan(), audio=False, recipient=" "), "name the recipient"),
    ],
)
def test_bad_drafts_are_refused(site: Site, bad: Draft, message: str) -> None:
    with pytest.raises(ConsentError, match=message):
        consents_of(site).grant(PASSPHRASE.encode(), bad, OWNER)


def test_revocation_is_a_state_and_nothing_is_deleted(site: Site) -> None:
    consents = consents_of(site)
    view = consents.grant(PASSPHRASE.encode(), draft(), OWNER)
    revoked = consents.revoke(view.id, "changed my mind", OWNER)
    assert revoked.revoked_at == site.clock.wall()
    assert revoked.revoke_reason == "changed my mind"
    with pytest.raises(AlreadyRevoked):
        consents.revoke(view.id, "again", OWNER)
    with pytest.raises(NoSuchConsent):
        consents.revoke("nope", "", OWNER)
    assert [p["reason"] for k, p, _ in site.audit() if k == "consent.revoke"] == ["changed my mind"]
    with site.box.sessions() as session:
        row = session.get(Consent, view.id)
        session.delete(row)
        with pytest.raises(NothingDeleted):
            session.flush()
    with site.box.sessions.begin() as session, pytest.raises(DatabaseError, match="never deleted"):
        session.execute(delete(Consent))
    with site.box.sessions.begin() as session, pytest.raises(DatabaseError, match="never deleted"):
        session.execute(text("DELETE FROM consents"))
    assert len(consents.list()) == 1


def refusal(site: Site, consent_id: str) -> str:
    with pytest.raises(ReleaseRefused) as caught:
        authorize_release(
            consents_of(site), consent_id, clip(2, 5), "test", OWNER, site.box.record, site.clock
        )
    last = [p for k, p, _ in site.audit() if k == "release.refused"][-1]
    assert last["reason"] == caught.value.reason
    assert last["purpose"] == "test"
    return caught.value.reason


def test_a_tampered_record_or_row_is_refused(site: Site) -> None:
    consents = consents_of(site)
    view = consents.grant(PASSPHRASE.encode(), draft(), OWNER)
    ok = authorize_release(
        consents, view.id, clip(2, 5), "test", OWNER, site.box.record, site.clock
    )
    assert ok.id == view.id
    assert not ok.redacted
    body = json.loads(view.record)
    # Someone with the database widens the record: the signature no longer verifies.
    wider = canonical(dict(body, start="2026-03-04T10:00:00Z")).decode()
    with site.box.sessions.begin() as session:
        session.execute(update(Consent).where(Consent.id == view.id).values(record=wider))
    assert "does not verify" in refusal(site, view.id)
    # The signed record restored, but the row's columns edited: refused as well.
    with site.box.sessions.begin() as session:
        session.execute(
            update(Consent)
            .where(Consent.id == view.id)
            .values(record=view.record, recipient="Someone else")
        )
    assert "does not match its signed record" in refusal(site, view.id)
    # A revocation cleared by hand is not a thing: the state is read from the row, and a
    # consent signed by another key is refused.
    with site.box.sessions.begin() as session:
        session.execute(
            update(Consent)
            .where(Consent.id == view.id)
            .values(
                recipient="Metro Police",
                signature=consents.grant(PASSPHRASE.encode(), draft(), OWNER).signature,
            )
        )
    assert "does not verify" in refusal(site, view.id)
    assert refusal(site, "no-such-id") == "no such consent"


def test_expiry_comes_from_the_signed_record(site: Site) -> None:
    consents = consents_of(site)
    view = consents.grant(
        PASSPHRASE.encode(),
        Draft(clip(2, 5), RedactionPlan(), audio=False, recipient="x", validity=timedelta(hours=1)),
        OWNER,
    )
    site.clock.advance(3599)
    authorize_release(consents, view.id, clip(2, 5), "t", OWNER, site.box.record, site.clock)
    site.clock.advance(1)
    assert refusal(site, view.id).startswith("the consent expired at")
