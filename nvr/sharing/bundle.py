"""Export bundles: one consented clip, with everything a recipient needs to check it offline.

``export_bundle(ctx, consent_id, clip, out, actor, ...) -> BundleResult`` writes the folder
``out`` (which must not exist) with

- ``clip.mp4``: the playback primitive's stream copy (``build_clip``, moov first) when the
  consent redacts nothing, else ``nvr.redact.redact``'s H.264 re-encode; audio only if the
  consent says so;
- ``manifest.json``: bundle and device ids, camera (make/model/firmware as the camera
  reported them: the latest ``camera.device`` audit entry at or before the clip,
  ``nvr.camera_identity``; ``reported: false`` and why when there is none), the consented
  and the actual time range and the creation time in UTC and in local time with the zone,
  the box's clock (``nvr.clock_status``: source, synchronized, error, last sync, checked
  at export time), request and consent (the signed record itself), redactions (plan and the
  engine's summary), audio, size + SHA-256 + SHA-512 of every other file, the ciphertext
  SHA-256 of each source segment, created at, software version, the audit entry number;
- ``manifest.dsse.json``: a DSSE envelope over manifest.json with two signatures, the
  owner key (needs the passphrase, like the consent) and the device key;
- ``public-keys.json``: both public keys and the log's origin;
- ``audit-entry.json`` + ``audit.tlog-proof``: the ``share.release`` entry and its
  inclusion proof against a checkpoint signed right after it; ``audit-consent-entry.json``
  + ``audit-consent.tlog-proof``: the same for the consent's ``consent.grant`` entry;
- ``VERIFY.txt`` and ``verify_bundle.py`` (``nvr/sharing/verify_bundle.py`` copied as is).

It calls ``authorize_release`` first (the enforcement point), writes exactly one
``share.release`` entry (payload: docs/design/requests.md) once the clip is built, signs a
checkpoint, and optionally moves the consent's request with ``RequestLog.transition``.
``zip_bundle`` and ``encrypt_bundle`` (age, to an ``age1`` key or a passphrase; the stock
``age`` CLI decrypts it) package the folder. Synchronous and CPU-bound: run it in a thread;
``progress``/``cancel`` reach the redaction engine.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import io
import json
import os
import shutil
import threading
import uuid
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

import nvr
from nvr.audit.entry import Actor
from nvr.audit.log import AuditLog
from nvr.camera_identity import CameraKind, manifest_camera
from nvr.clock import Clock
from nvr.clock_status import ClockStatus, clock_status
from nvr.crypto import Identity, Recipient, ScryptRecipient, encrypt_stream, parse_recipient
from nvr.db.models import AuditEntry
from nvr.errors import UserError
from nvr.playback import build_clip
from nvr.sharing import verify_bundle as verifier
from nvr.sharing.consent import ClipRef, ConsentStore, iso, public_raw
from nvr.sharing.release import VerifiedConsent, authorize_release
from nvr.sharing.requests import RequestLog, State
from nvr.storage.segments import SegmentStore

Progress = Callable[[int, int], None]

VERIFIER_SOURCE = Path(verifier.__file__)
FORMAT = "porchlight.bundle.v1"
VERIFY_TXT = """\
How to check this bundle
========================

This folder holds one video clip released by the owner of a Porchlight camera box, and
the evidence that it is what the owner consented to release, unchanged.

1. Install Python 3.11 or newer and the `cryptography` package (pip install cryptography).
2. In this folder run:   python3 verify_bundle.py
   (or, with Porchlight installed:  nvr verify-bundle <this folder>)
3. Every line must say PASS and the last line VERIFIED. A FAIL line names the file and
   what is wrong with it.
4. Compare the two key fingerprints it prints with the ones the owner gives you by
   another channel (phone, paper). If they differ, someone else made this bundle.

What is checked: the SHA-256 and SHA-512 of every file listed in manifest.json; the
owner's and the device's signatures over manifest.json (manifest.dsse.json, DSSE); the
owner's signed consent for exactly this camera and time range; and that the release is
recorded in the box's append-only audit log (audit-entry.json, audit.tlog-proof: a
Merkle inclusion proof against a checkpoint signed by the device).

