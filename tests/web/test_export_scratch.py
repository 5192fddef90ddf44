"""An export's work on disk: every scratch file it writes is ciphertext (no MP4 or ZIP
signature, no run of the bundle's bytes), the job keeps exactly one (its sealed result),
and nothing is left after a cancel or a failure; an export that cannot fit the memory
budget is refused before it starts. Over a real box with encrypted footage."""

from __future__ import annotations

import dataclasses
import io
import zipfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from nvr.sharing import bundle as bundle_mod
from nvr.sharing import scratch as scratch_mod
from nvr.sharing import verify_bundle
from nvr.sharing.scratch import SealedFile
from nvr.web.consents import SCRATCH
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
SIGNATURES = (b"ftyp", b"moov", b"mdat", b"PK\x03\x04", b"PK\x01\x02", b"porchlight")


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


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The on-disk bytes of every sealed scratch file, taken as it is deleted (when it
    holds the most it ever will)."""
    taken: list[bytes] = []
    close = SealedFile.close

    def spying(self: SealedFile) -> None:
        if self.path.exists():
            taken.append(self.path.read_bytes())
        close(self)

    monkeypatch.setattr(scratch_mod.SealedFile, "close", spying)
    return taken


def scratch_of(site: Site) -> Path:
    return Path(site.box.cfg.storage.data_dir) / SCRATCH


def files(folder: Path) -> list[Path]:
    return sorted(folder.iterdir()) if folder.exists() else []


def ciphertext(data: bytes, plain: bytes) -> None:
    for signature in SIGNATURES:
        assert signature not in data, f"{signature!r} in a scratch file"
    for at in range(0, len(plain) - 32, 4096):  # no 32-byte run of the bundle
        assert plain[at : at + 32] not in data


async def export(site: Site, sharing: Sharing, http: httpx.AsyncClient) -> tuple[str, str]:
    owner = as_(site, "alex")
    r = await http.post("/api/v1/consents", json=CONSENT, headers=owner)
    assert r.status_code == 201, r.text
    consent = str(r.json()["id"])
    r = await http.post(
        f"/api/v1/consents/{consent}/export", json={"passphrase": PASSPHRASE}, headers=owner
    )
    assert r.status_code == 202, r.text
    return consent, str(r.json()["id"])


def state(sharing: Sharing, job: str) -> Any:
    assert sharing.exports is not None
    return sharing.exports.jobs.wait(job, "export", 60)


async def test_scratch_is_ciphertext_kept_until_cancel(
    site: Site, sharing: Sharing, http: httpx.AsyncClient, seen: list[bytes], tmp_path: Path
) -> None:
    owner = as_(site, "alex")
    _, job_id = await export(site, sharing, http)
    job = state(sharing, job_id)
    assert job.state == "done", job.error
    # The mux scratch and the clip's sealed file are gone; the zip's sealed file is the
    # job's result, and only it is on disk.
    assert len(seen) == 2
    left = files(scratch_of(site))
    assert [p.name for p in left] == [job.result.path.name]
    assert left[0].name.startswith(".export-")
    assert (left[0].stat().st_mode & 0o777) == 0o600

    r = await http.get(f"/api/v1/exports/{job_id}/bundle.zip", headers=owner)
    assert r.status_code == 200
    assert r.headers["content-length"] == str(len(r.content))
    bundle = r.content
    (tmp_path / "bundle.zip").write_bytes(bundle)
    out = io.StringIO()
    assert verify_bundle.check(tmp_path / "bundle.zip", out) == [], out.getvalue()
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        clip = next(archive.read(n) for n in archive.namelist() if n.endswith("/clip.mp4"))
    assert clip[4:8] == b"ftyp"
    ciphertext(left[0].read_bytes(), bundle)
    for data in seen:  # the mux scratch (with the clip not yet moov-first) and the clip
        ciphertext(data, clip)
    # The download leaves the sealed result for the next download or a share link.
    assert files(scratch_of(site)) == left

    r = await http.post(f"/api/v1/exports/{job_id}/cancel", headers=owner)
    assert r.status_code == 200
    assert r.json()["state"] == "cancelled"
    assert files(scratch_of(site)) == []
    r = await http.get(f"/api/v1/exports/{job_id}/bundle.zip", headers=owner)
    assert r.status_code == 409


async def test_a_failed_export_leaves_nothing(
    site: Site,
    sharing: Sharing,
    http: httpx.AsyncClient,
    seen: list[bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = bundle_mod.zip_stream

    def breaks(entries: Any, top: str, out: Any) -> None:
        real(entries, top, out)  # the whole zip written, then the disk "fills up"
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("nvr.web.consents.zip_stream", breaks)
    _, job_id = await export(site, sharing, http)
    job = state(sharing, job_id)
    assert job.state == "failed"
    assert job.error == "internal error (OSError)"
    assert len(seen) == 3  # mux scratch, clip, zip: each deleted
    assert files(scratch_of(site)) == []


async def test_an_age_export_keeps_only_the_age_file(
    site: Site, sharing: Sharing, http: httpx.AsyncClient, seen: list[bytes]
) -> None:
    owner = as_(site, "alex")
    r = await http.post("/api/v1/consents", json=CONSENT, headers=owner)
    consent = r.json()["id"]
    body = {"passphrase": PASSPHRASE, "age_passphrase": "correct horse battery"}
    r = await http.post(f"/api/v1/consents/{consent}/export", json=body, headers=owner)
    assert r.status_code == 202, r.text
    job = state(sharing, r.json()["id"])
    assert job.state == "done", job.error
    assert len(seen) == 3  # mux scratch, clip, the plaintext zip
    assert [p.name for p in files(scratch_of(site))] == [job.result.path.name]
    r = await http.get(f"/api/v1/exports/{job.id}/bundle.zip", headers=owner)
    assert r.content.startswith(b"age-encryption.org/v1\n")
    assert r.content == job.read()


async def test_an_export_over_the_budget_is_refused(site: Site, sharing: Sharing) -> None:
    assert sharing.exports is not None
    assert sharing.exports.budget == 512 * 2**20  # storage.export_memory_mib's default
    # 1 MiB: less than any export needs.
    small = dataclasses.replace(sharing, exports=dataclasses.replace(sharing.exports, budget=2**20))
    async with sharing_client(site, small) as http:
        await refused(site, http)


async def refused(site: Site, http: httpx.AsyncClient) -> None:
    owner = as_(site, "alex")
    r = await http.post("/api/v1/consents", json=CONSENT, headers=owner)
    consent = r.json()["id"]
    before = len(site.audit())
    r = await http.post(
        f"/api/v1/consents/{consent}/export", json={"passphrase": PASSPHRASE}, headers=owner
    )
    assert r.status_code == 413
    assert "split it into shorter clips" in r.json()["error"]
    assert "storage.export_memory_mib" in r.json()["error"]
    assert "share.release" not in [kind for kind, _, _ in site.audit()[before:]]
    assert files(scratch_of(site)) == []


async def test_a_redacted_export_streams_its_clip_too(
    site: Site, sharing: Sharing, http: httpx.AsyncClient, seen: list[bytes], tmp_path: Path
) -> None:
    owner = as_(site, "alex")
    body = {**CONSENT, "redactions": {"faces": True, "text": "case 7"}}
    r = await http.post("/api/v1/consents", json=body, headers=owner)
    assert r.status_code == 201, r.text
    consent = r.json()["id"]
    r = await http.post(
        f"/api/v1/consents/{consent}/export", json={"passphrase": PASSPHRASE}, headers=owner
    )
    assert r.status_code == 202, r.text
    job = state(sharing, r.json()["id"])
    assert job.state == "done", job.error
    assert len(seen) == 1  # the redacted clip's sealed file (no mux scratch: it re-encodes)
    r = await http.get(f"/api/v1/exports/{job.id}/bundle.zip", headers=owner)
    (tmp_path / "bundle.zip").write_bytes(r.content)
    out = io.StringIO()
    assert verify_bundle.check(tmp_path / "bundle.zip", out) == [], out.getvalue()
    with zipfile.ZipFile(io.BytesIO(r.content)) as archive:
        clip = next(archive.read(n) for n in archive.namelist() if n.endswith("/clip.mp4"))
        manifest = next(archive.read(n) for n in archive.namelist() if n.endswith("/manifest.json"))
    assert b'"redacted": true' in manifest
    ciphertext(seen[0], clip)
    ciphertext(job.result.path.read_bytes(), r.content)
