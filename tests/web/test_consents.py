"""The consent, export and preview API over a real box with encrypted footage: consent
with the passphrase, export as a job, download the zip and verify it with the bundle's
own verifier; revoke and the download is refused; previews need the session's unlock."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from nvr.sharing import verify_bundle
from nvr.web.sharing import Sharing
from tests.playback.conftest import SourceClip
from tests.support.accounts import PASSPHRASE, Site
from tests.support.consent import faces_source, footage_site
from tests.support.settings import as_
from tests.support.sharing import sharing_client, sharing_for

__all__ = ["faces_source"]
CLIP = {"camera": "porch", "start": "2026-03-04T10:00:02Z", "end": "2026-03-04T10:00:05Z"}
CONSENT = {
    **CLIP,
    "passphrase": PASSPHRASE,
    "redactions": {"faces": False},
    "recipient": {"name": "Metro Police"},
}


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


def kinds(site: Site) -> list[str]:
    return [kind for kind, _, _ in site.audit()]


def finished(sharing: Sharing, job: str, kind: str) -> str:
    assert sharing.exports is not None
    return sharing.exports.jobs.wait(job, kind, 60).state


async def test_consent_export_download_verify_revoke(
    site: Site, sharing: Sharing, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    owner = as_(site, "alex")
    r = await http.post("/api/v1/consents", json={**CONSENT, "passphrase": "wrong"}, headers=owner)
    assert r.status_code == 403
    assert r.json() == {"error": "wrong owner passphrase"}
    r = await http.post("/api/v1/consents", json={**CONSENT, "end": CLIP["start"]}, headers=owner)
    assert r.status_code == 400
    blank = {**CONSENT, "redactions": {"text": "   "}}
    r = await http.post("/api/v1/consents", json=blank, headers=owner)
    assert r.status_code == 400
    assert "blank" in r.json()["error"]
    r = await http.post("/api/v1/consents", json=CONSENT, headers=owner)
    assert r.status_code == 201, r.text
    consent: dict[str, Any] = r.json()
    assert consent["camera"] == "porch"
    assert consent["start"] == CLIP["start"]
    assert consent["revoked_at"] is None
    assert "passphrase" not in r.text
    listed = (await http.get("/api/v1/consents", headers=owner)).json()["consents"]
    assert [c["id"] for c in listed] == [consent["id"]]

    r = await http.post(
        f"/api/v1/consents/{consent['id']}/export", json={"passphrase": PASSPHRASE}, headers=owner
    )
    assert r.status_code == 202, r.text
    job = r.json()["id"]
    assert finished(sharing, job, "export") == "done"
    status = (await http.get(f"/api/v1/exports/{job}", headers=owner)).json()
    assert status["state"] == "done"
    assert status["consent"] == consent["id"]
    r = await http.get(f"/api/v1/exports/{job}/bundle.zip", headers=owner)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"].startswith('attachment; filename="porchlight-porch-')
    (tmp_path / "bundle.zip").write_bytes(r.content)
    out = io.StringIO()
    assert verify_bundle.check(tmp_path / "bundle.zip", out) == [], out.getvalue()
    assert kinds(site).count("share.release") == 1
    assert kinds(site).count("share.bundle.download") == 1

    r = await http.post(
        f"/api/v1/consents/{consent['id']}/revoke", json={"reason": "no"}, headers=owner
    )
    assert r.status_code == 200
    assert r.json()["revoked_at"] is not None
    r = await http.post(f"/api/v1/consents/{consent['id']}/revoke", json={}, headers=owner)
    assert r.status_code == 409
    r = await http.get(f"/api/v1/exports/{job}/bundle.zip", headers=owner)
    assert r.status_code == 409
    assert r.json()["error"].startswith("release refused: the consent was revoked at")
    assert kinds(site)[-1] == "release.refused"
    assert kinds(site).count("share.bundle.download") == 1


async def test_preview_needs_the_unlock_and_is_audited(
    site: Site, sharing: Sharing, http: httpx.AsyncClient
) -> None:
    owner = as_(site, "alex")
    body = {**CLIP, "redactions": {"faces": True, "text": "Preview"}}
    r = await http.post("/api/v1/previews", json=body, headers=owner)
    assert r.status_code == 202, r.text
    job = r.json()["id"]
    assert finished(sharing, job, "preview") == "done"
    status = (await http.get(f"/api/v1/previews/{job}", headers=owner)).json()
    assert status["report"]["frames"] == 30
    assert status["report"]["frames_with_faces"] > 0
    assert "share.preview" not in kinds(site)
    r = await http.get(f"/api/v1/previews/{job}/preview.mp4", headers=owner)
    assert r.status_code == 200
    assert r.headers["content-type"] == "video/mp4"
    assert r.content[4:8] == b"ftyp"
    assert kinds(site).count("share.preview") == 1
    # A preview is not a release: nothing is counted as released.
    assert "share.release" not in kinds(site)
    # Locked: no preview.
    site.unlocks.lock_all("test")
    r = await http.get(f"/api/v1/previews/{job}/preview.mp4", headers=owner)
    assert r.status_code == 401
    r = await http.post("/api/v1/previews", json=body, headers=owner)
    assert r.status_code == 401
    # An export job's id is not a preview's.
    r = await http.get(f"/api/v1/exports/{job}", headers=owner)
    assert r.status_code == 404
