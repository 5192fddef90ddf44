"""No release without a valid consent for exactly that clip: every releasing function and
route (``RELEASE_PATHS``) is tried with no consent, a consent for another clip, an expired
one and a revoked one; each is refused, the refusal is in the audit log with its reason,
and nothing is released. Share links are tried as the owner makes them (from a finished
export) and as the recipient opens them (a link planted under the consent as if it had
once allowed the release)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from nvr.audit.entry import Actor
from nvr.redact import RedactionPlan
from nvr.sharing.bundle import make_bundle
from nvr.sharing.consent import Draft, iso
from nvr.sharing.jobs import Job
from nvr.sharing.release import RELEASE_PATHS, ReleaseRefused
from nvr.web.sharing import Sharing
from tests.playback.conftest import SourceClip
from tests.support.accounts import PASSPHRASE, Site
from tests.support.consent import (
    clip,
    consents_of,
    draft,
    export_context,
    faces_source,
    footage_site,
    owner_key,
)
from tests.support.links import plant_link
from tests.support.settings import as_
from tests.support.sharing import sharing_client, sharing_for

__all__ = ["faces_source"]
OWNER = Actor("owner", "alex")
WANTED = clip(2, 5)  # the clip every attempt tries to release
Attempt = Callable[[str], Awaitable[str]]  # consent id -> the refusal's reason


@pytest.fixture
def site(tmp_path: Path, faces_source: SourceClip) -> Iterator[Site]:
    built = footage_site(tmp_path, faces_source)
    yield built
    built.box.close()


@pytest.fixture
def sharing(site: Site) -> Sharing:
    return sharing_for(site)


@pytest.fixture
async def http(site: Site, sharing: Sharing) -> AsyncIterator[httpx.AsyncClient]:
    async with sharing_client(site, sharing) as client:
        yield client


def attempts(site: Site, sharing: Sharing, http: httpx.AsyncClient) -> dict[str, Attempt]:
    """One way to try each release path; each returns why it was refused."""
    owner = as_(site, "alex")
    body: dict[str, Any] = {
        "camera": WANTED.camera,
        "start": iso(WANTED.start),
        "end": iso(WANTED.end),
    }

    async def function(consent_id: str) -> str:
        with pytest.raises(ReleaseRefused) as caught:
            make_bundle(
                export_context(site),
                consent_id,
                WANTED,
                OWNER,
                identities=site.box.keys.unlock(PASSPHRASE.encode()).identities,
                owner_key=owner_key(site),
            )
        return caught.value.reason

    async def export_route(consent_id: str) -> str:
        r = await http.post(
            f"/api/v1/consents/{consent_id}/export",
            json={"passphrase": PASSPHRASE, "clip": body},
            headers=owner,
        )
        assert r.status_code in (404, 409), r.text
        return str(r.json()["error"]).removeprefix("release refused: ")

    async def download_route(consent_id: str) -> str:
        # A finished export job of WANTED under this consent (as if the consent had
        # been valid when it ran): the download asks the enforcement point again.
        assert sharing.exports is not None
        jobs = sharing.exports.jobs

        def work(job: Job) -> tuple[bytes, dict[str, Any]]:
            return b"PK not really a bundle", {"file": "b.zip"}

        job = jobs.start("export", {"consent": consent_id, **body}, work)
        assert jobs.wait(job.id, "export", 10).state == "done"
        r = await http.get(f"/api/v1/exports/{job.id}/bundle.zip", headers=owner)
        assert r.status_code in (404, 409), r.text
        assert b"not really" not in r.content
        return str(r.json()["error"]).removeprefix("release refused: ")

    async def link_route(consent_id: str) -> str:
        # Making a share link from a finished export of WANTED under this consent.
        assert sharing.exports is not None
        jobs = sharing.exports.jobs

        def work(job: Job) -> tuple[bytes, dict[str, Any]]:
            return b"PK not really a bundle", {"file": "b.zip"}

        job = jobs.start("export", {"consent": consent_id, **body}, work)
        assert jobs.wait(job.id, "export", 10).state == "done"
        r = await http.post(f"/api/v1/exports/{job.id}/links", json={}, headers=owner)
        assert r.status_code == 409, r.text
        assert "token" not in r.json()
        return str(r.json()["error"]).removeprefix("release refused: ")

    def planted(consent_id: str) -> str:
        # A link to WANTED under this consent, as if the consent had allowed it once.
        assert sharing.exports is not None
        assert sharing.exports.links is not None
        links = sharing.exports.links
        return plant_link(links, consent_id, WANTED, b"PK not really a bundle")[1]

    async def public_route(path: str, consent_id: str) -> str:
        token = planted(consent_id)
        r = await http.get(path.format(token=token))  # no session: the recipient
        assert r.status_code == 410, r.text
        assert b"not really" not in r.content
        assert "no longer valid" in r.text
        refused = [p for k, p, _ in site.audit() if k == "share.link.refused"]
        assert refused[-1]["client"] == "192.0.2.50"
        return str(refused[-1]["reason"]).removeprefix("consent: ")

    async def link_page(consent_id: str) -> str:
        return await public_route("/s/{token}", consent_id)

    async def link_download(consent_id: str) -> str:
        return await public_route("/s/{token}/download", consent_id)

    return {
        "nvr.sharing.bundle.make_bundle": function,
        "POST /api/v1/consents/{consent_id}/export": export_route,
        "GET /api/v1/exports/{job_id}/bundle.zip": download_route,
        "POST /api/v1/exports/{job_id}/links": link_route,
        "GET /s/{token}": link_page,
        "GET /s/{token}/download": link_download,
    }


def test_the_release_paths_are_the_apps_releasing_routes(site: Site) -> None:
    """Every route that hands out a bundle or starts one is in RELEASE_PATHS (and tried
    below); a new releasing route without an entry fails here."""
    from tests.web.test_routes import api_routes, full_app

    app = full_app(site)
    releasing = {
        f"{method} {route.path}"
        for route in api_routes(app.routes)
        for method in route.methods or ()
        if route.path.endswith((".zip", "/export", "/download"))
        # The /share page is the owner's form: it releases nothing itself (its script calls
        # the listed API routes), so it alone is exempt from the "/share" rule.
        or ("/share" in route.path and route.path != "/share")
        or route.path.startswith("/s/")
        or (route.path.startswith("/api/v1/exports/") and route.path.endswith("/links"))
    }
    assert releasing == {p for p in RELEASE_PATHS if " " in p}


@pytest.mark.parametrize("path", RELEASE_PATHS)
async def test_every_release_path_refuses_without_a_valid_consent(
    path: str, site: Site, sharing: Sharing, http: httpx.AsyncClient
) -> None:
    attempt = attempts(site, sharing, http)[path]
    consents = consents_of(site)
    other = consents.grant(PASSPHRASE.encode(), draft(3, 6), OWNER)
    short = consents.grant(
        PASSPHRASE.encode(),
        Draft(WANTED, RedactionPlan(faces=False), False, "x", validity=timedelta(minutes=1)),
        OWNER,
    )
    revoked = consents.grant(PASSPHRASE.encode(), draft(2, 5), OWNER)
    consents.revoke(revoked.id, "changed my mind", OWNER)
    site.clock.advance(120)
    cases = (
        ("no-such-consent", "no such consent"),
        (other.id, "the consent covers porch 2026-03-04T10:00:03Z..2026-03-04T10:00:06Z"),
        (short.id, "the consent expired at"),
        (revoked.id, "the consent was revoked at"),
    )
    for consent_id, reason in cases:
        got = await attempt(consent_id)
        assert got.startswith(reason), (consent_id, got)
        refusals = [p for k, p, _ in site.audit() if k == "release.refused"]
        assert refusals[-1]["consent"] == consent_id
        assert refusals[-1]["reason"] == got
    kinds = [k for k, _, _ in site.audit()]
    assert "share.release" not in kinds
    assert "share.bundle.download" not in kinds
    assert "share.link.create" not in kinds
    assert "share.link.view" not in kinds
    assert "share.link.download" not in kinds
