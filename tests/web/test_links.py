"""Share links over HTTP, on a real box with encrypted footage: the owner consents, exports
and makes a link (the API contract); the recipient, with no account, opens the page (not
counted), downloads the very bundle the export made and verifies it with the bundle's own
verifier, until the limit; wrong tokens are 404 and throttled per client; revocation and
expiry are 410; every access is in the audit log with the client, and the token is in no
log and no audit entry."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from nvr.sharing import verify_bundle
from nvr.sharing.jobs import Job
from nvr.sharing.links import LinkStore, new_token
from nvr.sharing.report import report_from_log
from nvr.web.app import create_app, loggable
from nvr.web.sharing import Sharing
from tests.playback.conftest import SourceClip
from tests.support.accounts import BASE, LAN, PASSPHRASE, Site
from tests.support.consent import faces_source, footage_site
from tests.support.settings import as_, status
from tests.support.sharing import sharing_for

__all__ = ["faces_source"]
CLIP = {"camera": "porch", "start": "2026-03-04T10:00:02Z", "end": "2026-03-04T10:00:05Z"}
CONSENT = {
    **CLIP,
    "passphrase": PASSPHRASE,
    "redactions": {"faces": False},
    "recipient": {"name": "Metro Police"},
}
CONTRACT = {
    "id",
    "consent",
    "request",
    "file",
    "size",
    "created_at",
    "expires_at",
    "max_downloads",
    "downloads",
    "revoked_at",
    "revoke_reason",
}
RECIPIENT = ("203.0.113.9", 50000)  # the recipient, somewhere else than the owner


@pytest.fixture
def site(tmp_path: Path, faces_source: SourceClip) -> Iterator[Site]:
    built = footage_site(tmp_path, faces_source)
    yield built
    built.box.close()


@pytest.fixture
def sharing(site: Site) -> Sharing:
    return sharing_for(site)


@pytest.fixture
def app(site: Site, sharing: Sharing) -> FastAPI:
    return create_app(
        status=status,
        accounts=site.accounts,
        segments=site.box.segment_store,
        record=site.box.record,
        sharing=sharing,
    )


def client_at(app: FastAPI, address: tuple[str, int]) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=address, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url=BASE)


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_at(app, LAN) as client:
        yield client


@pytest.fixture
async def recipient(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_at(app, RECIPIENT) as client:
        yield client


def links_of(sharing: Sharing) -> LinkStore:
    assert sharing.exports is not None
    assert sharing.exports.links is not None
    return sharing.exports.links


def service_log(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured log line but the test's own HTTP client's (httpx logs the URLs it
    fetches; the service is everything else), with tracebacks."""
    handler = caplog.handler
    return "\n".join(
        handler.format(record) for record in caplog.records if not record.name.startswith("httpx")
    )


def kinds(site: Site) -> list[str]:
    return [kind for kind, _, _ in site.audit()]


def entries(site: Site, kind: str) -> list[dict[str, Any]]:
    return [payload for k, payload, _ in site.audit() if k == kind]


async def exported(site: Site, sharing: Sharing, http: httpx.AsyncClient) -> tuple[str, Job]:
    """A consent and its finished export job (a real bundle)."""
    owner = as_(site, "alex")
    r = await http.post("/api/v1/consents", json=CONSENT, headers=owner)
    assert r.status_code == 201, r.text
    consent = r.json()["id"]
    r = await http.post(
        f"/api/v1/consents/{consent}/export", json={"passphrase": PASSPHRASE}, headers=owner
    )
    assert r.status_code == 202, r.text
    assert sharing.exports is not None
    job = sharing.exports.jobs.wait(r.json()["id"], "export", 60)
    assert job.state == "done", job.error
    return consent, job


def fake_export(sharing: Sharing, consent: str) -> Job:
    """A finished export job of CLIP under ``consent`` with stand-in bytes (the link does
    not look inside the bundle)."""
    assert sharing.exports is not None
    jobs = sharing.exports.jobs

    def work(job: Job) -> tuple[bytes, dict[str, Any]]:
        return b"PK stand-in bundle " * 100, {"file": "b.zip", "bundle": "b1"}

    job = jobs.start("export", {"consent": consent, **CLIP}, work)
    assert jobs.wait(job.id, "export", 10).state == "done"
    return job


async def consent_and_fake_export(
    site: Site, sharing: Sharing, http: httpx.AsyncClient
) -> tuple[str, Job]:
    r = await http.post("/api/v1/consents", json=CONSENT, headers=as_(site, "alex"))
    assert r.status_code == 201, r.text
    consent = str(r.json()["id"])
    return consent, fake_export(sharing, consent)


