"""Export bundles from real encrypted segments, checked the way a recipient checks them:
``verify_bundle.py`` in a separate, isolated Python that cannot import Porchlight; every
tampered file named; the clip probed with ffprobe; the age-encrypted bundle opened with
the stock ``age`` CLI; the release in the audit log and the transparency report."""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import av
import pytest

from nvr.audit.entry import Actor
from nvr.camera_identity import DeviceIdentity, manifest_camera, remember, serial_hash
from nvr.clock_status import ClockStatus
from nvr.crypto import ScryptIdentity, X25519Identity, decrypt
from nvr.redact import RedactionPlan
from nvr.sharing import verify_bundle
from nvr.sharing.bundle import BundleError, encrypt_bundle, export_bundle, zip_bundle
from nvr.sharing.consent import public_raw
from nvr.sharing.report import report_from_log
from nvr.sharing.requests import LegalBasis, RequestLog, State
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

__all__ = ["faces_source"]
OWNER = Actor("owner", "alex")
FILES = (
    "VERIFY.txt",
    "audit-consent-entry.json",
    "audit-consent.tlog-proof",
    "audit-entry.json",
    "audit.tlog-proof",
    "clip.mp4",
    "manifest.dsse.json",
    "manifest.json",
    "public-keys.json",
    "verify_bundle.py",
)


@pytest.fixture
def site(tmp_path: Path, faces_source: SourceClip) -> Iterator[Site]:
    built = footage_site(tmp_path, faces_source)
    yield built
    built.box.close()


