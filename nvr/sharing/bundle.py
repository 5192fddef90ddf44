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

Memory: ``make_bundle`` holds everything as bytes. ``stream_bundle`` (what the export job
and ``export_bundle`` use) writes the clip through ``write_clip`` into a sealed scratch
file (nvr.sharing.scratch: ciphertext under a key held only in memory), hashing it on the
way; ``zip_stream``, ``zip_folder`` and ``encrypt_chunks`` then package it a piece at a
time. ``estimate``/``check_budget`` say beforehand what an export will need
(docs/design/consent-and-export.md, "Memory").
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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, BinaryIO, cast
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
from nvr.playback.clip import Clip, write_clip
from nvr.sharing import verify_bundle as verifier
from nvr.sharing.consent import ClipRef, ConsentStore, iso, public_raw
from nvr.sharing.release import VerifiedConsent, authorize_release
from nvr.sharing.requests import RequestLog, State
from nvr.sharing.scratch import SealedFile
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
    """Build the bundle folder ``out`` (``stream_bundle``, then written: a temporary
    folder renamed into place; the clip copied from its sealed scratch file, which is made
    beside ``out``, a piece at a time)."""
    if out.exists():
        raise BundleError(f"{out} exists; give a new folder")
    bundle = stream_bundle(
        ctx,
        consent_id,
        clip,
        actor,
        scratch=out.parent,
        identities=identities,
        owner_key=owner_key,
        fulfil=fulfil,
        progress=progress,
        cancel=cancel,
    )
    with bundle:
        tmp = out.with_name(f".{out.name}.partial")
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True, mode=0o700)
        for name, _, chunks in bundle.entries():
            with (tmp / name).open("wb") as dest:
                for piece in chunks():
                    dest.write(piece)
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
    consent's request to fulfilled / partially fulfilled. Memory grows with the clip:
    exports of any length go through ``stream_bundle``."""
    files, _, result = _build(
        ctx, consent_id, clip, actor, identities, owner_key, fulfil, progress, cancel, None
    )
    return Bundle(files, result)


Chunks = Callable[[], Iterator[bytes]]


@dataclass
class StreamedBundle:
    """A bundle whose ``clip.mp4`` is in a sealed scratch file (``clip``); ``files`` has
    the others. ``close`` deletes the scratch file."""

    files: dict[str, bytes]
    clip: SealedFile
    result: BundleResult

    def entries(self) -> list[tuple[str, int, Chunks]]:
        """(name, size, chunks) of every file, for ``zip_stream``."""
        out = [(name, len(data), _once(data)) for name, data in self.files.items()]
        out.append(("clip.mp4", self.clip.size, self.clip.chunks))
        return out

    def close(self) -> None:
        self.clip.close()

    def __enter__(self) -> StreamedBundle:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _once(data: bytes) -> Chunks:
    return lambda: iter((data,))


def stream_bundle(
    ctx: ExportContext,
    consent_id: str,
    clip: ClipRef,
    actor: Actor,
    *,
    scratch: Path,
    identities: Sequence[Identity],
    owner_key: Ed25519PrivateKey,
    fulfil: State | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> StreamedBundle:
    """``make_bundle`` with the clip written to a ``SealedFile`` in ``scratch`` (ciphertext
    under a key held only in memory) and hashed as it is written, so memory does not grow
    with an unredacted clip (a redaction still holds the clip it redacts: ``estimate``).
    On any error (or cancel) the scratch files are deleted before it raises."""
    files, sealed, result = _build(
        ctx, consent_id, clip, actor, identities, owner_key, fulfil, progress, cancel, scratch
    )
    assert sealed is not None
    return StreamedBundle(files, sealed, result)


class TooLarge(BundleError):
    """The export would not fit the memory budget: split it into shorter clips."""


# What an export adds to the service's memory (nvr bench export measures it, peak RSS
# against the RSS at the start; docs/performance.md "Export"). Unredacted: demuxer and
# muxer state, zip and hash buffers, whatever the clip's length (measured: 1-10 MB for 1
# to 30 minutes), plus the clip's index (the timing of every frame and the moov), a small
# share of the footage (counted generously: 1/64).
STREAM_BASE = 64 * 2**20
INDEX_SHARE = 64
# Redacted: OpenCV, the face detector and an H.264 encoder at the clip's size (measured:
# about 350 MB over the bench's baseline for 1080p), and the redaction holds the clip it
# redacts, the clip it makes (about the same size) and a copy of that as it puts the moov
# first: three times the footage. Decoded frames are not kept (two passes, frame by frame).
REDACT_BASE = 384 * 2**20
REDACT_FACTOR = 3


def estimate(ctx: ExportContext, clip: ClipRef, redacted: bool) -> int:
    """Bytes of memory an export of ``clip`` is expected to add at its peak, from the
    sizes of the segments it reads (their ciphertext: within 0.1 % of the footage)."""
    footage = sum(r.size or 0 for r in ctx.store.find(clip.camera, clip.start, clip.end))
    if redacted:
        return REDACT_BASE + REDACT_FACTOR * footage
    return STREAM_BASE + footage // INDEX_SHARE


def check_budget(ctx: ExportContext, clip: ClipRef, budget: int, *, redacted: bool) -> int:
    """``estimate``, or ``TooLarge`` when it exceeds ``budget`` bytes."""
    need = estimate(ctx, clip, redacted)
    if need > budget:
        raise TooLarge(
            f"this export would need about {need // 2**20} MiB of memory and the export "
            f"budget (storage.export_memory_mib) is {budget // 2**20} MiB: split it into "
            "shorter clips"
        )
    return need


class _Hashing:
    """Writes through to a file while taking the size, SHA-256 and SHA-512."""

    def __init__(self, out: io.RawIOBase | None) -> None:
        self._out = out
        self._sha256 = hashlib.sha256()
        self._sha512 = hashlib.sha512()
        self.size = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._sha256.update(data)
        self._sha512.update(data)
        self.size += len(data)
        if self._out is not None:
            self._out.write(data)
        return len(data)

    def digests(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "sha256": self._sha256.hexdigest(),
            "sha512": self._sha512.hexdigest(),
        }


def _build(
    ctx: ExportContext,
    consent_id: str,
    clip: ClipRef,
    actor: Actor,
    identities: Sequence[Identity],
    owner_key: Ed25519PrivateKey,
    fulfil: State | None,
    progress: Progress | None,
    cancel: threading.Event | None,
    scratch: Path | None,
) -> tuple[dict[str, bytes], SealedFile | None, BundleResult]:
    """The bundle: the small files as bytes, and the clip among them (``scratch`` None)
    or in a sealed scratch file made in ``scratch``."""
    consent = authorize_release(
        ctx.consents, consent_id, clip, "export", actor, ctx.record, ctx.clock
    )
    if public_raw(owner_key.public_key()) != public_raw(ctx.consents.owner_key()):
        raise BundleError("the owner key given is not the pinned owner key")
    if fulfil is not None and fulfil not in (State.FULFILLED, State.PARTIALLY_FULFILLED):
        raise BundleError("a release can only move a request to fulfilled or partially fulfilled")
    sealed = None if scratch is None else SealedFile.create(scratch)
    try:
        hashed = _Hashing(sealed)
        built, data, report = _clip(ctx, consent, identities, progress, cancel, scratch, hashed)
        if sealed is not None:
            for at in range(0, len(data), 1 << 20):  # a redacted clip, made in memory
                hashed.write(data[at : at + (1 << 20)])
            data = b""
            sealed.flush()
        else:
            hashed.write(data)
        consent_seq = _consent_entry(ctx, consent.id)
        seq = _release_entry(ctx, consent, actor)
        ctx.audit.checkpoint()
        bundle_id = str(uuid.uuid4())
        files: dict[str, bytes] = {
            "public-keys.json": _keys_file(ctx, owner_key),
            "audit-entry.json": ctx.audit.entry(seq),
            "audit.tlog-proof": ctx.audit.inclusion_proof(seq).encode(),
            "audit-consent-entry.json": ctx.audit.entry(consent_seq),
            "audit-consent.tlog-proof": ctx.audit.inclusion_proof(consent_seq).encode(),
            "VERIFY.txt": VERIFY_TXT.encode(),
            "verify_bundle.py": VERIFIER_SOURCE.read_bytes(),
        }
        digests = {name: _digests(content) for name, content in files.items()}
        digests["clip.mp4"] = hashed.digests()
        if sealed is None:
            files = {"clip.mp4": data, **files}
        manifest = _manifest(ctx, consent, built, digests, bundle_id, seq, owner_key, report)
        manifest["audit"]["consent_seq"] = consent_seq
        manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n"
        files["manifest.json"] = manifest_bytes
        files["manifest.dsse.json"] = dsse_envelope(manifest_bytes, [owner_key, ctx.device_key])
        if fulfil is not None and consent.request is not None and ctx.requests is not None:
            current = ctx.requests.get(consent.request).state
            if current is State.RECEIVED:
                ctx.requests.transition(
                    consent.request, State.UNDER_REVIEW, "clip consented", actor
                )
            ctx.requests.transition(
                consent.request, fulfil, f"released under consent {consent.id}", actor
            )
    except BaseException:
        if sealed is not None:
            sealed.close()
        raise
    result = BundleResult(
        None, bundle_id, consent.id, seq, digests["clip.mp4"]["sha256"], consent.redacted
    )
    return files, sealed, result


def _clip(
    ctx: ExportContext,
    consent: VerifiedConsent,
    identities: Sequence[Identity],
    progress: Progress | None,
    cancel: threading.Event | None,
    scratch: Path | None,
    hashed: _Hashing,
) -> tuple[Clip, bytes, dict[str, Any] | None]:
    """(the clip's description, its bytes unless already written through ``hashed``,
    the redaction report)."""
    clip = consent.clip
    if scratch is not None and not consent.redacted:
        where = scratch
        built = write_clip(
            ctx.store,
            identities,
            clip.camera,
            clip.start,
            clip.end,
            cast(BinaryIO, hashed),
            scratch=lambda: SealedFile.create(where),
            audio=consent.audio,
        )
        return built, b"", None
    built = build_clip(
        ctx.store, identities, clip.camera, clip.start, clip.end, audio=consent.audio
    )
    if not consent.redacted:
        return built, built.data, None
    from nvr.redact import redact  # OpenCV: loaded only for a redacted export

    redacted = redact(built.data, consent.plan, start=built.start, progress=progress, cancel=cancel)
    summary = redacted.report.as_record()
    report = {
        k: summary[k]
        for k in ("frames", "width", "height", "frames_with_faces", "frames_tracked_only")
    }
    report["audio"] = summary["audio"]
    return dataclasses.replace(built, data=b""), redacted.data, report


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
    built: Clip,
    digests: dict[str, dict[str, Any]],
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
        "files": dict(sorted(digests.items())),
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


def zip_folder(folder: Path, out: BinaryIO) -> None:
    """``zip_bundle`` written to the seekable ``out`` one piece of a file at a time."""

    def chunks(path: Path) -> Chunks:
        def read() -> Iterator[bytes]:
            with path.open("rb") as src:
                while piece := src.read(1 << 20):
                    yield piece

        return read

    files = [p for p in folder.iterdir() if p.is_file()]
    zip_stream([(p.name, p.stat().st_size, chunks(p)) for p in files], folder.name, out)


def zip_files(files: dict[str, bytes], top: str) -> bytes:
    """Files as a zip under the folder ``top`` (stored, not compressed: MP4 does not shrink;
    a fixed date, so the same files make the same zip)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for name in sorted(files):
            archive.writestr(_zip_info(top, name), files[name])
    return out.getvalue()