async def test_link_lifecycle_end_to_end(
    site: Site,
    sharing: Sharing,
    http: httpx.AsyncClient,
    recipient: httpx.AsyncClient,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    owner = as_(site, "alex")
    consent, job = await exported(site, sharing, http)
    assert job.result is not None
    r = await http.post(
        f"/api/v1/exports/{job.id}/links", json={"days": 2, "downloads": 2}, headers=owner
    )
    assert r.status_code == 201, r.text
    made = r.json()
    assert set(made) >= CONTRACT | {"url", "token"}
    token = made["token"]
    assert made["url"] == f"/s/{token}"
    assert made["consent"] == consent
    assert made["request"] is None
    assert made["file"] == job.result_meta["file"]
    assert made["size"] == job.size
    assert (made["max_downloads"], made["downloads"], made["state"]) == (2, 0, "active")
    assert made["revoked_at"] is None
    assert made["revoke_reason"] is None
    assert made["expires_at"] == "2026-03-06T11:00:00Z"  # two days on the box's clock

    listed = (await http.get(f"/api/v1/links?consent={consent}", headers=owner)).json()["links"]
    assert [link["id"] for link in listed] == [made["id"]]
    assert "token" not in listed[0]
    assert "url" not in listed[0]
    assert token not in json.dumps(listed)
    assert (await http.get("/api/v1/links?consent=other", headers=owner)).json() == {"links": []}

    # The page describes the bundle and does not count, however often it is fetched.
    for _ in range(2):
        r = await recipient.get(made["url"])
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["x-robots-tag"] == "noindex, nofollow"
        assert made["file"] in r.text
        assert "VERIFY.txt" in r.text
        assert "verify_bundle.py" in r.text
        assert f'href="/s/{token}/download"' in r.text
        assert "2 of 2" in r.text  # downloads left
        assert 'class="nav"' not in r.text  # no owner menu
        assert "<script" not in r.text
    # HEAD is not served, so a previewer's HEAD never counts.
    assert (await recipient.head(f"{made['url']}/download")).status_code == 405
    assert kinds(site).count("share.link.view") == 2
    assert "share.link.download" not in kinds(site)

    # The download is the export's bundle, byte for byte, and verifies.
    r = await recipient.get(f"{made['url']}/download")
    assert r.status_code == 200
    assert r.content == job.read()
    assert r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"] == f'attachment; filename="{made["file"]}"'
    assert r.headers["cache-control"] == "no-store"
    (tmp_path / "bundle.zip").write_bytes(r.content)
    out = io.StringIO()
    assert verify_bundle.check(tmp_path / "bundle.zip", out) == [], out.getvalue()
    stored = links_of(sharing).path(made["id"])
    assert stored.exists()
    assert job.read()[:4096] not in stored.read_bytes()

    r = await recipient.get(made["url"])
    assert "1 of 2" in r.text
    r = await recipient.get(f"{made['url']}/download")
    assert r.content == job.read()
    assert not stored.exists()  # used up: the ciphertext is gone, the row stays
    r = await recipient.get(f"{made['url']}/download")
    assert r.status_code == 410
    assert "used up (2 of 2)" in r.text
    r = await recipient.get(made["url"])
    assert r.status_code == 410

    downloads = entries(site, "share.link.download")
    assert [(d["link"], d["consent"], d["client"]) for d in downloads] == [
        (made["id"], consent, RECIPIENT[0])
    ] * 2
    assert entries(site, "share.link.create")[0]["client"] == LAN[0]
    assert all(v["client"] == RECIPIENT[0] for v in entries(site, "share.link.view"))
    assert [p["reason"] for p in entries(site, "share.link.refused")] == [
        "this link has been used up (2 of 2)"
    ] * 2
    state = (await http.get("/api/v1/links", headers=owner)).json()["links"][0]
    assert (state["downloads"], state["state"], state["stored"]) == (2, "used_up", False)
    # The transparency report counts the downloads from the log.
    assert report_from_log(site.box.sessions, site.box.audit).link_downloads == 2

    # The token is in no log line of the service and no audit entry.
    assert token not in service_log(caplog)
    assert token not in json.dumps([payload for _, payload, _ in site.audit()])


async def test_wrong_tokens_are_404_and_throttled_per_client(
    site: Site, sharing: Sharing, app: FastAPI, http: httpx.AsyncClient
) -> None:
    _, job = await consent_and_fake_export(site, sharing, http)
    r = await http.post(f"/api/v1/exports/{job.id}/links", json={}, headers=as_(site, "alex"))
    token = r.json()["token"]
    async with client_at(app, ("203.0.113.66", 1)) as guesser:
        pages = []
        for path in ("/s/{t}", "/s/{t}/download", "/s/{t}", "/s/{t}/download", "/s/{t}"):
            r = await guesser.get(path.format(t=new_token()))
            assert r.status_code == 404
            pages.append(r.text)
        r = await guesser.get("/s/x")  # malformed: the same answer
        assert r.status_code == 404
        pages.append(r.text)
        assert len(set(pages)) == 1  # the same page whatever was presented
        assert "No such link" in pages[0]
        # Five wrong guesses are free; then every token waits, the right one too (no
        # oracle), and nothing is looked up or logged while it does.
        logged = len(site.audit())
        for path in (f"/s/{new_token()}", f"/s/{token}", f"/s/{token}/download"):
            r = await guesser.get(path)
            assert r.status_code == 429
            assert int(r.headers["retry-after"]) >= 1
        assert len(site.audit()) == logged
        refused = entries(site, "share.link.refused")
        assert refused == [{"link": None, "reason": "no such link", "client": "203.0.113.66"}] * 6
        # Another client is not held up by the guesser.
        async with client_at(app, RECIPIENT) as other:
            assert (await other.get(f"/s/{token}")).status_code == 200
        site.clock.advance(5)  # the wait (monotonic) is over
        assert (await guesser.get(f"/s/{token}")).status_code == 200


async def test_revoked_and_expired_links_are_410(
    site: Site, sharing: Sharing, http: httpx.AsyncClient, recipient: httpx.AsyncClient
) -> None:
    owner = as_(site, "alex")
    _, job = await consent_and_fake_export(site, sharing, http)
    revoked = (await http.post(f"/api/v1/exports/{job.id}/links", json={}, headers=owner)).json()
    expiring = (
        await http.post(f"/api/v1/exports/{job.id}/links", json={"days": 1}, headers=owner)
    ).json()
    r = await http.post(
        f"/api/v1/links/{revoked['id']}/revoke", json={"reason": "wrong person"}, headers=owner
    )
    assert r.status_code == 200
    assert r.json()["state"] == "revoked"
    assert r.json()["revoke_reason"] == "wrong person"
    assert not links_of(sharing).path(revoked["id"]).exists()
    r = await http.post(f"/api/v1/links/{revoked['id']}/revoke", json={}, headers=owner)
    assert r.status_code == 409
    r = await http.post("/api/v1/links/nope/revoke", json={}, headers=owner)
    assert r.status_code == 404
    for path in (revoked["url"], f"{revoked['url']}/download"):
        r = await recipient.get(path)
        assert r.status_code == 410
        assert "withdrawn by the owner" in r.text
        assert "wrong person" not in r.text

    assert (await recipient.get(expiring["url"])).status_code == 200
    site.clock.advance(24 * 3600)
    r = await recipient.get(f"{expiring['url']}/download")
    assert r.status_code == 410
    assert "expired at" in r.text
    assert not links_of(sharing).path(expiring["id"]).exists()
    assert "share.link.download" not in kinds(site)
    revokes = entries(site, "share.link.revoke")
    assert [(p["link"], p["reason"]) for p in revokes] == [(revoked["id"], "wrong person")]


async def test_making_a_link_refuses_what_it_must(
    site: Site, sharing: Sharing, http: httpx.AsyncClient
) -> None:
    owner = as_(site, "alex")
    consent, job = await consent_and_fake_export(site, sharing, http)
    r = await http.post("/api/v1/exports/nope/links", json={}, headers=owner)
    assert r.status_code == 404
    for bad in ({"days": 0}, {"days": 31}, {"downloads": 0}, {"downloads": 21}, {"x": 1}):
        r = await http.post(f"/api/v1/exports/{job.id}/links", json=bad, headers=owner)
        assert r.status_code == 422, bad
    # A job that is not done.
    assert sharing.exports is not None

    def fails(job: Job) -> tuple[bytes, dict[str, Any]]:
        raise RuntimeError("boom")

    failed = sharing.exports.jobs.start("export", {"consent": consent, **CLIP}, fails)
    sharing.exports.jobs.wait(failed.id, "export", 10)
    r = await http.post(f"/api/v1/exports/{failed.id}/links", json={}, headers=owner)
    assert r.status_code == 409
    assert r.json()["error"].startswith("the export is failed")
    # The consent was revoked since the export: refused, and said why.
    r = await http.post(f"/api/v1/consents/{consent}/revoke", json={}, headers=owner)
    assert r.status_code == 200
    r = await http.post(f"/api/v1/exports/{job.id}/links", json={}, headers=owner)
    assert r.status_code == 409
    assert r.json()["error"].startswith("release refused: the consent was revoked at")
    assert entries(site, "release.refused")[-1]["purpose"] == "link"
    assert "share.link.create" not in kinds(site)
    # Only the owner: a viewer is refused, and a POST without the CSRF header too.
    r = await http.post(f"/api/v1/exports/{job.id}/links", json={}, headers=as_(site, "sam"))
    assert r.status_code == 403
    no_csrf = {k: v for k, v in owner.items() if k.lower() != "x-csrf-token"}
    r = await http.post(f"/api/v1/exports/{job.id}/links", json={}, headers=no_csrf)
    assert r.status_code == 403


async def test_an_error_on_a_share_path_is_logged_without_the_token(
    site: Site,
    sharing: Sharing,
    recipient: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(token: str, client: str | None) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(links_of(sharing), "open", broken)
    token = new_token()
    with caplog.at_level(logging.DEBUG):
        r = await recipient.get(f"/s/{token}")
    assert r.status_code == 500
    assert "unhandled error on GET /s/<token>" in service_log(caplog)
    assert token not in service_log(caplog)
    assert loggable(f"/s/{token}/download") == "/s/<token>/download"
    assert loggable("/api/v1/links") == "/api/v1/links"