def run_verifier(bundle: Path) -> subprocess.CompletedProcess[str]:
    """The bundle's own verify_bundle.py in an isolated interpreter (-I: no PYTHONPATH, no
    user site, no script folder magic beyond its own), from the bundle folder, with a
    minimal environment and an import hook that fails on any ``nvr`` import."""
    guard = (
        "import sys, runpy\n"
        "class NoNvr:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'nvr' or name.startswith('nvr.'):\n"
        "            raise ImportError('the verifier imported ' + name)\n"
        "sys.meta_path.insert(0, NoNvr())\n"
        "sys.argv = ['verify_bundle.py']\n"
        "runpy.run_path('verify_bundle.py', run_name='__main__')\n"
    )
    return subprocess.run(
        [sys.executable, "-I", "-c", guard],
        cwd=bundle,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def export(site: Site, out: Path, plan: RedactionPlan | None = None, **kw: object) -> Path:
    consents = consents_of(site)
    view = consents.grant(PASSPHRASE.encode(), draft(plan=plan) if plan else draft(), OWNER)
    result = export_bundle(
        export_context(site),
        view.id,
        clip(2, 5),
        out,
        OWNER,
        identities=site.box.keys.unlock(PASSPHRASE.encode()).identities,
        owner_key=owner_key(site),
        **kw,  # type: ignore[arg-type]
    )
    assert result.path == out
    return out


def ffprobe(path: Path) -> dict[str, object]:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    probed: dict[str, object] = json.loads(done.stdout)
    return probed


def test_unredacted_bundle_verifies_offline_and_tampering_is_named(
    site: Site, tmp_path: Path, faces_source: SourceClip
) -> None:
    bundle = export(site, tmp_path / "bundle")
    assert sorted(p.name for p in bundle.iterdir()) == list(FILES)
    done = run_verifier(bundle)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "imported" not in done.stderr
    assert done.stdout.rstrip().endswith("VERIFIED: every check passed.")
    assert "FAIL" not in done.stdout
    manifest = json.loads((bundle / "manifest.json").read_text())
    keys = json.loads((bundle / "public-keys.json").read_text())
    owner_raw = public_raw(site.box.keys.pinned_signing_key())
    assert base64.b64decode(keys["owner"]["ed25519"]) == owner_raw
    assert f"owner key fingerprint:  {verify_bundle.fingerprint(owner_raw)}" in done.stdout
    assert keys["owner"]["sha256"] == manifest["keys"]["owner"]
    # The manifest says what SHARING.md asks for.
    # No camera.device entry for "porch" here (test_manifest_camera_... has one).
    assert manifest["camera"] == {
        "name": "porch",
        "reported": False,
        "why": "no device information was recorded for this camera",
        "make": None,
        "model": None,
        "firmware": None,
    }
    consented = manifest["clip"]["consented"]
    assert (consented["start"], consented["end"]) == (
        "2026-03-04T10:00:02Z",
        "2026-03-04T10:00:05Z",
    )
    assert manifest["clip"]["start"] == "2026-03-04T10:00:02Z"  # a keyframe every second
    assert manifest["clip"]["start_local"]["zone"]
    assert manifest["redacted"] is False
    assert manifest["audio"] is False
    # The box's clock as read at export (whatever this machine's state is).
    assert manifest["clock"]["source"] in ("ntp", "unsynchronized", "unknown")
    assert manifest["clock"]["synchronized"] is (manifest["clock"]["source"] == "ntp")
    assert manifest["clock"]["checked_at"] == "2026-03-04T11:00:00Z"  # the box's clock
    for key in ("created_at_local",):
        assert manifest[key]["time"].startswith("2026-03-04T")
    for key in ("start_local", "end_local"):
        local = manifest["clip"]["consented"][key]
        assert set(local) >= {"time", "zone", "utc_offset"}
    stored = {r.id: r.sha256 for r in site.box.segment_store().find("porch", *_span(manifest))}
    assert len(manifest["source_segments"]) == 2  # 2..4 s and 4..6 s
    for source in manifest["source_segments"]:
        assert source["ciphertext_sha256"] == stored[source["id"]]
    assert all(len(s["ciphertext_sha256"]) == 64 for s in manifest["source_segments"])
    assert set(manifest["files"]) == set(FILES) - {"manifest.json", "manifest.dsse.json"}
    probe = ffprobe(bundle / "clip.mp4")
    streams = probe["streams"]
    assert isinstance(streams, list)
    assert [s["codec_name"] for s in streams] == ["h264"]
    assert abs(float(probe["format"]["duration"]) - 3.0) < 0.15  # type: ignore[index]
    # A stream copy: the clip's packets are the recorded ones, from the keyframe at 2 s.
    with av.open(str(bundle / "clip.mp4")) as container:
        packets = [bytes(p) for p in container.demux(video=0) if p.size]
    assert packets == faces_source.packets[20:50]
    # Tamper with each file in turn: the verifier names it.
    for name, expected in (
        ("clip.mp4", "FAIL  clip.mp4: size or hashes differ"),
        ("VERIFY.txt", "FAIL  VERIFY.txt: size or hashes differ"),
        ("manifest.json", "FAIL  manifest.dsse.json: the signed payload is not manifest.json"),
        ("audit-entry.json", "FAIL  audit-entry.json: size or hashes differ"),
        ("audit.tlog-proof", "FAIL  audit.tlog-proof: size or hashes differ"),
        ("audit-consent-entry.json", "FAIL  audit-consent-entry.json: size or hashes differ"),
        ("audit-consent.tlog-proof", "FAIL  audit-consent.tlog-proof: size or hashes differ"),
        ("manifest.dsse.json", "FAIL  manifest.dsse.json"),
        ("public-keys.json", "FAIL  public-keys.json"),
    ):
        copy = tmp_path / f"tampered-{name}"
        shutil.copytree(bundle, copy)
        data = bytearray((copy / name).read_bytes())
        data[len(data) // 2] ^= 0x01
        (copy / name).write_bytes(bytes(data))
        out = io.StringIO()
        failures = verify_bundle.check(copy, out)
        assert failures, name
        assert expected in out.getvalue(), (name, out.getvalue())
        assert "NOT VERIFIED" in out.getvalue()
    # The same in the separate process, for the clip.
    copy = tmp_path / "tampered-clip.mp4"
    done = run_verifier(copy)
    assert done.returncode == 1
    assert "FAIL  clip.mp4: size or hashes differ from manifest.json" in done.stdout
    for what in ("consent", "release"):
        assert f"PASS  audit: {what} entry" in run_verifier(bundle).stdout


def test_manifest_camera_and_clock_fields(site: Site, tmp_path: Path) -> None:
    """The camera as it reported itself at the clip's time (the latest camera.device
    entry at or before the clip's start, else the latest), and the clock status given."""
    box = site.box
    late = DeviceIdentity("PorchCo", "DB-3", "2.0.0", "SN-42", "onvif")
    site.clock.set_wall(datetime(2026, 3, 4, 9, 0, tzinfo=UTC))  # before the clip
    first = remember(
        box.sessions,
        box.record,
        "porch",
        DeviceIdentity("PorchCo", "DB-2", "1.4.1", "SN-42", "onvif"),
        box.device_id,
    )
    assert first is not None
    assert (
        remember(
            box.sessions,
            box.record,
            "porch",
            DeviceIdentity("PorchCo", "DB-2", "1.4.1", "SN-42", "onvif"),
            box.device_id,
        )
        is None
    )  # unchanged
    site.clock.set_wall(datetime(2026, 3, 4, 10, 30, tzinfo=UTC))  # after it: a firmware update
    second = remember(box.sessions, box.record, "porch", late, box.device_id)
    assert second is not None
    assert second > first
    site.clock.set_wall(datetime(2026, 3, 4, 11, 0, tzinfo=UTC))
    status = ClockStatus(
        source="ntp",
        synchronized=True,
        max_error_ms=12.5,
        est_error_ms=0.25,
        last_sync=datetime(2026, 3, 4, 10, 55, tzinfo=UTC),
        last_sync_from="systemd-timesyncd",
        checked_at=site.clock.wall(),
    )
    ctx = dataclasses.replace(
        export_context(site),
        clock_status=lambda: status,
        zone=ZoneInfo("America/New_York"),
        camera_kind=lambda name: "onvif",
    )
    view = consents_of(site).grant(PASSPHRASE.encode(), draft(), OWNER)
    export_bundle(
        ctx,
        view.id,
        clip(2, 5),
        tmp_path / "bundle",
        OWNER,
        identities=site.box.keys.unlock(PASSPHRASE.encode()).identities,
        owner_key=owner_key(site),
    )
    manifest = json.loads((tmp_path / "bundle" / "manifest.json").read_text())
    camera = manifest["camera"]
    assert camera == {
        "name": "porch",
        "reported": True,
        "source": "onvif",
        "make": "PorchCo",
        "model": "DB-2",
        "firmware": "1.4.1",  # as at 10:00:02, not the 10:30 update
        "serial_sha256": serial_hash("SN-42", box.device_id),
        "audit_seq": first,
    }
    assert "SN-42" not in (tmp_path / "bundle" / "manifest.json").read_text()
    assert manifest["clock"] == {
        "source": "ntp",
        "synchronized": True,
        "max_error_ms": 12.5,
        "est_error_ms": 0.25,
        "last_sync": "2026-03-04T10:55:00Z",
        "last_sync_from": "systemd-timesyncd",
        "checked_at": "2026-03-04T11:00:00Z",
    }
    assert manifest["created_at"] == "2026-03-04T11:00:00Z"
    assert manifest["created_at_local"] == {
        "time": "2026-03-04T06:00:00-05:00",
        "zone": "EST",
        "utc_offset": "-05:00",
        "zone_name": "America/New_York",
    }
    assert manifest["clip"]["start_local"]["time"] == "2026-03-04T05:00:02-05:00"
    assert manifest["clip"]["consented"]["end_local"]["time"] == "2026-03-04T05:00:05-05:00"
    # The entry the manifest points at is the log's, and the bundle still verifies.
    entry = json.loads(box.audit.entry(first))
    assert entry["kind"] == "camera.device"
    assert entry["payload"]["model"] == "DB-2"
    out = io.StringIO()
    assert verify_bundle.check(tmp_path / "bundle", out) == []
    assert out.getvalue().rstrip().endswith("VERIFIED: every check passed.")
    # With no entry, the manifest says why, from the camera's kind.
    assert manifest_camera(box.sessions, "garage", site.clock.wall(), "rtsp") == {
        "name": "garage",
        "reported": False,
        "why": "RTSP-only camera (no ONVIF device information to ask for)",
        "make": None,
        "model": None,
        "firmware": None,
    }


def _span(manifest: dict[str, object]) -> tuple[datetime, datetime]:
    from nvr.sharing.consent import parse_iso

    clip_ = manifest["clip"]
    assert isinstance(clip_, dict)
    return parse_iso(clip_["start"]), parse_iso(clip_["end"])


def test_a_proof_that_does_not_match_its_checkpoint_fails(site: Site, tmp_path: Path) -> None:
    """An edited log entry: besides its hash in the manifest, the inclusion path no longer
    leads to the signed root (so even a re-signed manifest would not save it); and a
    checkpoint not signed by the device key is refused."""
    bundle = export(site, tmp_path / "bundle")
    proof = (bundle / "audit.tlog-proof").read_text()
    head, _, note = proof.partition("\n\n")
    lines = head.split("\n")
    assert lines[1].startswith("index ")
    forged_entry = (
        (bundle / "audit-entry.json").read_bytes().replace(b'"audio":false', b'"audio":true')
    )
    (bundle / "audit-entry.json").write_bytes(forged_entry)
    out = io.StringIO()
    verify_bundle.check(bundle, out)
    text = out.getvalue()
    assert "FAIL  audit.tlog-proof: the inclusion proof does not match the checkpoint" in text
    # A checkpoint signed by some other key is refused as well.
    forged_note = note.replace("\u2014 ", "\u2014 x", 1)
    (bundle / "audit.tlog-proof").write_text(head + "\n\n" + forged_note)
    out = io.StringIO()
    verify_bundle.check(bundle, out)
    assert "the checkpoint is not signed by the device key" in out.getvalue()


def test_redacted_bundle_is_reencoded_and_the_request_moves(site: Site, tmp_path: Path) -> None:
    requests = RequestLog(site.box.sessions, site.box.record, site.clock)
    request = requests.create(
        {
            "organisation": "Metro Police",
            "basis": LegalBasis.VOLUNTARY,
            "received_at": site.clock.wall(),
        },
        OWNER,
    )
    consents = consents_of(site)
    plan = RedactionPlan(text="Released to Metro Police")
    view = consents.grant(PASSPHRASE.encode(), draft(plan=plan, request=request.id), OWNER)
    bundle = tmp_path / "bundle"
    export_bundle(
        export_context(site),
        view.id,
        clip(2, 5),
        bundle,
        OWNER,
        identities=site.box.keys.unlock(PASSPHRASE.encode()).identities,
        owner_key=owner_key(site),
        fulfil=State.FULFILLED,
    )
    assert verify_bundle.check(bundle, io.StringIO()) == []
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["redacted"] is True
    assert manifest["request"] == request.id
    assert manifest["redaction_report"]["frames"] == 30
    streams = ffprobe(bundle / "clip.mp4")["streams"]
    assert isinstance(streams, list)
    assert [s["codec_name"] for s in streams] == ["h264"]
    assert requests.get(request.id).state is State.FULFILLED
    releases = [p for k, p, _ in site.audit() if k == "share.release"]
    assert releases == [
        {
            "request": request.id,
            "consent": view.id,
            "camera": "porch",
            "start": "2026-03-04T10:00:02Z",
            "end": "2026-03-04T10:00:05Z",
            "seconds": 3,
            "audio": False,
            "redacted": True,
            "recipient": "Metro Police",
        }
    ]
    report = report_from_log(site.box.sessions, site.box.audit)
    assert report.clips_released == 1
    assert report.seconds_released == 3
    assert report.clips_redacted == 1
    assert report.clips_without_request == 0


@pytest.mark.usefixtures("age_required")
def test_encrypted_bundle_opens_with_the_stock_age_cli(site: Site, tmp_path: Path) -> None:
    bundle = export(site, tmp_path / "bundle")
    archive = zip_bundle(bundle)
    identity = X25519Identity.generate()
    key_file = tmp_path / "recipient.key"
    key_file.write_text(identity.to_string() + "\n")
    sealed = tmp_path / "bundle.zip.age"
    sealed.write_bytes(encrypt_bundle(archive, recipient=str(identity.recipient())))
    plain = subprocess.run(
        ["age", "-d", "-i", str(key_file), str(sealed)], capture_output=True, check=True, timeout=30
    ).stdout
    assert plain == archive
    with zipfile.ZipFile(io.BytesIO(plain)) as opened:
        assert sorted(Path(n).name for n in opened.namelist()) == list(FILES)
    (tmp_path / "bundle.zip").write_bytes(plain)
    assert verify_bundle.check(tmp_path / "bundle.zip", io.StringIO()) == []


def test_passphrase_encrypted_bundle_round_trips(site: Site, tmp_path: Path) -> None:
    """The passphrase form (scrypt stanza; the stock age asks for it on a terminal, so it
    is opened here with the project's reader, which follows the same spec)."""
    archive = zip_bundle(export(site, tmp_path / "bundle"))
    sealed = encrypt_bundle(archive, passphrase=b"correct horse battery staple", log_n=10)
    assert sealed.startswith(b"age-encryption.org/v1\n-> scrypt ")
    plain = decrypt(io.BytesIO(sealed), [ScryptIdentity(b"correct horse battery staple")]).read()
    assert plain == archive
    with pytest.raises(BundleError, match="not both"):
        encrypt_bundle(archive, recipient="age1x", passphrase=b"p")
