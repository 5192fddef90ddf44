"""The share-link store over a real box: what is kept at rest (the token's hash and a
bundle only the token opens), expiry on the project's clock, the download limit,
revocation, a consent that ends, unknown tokens, and an audit entry with the client for
every access."""

from __future__ import annotations

import hashlib
import io
import json
import stat
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, text

from nvr.audit.entry import Actor
from nvr.crypto import AgeError, decrypt
from nvr.db.models import ShareLink
from nvr.sharing.consent import Draft, iso
from nvr.sharing.links import (
    AlreadyRevoked,
    LinkError,
    LinkGone,
    LinkSource,
    LinkStore,
    NoSuchLink,
    link_identity,
    new_token,
    token_hash,
)
from nvr.sharing.release import ReleaseRefused
from nvr.sharing.requests import NothingDeleted
from tests.playback.conftest import SourceClip
from tests.support.accounts import PASSPHRASE, Site
from tests.support.age_cli import age_required
from tests.support.consent import clip, consents_of, draft, faces_source, footage_site

__all__ = ["age_required", "faces_source"]
OWNER = Actor("owner", "alex")
CLIENT = "198.51.100.7"
# Stands in for an export bundle: the store neither reads nor builds it.
BUNDLE = b"PK\x03\x04" + bytes(range(256)) * 700  # ~180 KB: several 64 KiB age chunks


@pytest.fixture
def site(tmp_path: Path, faces_source: SourceClip) -> Iterator[Site]:
    built = footage_site(tmp_path, faces_source)
    yield built
    built.box.close()


@pytest.fixture
def links(site: Site) -> LinkStore:
    box = site.box
    return LinkStore(
        box.cfg.storage.data_dir, box.sessions, consents_of(site), box.record, site.clock
    )


def consent(site: Site, *, validity: timedelta = timedelta(days=7)) -> str:
    wanted = draft(2, 5)
    signed = Draft(wanted.clip, wanted.plan, wanted.audio, wanted.recipient, validity=validity)
    return consents_of(site).grant(PASSPHRASE.encode(), signed, OWNER).id


def source(consent_id: str) -> LinkSource:
    return LinkSource(consent_id, clip(2, 5), "porchlight-porch-x.zip", "bundle-1")


def entries(site: Site, kind: str) -> list[dict[str, object]]:
    return [payload for k, payload, _ in site.audit() if k == kind]


def body(links: LinkStore, token: str) -> bytes:
    return b"".join(links.download(token, CLIENT).chunks())


def test_at_rest_only_the_tokens_hash_and_a_bundle_only_the_token_opens(
    site: Site, links: LinkStore
) -> None:
    made = links.create(BUNDLE, source(consent(site)), actor=OWNER, client=CLIENT)
    token, link = made.token, made.link
    assert len(token) >= 43  # 32 random bytes, URL-safe base64
    assert token.replace("-", "").replace("_", "").isalnum()
    stored = links.path(link.id)
    assert stored.parent == site.box.cfg.storage.data_dir / "shares"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    at_rest = stored.read_bytes()
    assert at_rest.startswith(b"age-encryption.org/v1\n")
    assert BUNDLE[:4096] not in at_rest
    assert token.encode() not in at_rest
    # The token's key opens it; another token's does not.
    with stored.open("rb") as f:
        assert decrypt(f, [link_identity(token, link.id)]).read() == BUNDLE
    with stored.open("rb") as f, pytest.raises(AgeError):
        decrypt(f, [link_identity(new_token(), link.id)])
    # The database holds SHA-256(token), never the token; nor does the audit log.
    with site.box.sessions() as session:
        row = session.get(ShareLink, link.id)
        assert row is not None
        assert row.token_sha256 == hashlib.sha256(token.encode()).hexdigest() == token_hash(token)
        values = [str(getattr(row, c.key)) for c in ShareLink.__table__.columns]
    assert not any(token in value for value in values)
    assert token not in json.dumps([payload for _, payload, _ in site.audit()])
    # Defaults: 7 days, 3 downloads; the creation is audited with the client.
    assert link.expires_at == site.clock.wall() + timedelta(days=7)
    assert (link.max_downloads, link.downloads, link.state(site.clock.wall())) == (3, 0, "active")
    assert link.sha256 == hashlib.sha256(BUNDLE).hexdigest()
    created = entries(site, "share.link.create")
    assert created == [
        {
            "link": link.id,
            "consent": link.consent,
            "request": None,
            "bundle": "bundle-1",
            "file": "porchlight-porch-x.zip",
            "size": len(BUNDLE),
            "sha256": link.sha256,
            "expires_at": iso(link.expires_at),
            "max_downloads": 3,
            "client": CLIENT,
        }
    ]