Times in manifest.json are UTC, with the box's local time and zone beside them.
"""


class BundleError(UserError):
    pass


@dataclass(frozen=True)
class ExportContext:
    """What an export reaches on the box."""

    consents: ConsentStore
    store: SegmentStore
    audit: AuditLog
    clock: Clock
    device_key: Ed25519PrivateKey
    device_id: str
    record: Callable[[str, dict[str, Any], Actor], int]
    requests: RequestLog | None = None
    zone: tzinfo | None = None  # local time zone for the manifest (None: the system's)
    # What sort each camera is, for the manifest's "why" when it reported no identity
    # (None: "unknown"); the box's clock state (None: nvr.clock_status.clock_status).
    camera_kind: Callable[[str], CameraKind] | None = None
    clock_status: Callable[[], ClockStatus] | None = None


@dataclass(frozen=True)
class BundleResult:
    path: Path | None  # the folder written (None: made in memory)
    bundle_id: str
    consent: str
    release_seq: int
    clip_sha256: str
    redacted: bool


def _digests(data: bytes) -> dict[str, Any]:
    return {
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "sha512": hashlib.sha512(data).hexdigest(),
    }


def system_zone() -> tzinfo | None:
    """The box's IANA time zone ($TZ, else /etc/localtime's link, else /etc/timezone), or
    None when it cannot be named (then Python's fixed-offset local time is used)."""
    names = [os.environ.get("TZ", "").lstrip(":")]
    with contextlib.suppress(OSError):
        target = str(Path("/etc/localtime").readlink())
        if "zoneinfo/" in target:
            names.append(target.split("zoneinfo/", 1)[1])
    with contextlib.suppress(OSError):
        names.append(Path("/etc/timezone").read_text().strip())
    for name in names:
        if name:
            with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
                return ZoneInfo(name)
    return None


def _local(when: datetime, zone: tzinfo | None) -> dict[str, str]:
    """``when`` in local time: ISO time with its offset, the zone's abbreviation, its UTC
    offset, and its IANA name when known."""
    zone = zone if zone is not None else system_zone()
    local = when.astimezone(zone)
    offset = local.strftime("%z")
    out = {
        "time": local.isoformat(),
        "zone": local.tzname() or offset,
        "utc_offset": f"{offset[:3]}:{offset[3:]}" if offset else "+00:00",
    }
    key = getattr(zone, "key", None)
    if isinstance(key, str):
        out["zone_name"] = key
    return out


def pae(payload_type: str, payload: bytes) -> bytes:
    return verifier.pae(payload_type, payload)


def dsse_envelope(payload: bytes, keys: Sequence[Ed25519PrivateKey]) -> bytes:
    """A DSSE envelope over ``payload`` signed by each key (keyid: SHA-256 of the raw key)."""
    message = pae(verifier.PAYLOAD_TYPE, payload)
    envelope = {
        "payload": base64.b64encode(payload).decode(),
        "payloadType": verifier.PAYLOAD_TYPE,
        "signatures": [
            {
                "keyid": hashlib.sha256(public_raw(key.public_key())).hexdigest(),
                "sig": base64.b64encode(key.sign(message)).decode(),
            }
            for key in keys
        ],
    }
    return json.dumps(envelope, indent=2).encode() + b"\n"


def export_bundle(
    ctx: ExportContext,
    consent_id: str,
    clip: ClipRef,
    out: Path,
    actor: Actor,
    *,
    identities: Sequence[Identity],
    owner_key: Ed25519PrivateKey,
    fulfil: State | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> BundleResult:
    """Build the bundle folder ``out`` (``make_bundle``, then written: a temporary folder
    renamed into place)."""
    if out.exists():
        raise BundleError(f"{out} exists; give a new folder")
    bundle = make_bundle(
        ctx,
        consent_id,
        clip,
        actor,
        identities=identities,
        owner_key=owner_key,
        fulfil=fulfil,
        progress=progress,
        cancel=cancel,
    )
    tmp = out.with_name(f".{out.name}.partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True, mode=0o700)
    for name, content in bundle.files.items():
        (tmp / name).write_bytes(content)
    tmp.rename(out)
    return dataclasses.replace(bundle.result, path=out)


@dataclass(frozen=True)
class Bundle:
    files: dict[str, bytes]  # file name -> content
    result: BundleResult


def make_bundle(
    ctx: ExportContext,
    consent_id: str,
    clip: ClipRef,
    actor: Actor,
    *,
    identities: Sequence[Identity],
    owner_key: Ed25519PrivateKey,
    fulfil: State | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> Bundle:
    """The bundle's files, in memory; see the module docstring. ``identities`` open the
    segments; ``owner_key`` (the passphrase) signs the manifest. ``fulfil``: move the
    consent's request to fulfilled / partially fulfilled."""
    consent = authorize_release(
        ctx.consents, consent_id, clip, "export", actor, ctx.record, ctx.clock
    )
    if public_raw(owner_key.public_key()) != public_raw(ctx.consents.owner_key()):
        raise BundleError("the owner key given is not the pinned owner key")
    if fulfil is not None and fulfil not in (State.FULFILLED, State.PARTIALLY_FULFILLED):
        raise BundleError("a release can only move a request to fulfilled or partially fulfilled")
    built = build_clip(
        ctx.store,
        identities,
        consent.clip.camera,
        consent.clip.start,
        consent.clip.end,
        audio=consent.audio,
    )
    report: dict[str, Any] | None = None
    if consent.redacted:
        from nvr.redact import redact  # OpenCV: loaded only for a redacted export

        redacted = redact(
            built.data, consent.plan, start=built.start, progress=progress, cancel=cancel
        )
        data = redacted.data
        summary = redacted.report.as_record()
        report = {
            k: summary[k]
            for k in ("frames", "width", "height", "frames_with_faces", "frames_tracked_only")
        }
        report["audio"] = summary["audio"]
    else:
        data = built.data
    consent_seq = _consent_entry(ctx, consent.id)
    seq = _release_entry(ctx, consent, actor)
    ctx.audit.checkpoint()
    bundle_id = str(uuid.uuid4())
    files: dict[str, bytes] = {
        "clip.mp4": data,
        "public-keys.json": _keys_file(ctx, owner_key),
        "audit-entry.json": ctx.audit.entry(seq),
        "audit.tlog-proof": ctx.audit.inclusion_proof(seq).encode(),
        "audit-consent-entry.json": ctx.audit.entry(consent_seq),
        "audit-consent.tlog-proof": ctx.audit.inclusion_proof(consent_seq).encode(),
        "VERIFY.txt": VERIFY_TXT.encode(),
        "verify_bundle.py": VERIFIER_SOURCE.read_bytes(),
    }
    manifest = _manifest(ctx, consent, built, files, bundle_id, seq, owner_key, report)
    manifest["audit"]["consent_seq"] = consent_seq
    manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n"
    files["manifest.json"] = manifest_bytes
    files["manifest.dsse.json"] = dsse_envelope(manifest_bytes, [owner_key, ctx.device_key])
    if fulfil is not None and consent.request is not None and ctx.requests is not None:
        current = ctx.requests.get(consent.request).state
        if current is State.RECEIVED:
            ctx.requests.transition(consent.request, State.UNDER_REVIEW, "clip consented", actor)
        ctx.requests.transition(
            consent.request, fulfil, f"released under consent {consent.id}", actor
        )
    result = BundleResult(
        None, bundle_id, consent.id, seq, hashlib.sha256(data).hexdigest(), consent.redacted
    )
    return Bundle(files, result)


def _consent_entry(ctx: ExportContext, consent_id: str) -> int:
    """The ``seq`` of the consent's ``consent.grant`` entry (its proof goes in the bundle)."""
    with ctx.consents.sessions() as session:
        rows = session.execute(
            select(AuditEntry.seq, AuditEntry.entry_json)
            .where(AuditEntry.kind == "consent.grant")
            .where(AuditEntry.entry_json.contains(consent_id))
        ).all()
    for seq, text in rows:
        if json.loads(text)["payload"].get("consent") == consent_id:
            return int(seq)
    raise BundleError(f"the audit log has no consent.grant entry for consent {consent_id}")


def _release_entry(ctx: ExportContext, consent: VerifiedConsent, actor: Actor) -> int:
    """The one ``share.release`` entry, exactly as docs/design/requests.md defines it."""
    clip = consent.clip
    seconds = round((clip.end - clip.start).total_seconds())
    return ctx.record(
        "share.release",
        {
            "request": consent.request,
            "consent": consent.id,
            "camera": clip.camera,
            "start": iso(clip.start),
            "end": iso(clip.end),
            "seconds": seconds,
            "audio": consent.audio,
            "redacted": consent.redacted,
            "recipient": consent.recipient,
        },
        actor,
    )


def _keys_file(ctx: ExportContext, owner_key: Ed25519PrivateKey) -> bytes:
    def key(raw: bytes) -> dict[str, str]:
        return {
            "ed25519": base64.b64encode(raw).decode(),
            "sha256": hashlib.sha256(raw).hexdigest(),
        }

    doc = {
        "owner": key(public_raw(owner_key.public_key())),
        "device": key(public_raw(ctx.device_key.public_key())),
        "log": {"origin": ctx.audit.origin, "vkey": ctx.audit.verifier.vkey()},
    }
    return json.dumps(doc, indent=2, sort_keys=True).encode() + b"\n"


def _manifest(
    ctx: ExportContext,
    consent: VerifiedConsent,
    built: Any,
    files: dict[str, bytes],
    bundle_id: str,
    seq: int,
    owner_key: Ed25519PrivateKey,
    report: dict[str, Any] | None,
) -> dict[str, Any]:
    segments = {r.id: r for r in ctx.store.find(consent.clip.camera, built.start, built.end)}
    sources = []
    for segment_id in built.segments:
        record = segments.get(segment_id)
        sources.append(
            {
                "id": segment_id,
                "seq": record.seq if record else None,
                "start": iso(record.start) if record else None,
                "end": iso(record.end) if record and record.end else None,
                "ciphertext_sha256": record.sha256 if record else None,
            }
        )
    clip = consent.clip
    created = ctx.clock.wall()
    status = (ctx.clock_status or (lambda: clock_status(ctx.clock)))()
    return {
        "format": FORMAT,
        "bundle": bundle_id,
        "device": ctx.device_id,
        "created_at": iso(created),
        "created_at_local": _local(created, ctx.zone),
        "software": {"name": "porchlight", "version": nvr.__version__},
        "camera": manifest_camera(
            ctx.consents.sessions,
            clip.camera,
            built.start,
            ctx.camera_kind(clip.camera) if ctx.camera_kind else "unknown",
        ),
        "clip": {
            "consented": {
                "start": iso(clip.start),
                "end": iso(clip.end),
                "start_local": _local(clip.start, ctx.zone),
                "end_local": _local(clip.end, ctx.zone),
            },
            "start": iso(built.start),
            "end": iso(built.end),
            "start_local": _local(built.start, ctx.zone),
            "end_local": _local(built.end, ctx.zone),
            "frames": built.frames,
            "note": "the clip starts at the keyframe at or before the consented start",
        },
        "clock": status.as_record(),
        "request": consent.request,
        "consent": {"id": consent.id, "record": consent.record, "signature": consent.signature},
        "recipient": consent.recipient,
        "redactions": consent.plan.as_record(),
        "redacted": consent.redacted,
        "redaction_report": report,
        "audio": consent.audio and built.audio is not None,
        "files": {name: _digests(content) for name, content in sorted(files.items())},
        "source_segments": sources,
        "audit": {"release_seq": seq, "origin": ctx.audit.origin},
        "keys": {
            "owner": hashlib.sha256(public_raw(owner_key.public_key())).hexdigest(),
            "device": hashlib.sha256(public_raw(ctx.device_key.public_key())).hexdigest(),
        },
    }


def zip_bundle(folder: Path) -> bytes:
    """The bundle folder as a zip, the files under a top folder named like ``folder``."""
    return zip_files({p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}, folder.name)


def zip_files(files: dict[str, bytes], top: str) -> bytes:
    """Files as a zip under the folder ``top`` (stored, not compressed: MP4 does not shrink;
    a fixed date, so the same files make the same zip)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(f"{top}/{name}", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[name])
    return out.getvalue()


def encrypt_bundle(
    data: bytes, *, recipient: str | None = None, passphrase: bytes | None = None, log_n: int = 18
) -> bytes:
    """``data`` (a zip) as an age file to an ``age1`` key or a passphrase (exactly one)."""
    if (recipient is None) == (passphrase is None):
        raise BundleError("encrypt to a recipient key or a passphrase, not both or neither")
    target: Recipient
    if recipient is not None:
        target = parse_recipient(recipient)
    else:
        assert passphrase is not None
        target = ScryptRecipient(passphrase, log_n)
    out = io.BytesIO()
    with encrypt_stream(out, [target]) as writer:
        writer.write(data)
    return out.getvalue()