def zip_stream(
    entries: Iterable[tuple[str, int, Chunks]], top: str, out: BinaryIO | io.RawIOBase
) -> None:
    """``zip_files`` for (name, size, chunks) entries, written to the seekable ``out`` as
    the chunks come (``zipfile`` goes back to put each file's CRC in its header): the same
    zip, byte for byte, without holding any file whole."""
    with zipfile.ZipFile(cast(BinaryIO, out), "w", zipfile.ZIP_STORED) as archive:
        for name, size, chunks in sorted(entries, key=lambda entry: entry[0]):
            info = _zip_info(top, name)
            info.file_size = size
            with archive.open(info, "w") as dest:
                for piece in chunks():
                    dest.write(piece)


def _zip_info(top: str, name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(f"{top}/{name}", date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = 0o644 << 16
    return info


def encrypt_bundle(
    data: bytes, *, recipient: str | None = None, passphrase: bytes | None = None, log_n: int = 18
) -> bytes:
    """``data`` (a zip) as an age file to an ``age1`` key or a passphrase (exactly one)."""
    out = io.BytesIO()
    encrypt_chunks(iter((data,)), out, recipient=recipient, passphrase=passphrase, log_n=log_n)
    return out.getvalue()


def encrypt_chunks(
    chunks: Iterable[bytes],
    out: BinaryIO,
    *,
    recipient: str | None = None,
    passphrase: bytes | None = None,
    log_n: int = 18,
) -> None:
    """``encrypt_bundle`` of the concatenated ``chunks``, written to ``out`` as they come."""
    if (recipient is None) == (passphrase is None):
        raise BundleError("encrypt to a recipient key or a passphrase, not both or neither")
    target: Recipient
    if recipient is not None:
        target = parse_recipient(recipient)
    else:
        assert passphrase is not None
        target = ScryptRecipient(passphrase, log_n)
    with encrypt_stream(out, [target]) as writer:
        for piece in chunks:
            writer.write(piece)