def test_the_download_limit_counts_downloads_not_page_views(site: Site, links: LinkStore) -> None:
    made = links.create(BUNDLE, source(consent(site)), downloads=2, actor=OWNER, client=None)
    for _ in range(3):
        assert links.open(made.token, CLIENT).downloads == 0  # the page never counts
    assert body(links, made.token) == BUNDLE
    assert links.path(made.link.id).exists()
    assert body(links, made.token) == BUNDLE
    # The last download deleted the stored bundle; the row stays, used up.
    assert not links.path(made.link.id).exists()
    link = links.get(made.link.id)
    assert (link.downloads, link.state(site.clock.wall())) == (2, "used_up")
    assert link.purged_at is not None
    with pytest.raises(LinkGone) as gone:
        links.download(made.token, CLIENT)
    assert gone.value.reason == "this link has been used up (2 of 2)"
    with pytest.raises(LinkGone):
        links.open(made.token, CLIENT)
    downloads = entries(site, "share.link.download")
    assert [(d["download"], d["max_downloads"], d["client"]) for d in downloads] == [
        (1, 2, CLIENT),
        (2, 2, CLIENT),
    ]
    assert {d["link"] for d in downloads} == {made.link.id}
    assert len(entries(site, "share.link.view")) == 3
    refused = entries(site, "share.link.refused")
    assert refused[-1] == {
        "link": made.link.id,
        "reason": "this link has been used up (2 of 2)",
        "client": CLIENT,
    }


def test_a_link_expires_on_the_clock_and_its_bundle_is_deleted(
    site: Site, links: LinkStore
) -> None:
    made = links.create(BUNDLE, source(consent(site)), days=1, actor=OWNER, client=None)
    site.clock.advance(timedelta(days=1).total_seconds() - 1)
    assert links.open(made.token, CLIENT).id == made.link.id
    site.clock.advance(1)
    with pytest.raises(LinkGone) as gone:
        links.download(made.token, CLIENT)
    assert gone.value.reason.startswith("this link expired at ")
    assert not links.path(made.link.id).exists()
    assert links.get(made.link.id).state(site.clock.wall()) == "expired"
    assert entries(site, "share.link.download") == []


def test_a_link_never_outlives_its_consent(site: Site, links: LinkStore) -> None:
    consent_id = consent(site, validity=timedelta(days=2))
    made = links.create(BUNDLE, source(consent_id), days=30, actor=OWNER, client=None)
    assert made.link.expires_at == consents_of(site).get(consent_id).expires_at


def test_sweep_deletes_the_bundles_of_links_that_ended(site: Site, links: LinkStore) -> None:
    consent_id = consent(site)
    short = links.create(BUNDLE, source(consent_id), days=1, actor=OWNER, client=None)
    long = links.create(BUNDLE, source(consent_id), days=5, actor=OWNER, client=None)
    assert links.sweep() == 0
    site.clock.advance(timedelta(days=2).total_seconds())
    assert links.sweep() == 1
    assert not links.path(short.link.id).exists()
    assert links.path(long.link.id).exists()
    # The consent is revoked: the sweep retires the other link (revoked by the system).
    consents_of(site).revoke(consent_id, "no", OWNER)
    assert links.sweep() == 1
    assert not links.path(long.link.id).exists()
    retired = links.get(long.link.id)
    assert retired.revoked_at is not None
    assert retired.revoke_reason is not None
    assert retired.revoke_reason.startswith("the consent no longer allows it: the consent was")
    assert links.sweep() == 0


def test_revocation(site: Site, links: LinkStore) -> None:
    made = links.create(BUNDLE, source(consent(site)), actor=OWNER, client=None)
    revoked = links.revoke(made.link.id, "sent by mistake", OWNER)
    assert revoked.state(site.clock.wall()) == "revoked"
    assert revoked.revoke_reason == "sent by mistake"
    assert not links.path(made.link.id).exists()
    with pytest.raises(AlreadyRevoked):
        links.revoke(made.link.id, "", OWNER)
    with pytest.raises(LinkGone) as gone:
        links.open(made.token, CLIENT)
    assert gone.value.reason.startswith("this link was withdrawn by the owner at ")
    assert "mistake" not in gone.value.reason  # the owner's reason stays the owner's
    assert entries(site, "share.link.revoke") == [
        {
            "link": made.link.id,
            "consent": made.link.consent,
            "request": None,
            "reason": "sent by mistake",
        }
    ]
    with pytest.raises(NoSuchLink):
        links.revoke("00000000-0000-4000-8000-000000000000", "", OWNER)


def test_a_revoked_consent_stops_the_link_at_the_enforcement_point(
    site: Site, links: LinkStore
) -> None:
    consent_id = consent(site)
    made = links.create(BUNDLE, source(consent_id), actor=OWNER, client=None)
    consents_of(site).revoke(consent_id, "changed my mind", OWNER)
    with pytest.raises(LinkGone) as gone:
        links.download(made.token, CLIENT)
    assert gone.value.reason == "the owner's consent to this release is no longer valid"
    refused = entries(site, "release.refused")[-1]
    assert refused["purpose"] == "link download"
    assert str(refused["reason"]).startswith("the consent was revoked at")
    assert not links.path(made.link.id).exists()
    assert links.get(made.link.id).state(site.clock.wall()) == "revoked"
    assert entries(site, "share.link.download") == []
    # And no new link can be made under it.
    with pytest.raises(ReleaseRefused):
        links.create(BUNDLE, source(consent_id), actor=OWNER, client=None)


def test_a_link_is_made_only_for_exactly_the_consented_clip(site: Site, links: LinkStore) -> None:
    consent_id = consent(site)
    other = LinkSource(consent_id, clip(2, 6), "x.zip")
    with pytest.raises(ReleaseRefused, match="not this clip"):
        links.create(BUNDLE, other, actor=OWNER, client=None)
    assert entries(site, "release.refused")[-1]["purpose"] == "link"
    assert links.list() == []
    assert list((site.box.cfg.storage.data_dir / "shares").glob("*")) == []


def test_an_unknown_token_is_refused_and_logged_without_the_token(
    site: Site, links: LinkStore
) -> None:
    links.create(BUNDLE, source(consent(site)), actor=OWNER, client=None)
    guess = new_token()
    for attempt in (links.open, links.download):
        with pytest.raises(NoSuchLink):
            attempt(guess, CLIENT)
    refused = entries(site, "share.link.refused")
    assert refused == [{"link": None, "reason": "no such link", "client": CLIENT}] * 2
    assert guess not in json.dumps([payload for _, payload, _ in site.audit()])


def test_a_wrong_token_costs_the_same_work_whether_or_not_it_is_close(
    site: Site, links: LinkStore
) -> None:
    """No timing leak worth measuring, shown without timing: a token one character away
    from a real one and a random one run exactly the same SQL (one look-up by hash, the
    audit entry) and are refused the same way. The real token differs only after the
    look-up, where it is the recipient's own."""
    made = links.create(BUNDLE, source(consent(site)), actor=OWNER, client=None)
    near = made.token[:-1] + ("A" if made.token[-1] != "A" else "B")
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    traces = []
    for token in (near, new_token(), "x"):
        statements.clear()
        event.listen(site.box.engine, "before_cursor_execute", seen)
        try:
            with pytest.raises(NoSuchLink) as refused:
                links.open(token, CLIENT)
        finally:
            event.remove(site.box.engine, "before_cursor_execute", seen)
        traces.append((list(statements), refused.value.message))
    assert traces[0] == traces[1] == traces[2]
    assert any("token_sha256" in statement for statement in traces[0][0])


def test_bad_days_or_downloads_are_refused(site: Site, links: LinkStore) -> None:
    consent_id = consent(site)
    for days, downloads in ((0, 3), (31, 3), (7, 0), (7, 21)):
        with pytest.raises(LinkError):
            links.create(
                BUNDLE, source(consent_id), days=days, downloads=downloads, actor=OWNER, client=None
            )


def test_links_are_listed_newest_first_and_never_deleted(site: Site, links: LinkStore) -> None:
    first_consent, second_consent = consent(site), consent(site)
    first = links.create(BUNDLE, source(first_consent), actor=OWNER, client=None).link
    site.clock.advance(1)
    second = links.create(BUNDLE, source(second_consent), actor=OWNER, client=None).link
    assert [link.id for link in links.list()] == [second.id, first.id]
    assert [link.id for link in links.list(consent=first_consent)] == [first.id]
    with site.box.sessions() as session:
        row = session.get(ShareLink, first.id)
        session.delete(row)
        with pytest.raises(NothingDeleted):
            session.flush()
    with site.box.sessions.begin() as session, pytest.raises(Exception, match="never deleted"):
        session.execute(text("DELETE FROM share_links"))
    assert len(links.list()) == 2


def test_the_download_is_the_plaintext_in_chunks(site: Site, links: LinkStore) -> None:
    made = links.create(BUNDLE, source(consent(site)), actor=OWNER, client=None)
    download = links.download(made.token, CLIENT)
    assert download.size == len(BUNDLE)
    out = io.BytesIO()
    chunks = list(download.chunks())
    assert len(chunks) == 3
    for chunk in chunks:
        out.write(chunk)
    assert out.getvalue() == BUNDLE


@pytest.mark.usefixtures("age_required")
def test_the_stored_bundle_is_a_standard_age_file(
    site: Site, links: LinkStore, tmp_path: Path
) -> None:
    """With the token, the stock ``age`` opens the stored bundle (the recovery path)."""
    made = links.create(BUNDLE, source(consent(site)), actor=OWNER, client=None)
    key = tmp_path / "link.key"
    key.write_text(link_identity(made.token, made.link.id).to_string() + "\n")
    key.chmod(0o600)
    done = subprocess.run(
        ["age", "-d", "-i", str(key), str(links.path(made.link.id))],
        capture_output=True,
        timeout=60,
        check=True,
    )
    assert done.stdout == BUNDLE
