#!/usr/bin/env python3
"""Check a Porchlight export bundle. Needs only Python 3.11+ and the `cryptography` package.

Usage:  python3 verify_bundle.py [BUNDLE]   (a bundle folder or .zip; default: this folder)

It checks, and prints PASS or FAIL for each:
  1. every file the manifest lists is there, with its size, SHA-256 and SHA-512;
  2. manifest.dsse.json is a DSSE envelope over exactly manifest.json, signed by the owner
     key AND the device key in public-keys.json (their fingerprints are printed: compare
     them with the ones the owner gave you by another channel);
  3. the owner's consent record in the manifest is signed by the owner key and covers
     exactly this clip (camera, start, end);
  4. audit-consent-entry.json and audit-entry.json are the box's log entries for this
     consent (consent.grant, the same signed record) and this release (share.release),
     and audit-consent.tlog-proof / audit.tlog-proof prove they are in the box's
     append-only log, against a checkpoint signed by the device key.
Exit status 0 when everything passed, 1 otherwise.

This file is copied unchanged into every bundle; `nvr verify-bundle` runs this same code.
It must never import Porchlight (the recipient does not have it).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import sys
import zipfile
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

PAYLOAD_TYPE = "application/vnd.porchlight.manifest+json"
CONSENT_CONTEXT = b"porchlight consent v1\n"
PROOF_HEADER = "c2sp.org/tlog-proof@v1"
REQUIRED = (
    "manifest.json",
    "manifest.dsse.json",
    "public-keys.json",
    "audit-entry.json",
    "audit.tlog-proof",
)


class Failed(Exception):
    pass


def _b64(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise Failed(f"{what} is not base64 text")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Failed(f"{what} is not valid base64") from None


def fingerprint(raw: bytes) -> str:
    """SHA-256 of the raw 32-byte Ed25519 public key, hex, in groups of four."""
    digest = hashlib.sha256(raw).hexdigest()
    return " ".join(digest[i : i + 4] for i in range(0, len(digest), 4))


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(leaf: bytes, index: int, size: int, path: list[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def open_checkpoint(note: str, origin: str, key: Ed25519PublicKey, raw: bytes) -> tuple[int, bytes]:
    """(tree size, root hash) of a C2SP checkpoint signed by ``key`` under name ``origin``."""
    cut = note.rfind("\n\n")
    if cut < 0:
        raise Failed("the checkpoint is not a signed note")
    text, block = note[: cut + 1], note[cut + 2 :]
    key_id = hashlib.sha256(origin.encode() + b"\n\x01" + raw).digest()[:4]
    signed = False
    for line in block.rstrip("\n").split("\n"):
        if not line.startswith("\u2014 "):
            raise Failed("the checkpoint has a malformed signature line")
        fields = line[2:].split(" ")
        if len(fields) != 2:
            raise Failed("the checkpoint has a malformed signature line")
        blob = _b64(fields[1], "a checkpoint signature")
        if fields[0] != origin or blob[:4] != key_id:
            continue
        try:
            key.verify(blob[4:], text.encode())
        except InvalidSignature:
            raise Failed("the checkpoint signature does not verify under the device key") from None
        signed = True
    if not signed:
        raise Failed("the checkpoint is not signed by the device key")
    lines = text[:-1].split("\n")
    if len(lines) < 3 or lines[0] != origin or not lines[1].isdigit():
        raise Failed(f"the checkpoint is not a checkpoint of log {origin!r}")
    root = _b64(lines[2], "the checkpoint root")
    if len(root) != 32:
        raise Failed("the checkpoint root is not 32 bytes")
    return int(lines[1]), root


def read_bundle(path: Path) -> dict[str, bytes]:
    """Every file of the bundle (a folder or a zip), by name."""
    files: dict[str, bytes] = {}
    if path.is_dir():
        for item in sorted(path.iterdir()):
            if item.is_file():
                files[item.name] = item.read_bytes()
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.is_dir():
                    files[Path(info.filename).name] = archive.read(info)
    else:
        raise Failed(f"{path} is neither a bundle folder nor a zip")
    return files


class Report:
    def __init__(self, out: Any) -> None:
        self.out = out
        self.failures: list[str] = []

    def passed(self, what: str) -> None:
        print(f"PASS  {what}", file=self.out)

    def failed(self, what: str, why: str) -> None:
        self.failures.append(f"{what}: {why}")
        print(f"FAIL  {what}: {why}", file=self.out)

    def info(self, text: str) -> None:
        print(f"      {text}", file=self.out)


def _json(files: dict[str, bytes], name: str) -> Any:
    try:
        return json.loads(files[name])
    except (ValueError, UnicodeDecodeError):
        raise Failed(f"{name} is not JSON") from None


def _key(keys: Any, who: str) -> tuple[Ed25519PublicKey, bytes]:
    try:
        raw = _b64(keys[who]["ed25519"], f"the {who} key")
    except (KeyError, TypeError):
        raise Failed(f"public-keys.json has no {who} key") from None
    if len(raw) != 32:
        raise Failed(f"the {who} key is not an Ed25519 public key")
    return Ed25519PublicKey.from_public_bytes(raw), raw


def _check_entry(
    files: dict[str, bytes],
    entry_name: str,
    proof_name: str,
    kind: str,
    consent_id: object,
    seq: object,
    expect: dict[str, Any],
    log: tuple[str, Ed25519PublicKey, bytes],
) -> tuple[int, int]:
    """Check that ``entry_name`` is the ``kind`` entry for this consent, numbered ``seq``,
    and that ``proof_name`` proves it is in the log; returns (index, checkpoint size)."""
    if entry_name not in files or proof_name not in files:
        raise Failed(f"missing {entry_name} or {proof_name}")
    entry_bytes = files[entry_name]
    entry = json.loads(entry_bytes)
    payload = entry["payload"]
    if entry["kind"] != kind:
        raise Failed(f"{entry_name} is a {entry['kind']}, not a {kind}")
    if payload["consent"] != consent_id:
        raise Failed(f"{entry_name} is for another consent")
    if any(payload.get(k) != v for k, v in expect.items()):
        raise Failed(f"{entry_name} does not log the consent manifest.json holds")
    if entry["seq"] != seq:
        raise Failed(f"{entry_name}: its number is not the one manifest.json names")
    text = files[proof_name].decode()
    head, sep, note = text.partition("\n\n")
    lines = head.split("\n")
    if not sep or lines[0] != PROOF_HEADER:
        raise Failed("not a c2sp.org/tlog-proof@v1")
    rest = lines[1:]
    if rest and rest[0].startswith("extra "):
        rest.pop(0)
    if not rest or not rest[0].startswith("index ") or not rest[0][6:].isdigit():
        raise Failed("no index line")
    index = int(rest.pop(0)[6:])
    path = [_b64(line, "a proof hash") for line in rest]
    size, root = open_checkpoint(note, *log)
    if index != entry["seq"]:
        raise Failed(f"the proof is for entry {index}, not {entry['seq']}")
    if not verify_inclusion(leaf_hash(entry_bytes), index, size, path, root):
        raise Failed("the inclusion proof does not match the checkpoint")
    return index, size


def check(path: Path, out: Any = None) -> list[str]:
    """Run every check on the bundle at ``path``; print what passed and failed (to ``out``,
    default stdout); return the failures (empty: the bundle verified)."""
    out = sys.stdout if out is None else out
    report = Report(out)
    try:
        files = read_bundle(path)
    except (Failed, OSError, zipfile.BadZipFile) as exc:
        report.failed("read the bundle", str(exc))
        return report.failures
    missing = [name for name in REQUIRED if name not in files]
    if missing:
        report.failed("bundle files", f"missing {', '.join(missing)}")
        return report.failures

    # Keys, shown so the recipient can compare them with what the owner told them.
    try:
        keys = _json(files, "public-keys.json")
        owner, owner_raw = _key(keys, "owner")
        device, device_raw = _key(keys, "device")
        origin = keys["log"]["origin"]
        if not isinstance(origin, str):
            raise Failed("public-keys.json has no log origin")
    except (Failed, KeyError, TypeError) as exc:
        report.failed("public-keys.json", str(exc))
        return report.failures
    report.info(f"owner key fingerprint:  {fingerprint(owner_raw)}")
    report.info(f"device key fingerprint: {fingerprint(device_raw)}")

    # 2. The signatures over the manifest.
    manifest_bytes = files["manifest.json"]
    try:
        envelope = _json(files, "manifest.dsse.json")
        if envelope.get("payloadType") != PAYLOAD_TYPE:
            raise Failed(f"payloadType is not {PAYLOAD_TYPE}")
        payload = _b64(envelope.get("payload"), "the envelope payload")
        if payload != manifest_bytes:
            raise Failed("the signed payload is not manifest.json (manifest.json was changed)")
        message = pae(PAYLOAD_TYPE, payload)
        by_id = {s.get("keyid"): s.get("sig") for s in envelope.get("signatures", [])}
        for who, key, raw in (("owner", owner, owner_raw), ("device", device, device_raw)):
            sig = by_id.get(hashlib.sha256(raw).hexdigest())
            if sig is None:
                raise Failed(f"no {who} signature")
            try:
                key.verify(_b64(sig, f"the {who} signature"), message)
            except InvalidSignature:
                raise Failed(f"the {who} signature does not verify") from None
        report.passed("manifest.dsse.json: owner and device signatures over manifest.json")
    except (Failed, AttributeError, TypeError) as exc:
        report.failed("manifest.dsse.json", str(exc))
    try:
        manifest = json.loads(manifest_bytes)
        if not isinstance(manifest, dict):
            raise ValueError
    except (ValueError, UnicodeDecodeError):
        report.failed("manifest.json", "not a JSON object")
        return report.failures
    fingerprints = manifest.get("keys", {})
    if fingerprints != {
        "owner": hashlib.sha256(owner_raw).hexdigest(),
        "device": hashlib.sha256(device_raw).hexdigest(),
    }:
        report.failed("public-keys.json", "its keys are not the ones manifest.json names")

    # 1. Every listed file, byte for byte.
    listed = manifest.get("files")
    if not isinstance(listed, dict) or "clip.mp4" not in listed:
        report.failed("manifest.json", "no file list with clip.mp4")
        listed = {}
    for name, want in sorted(listed.items()):
        data = files.get(name)
        if data is None:
            report.failed(name, "missing")
            continue
        try:
            ok = (
                len(data) == want["size"]
                and hashlib.sha256(data).hexdigest() == want["sha256"]
                and hashlib.sha512(data).hexdigest() == want["sha512"]
            )
        except (KeyError, TypeError):
            report.failed(name, "manifest.json lists it without size and hashes")
            continue
        if ok:
            report.passed(f"{name}: size, SHA-256 and SHA-512 match the manifest")
        else:
            report.failed(name, "size or hashes differ from manifest.json (the file was changed)")

    # 3. The consent.
    clip = manifest.get("clip", {})
    try:
        consent = manifest["consent"]
        record = consent["record"]
        try:
            owner.verify(
                _b64(consent["signature"], "the consent signature"),
                CONSENT_CONTEXT + record.encode(),
            )
        except InvalidSignature:
            raise Failed("the consent signature does not verify under the owner key") from None
        body = json.loads(record)
        if body["id"] != consent["id"]:
            raise Failed("the consent record is for another consent id")
        covered = (body["camera"], body["start"], body["end"])
        wanted = (manifest["camera"]["name"], clip["consented"]["start"], clip["consented"]["end"])
        if covered != wanted:
            raise Failed(f"the consent covers {covered}, the bundle holds {wanted}")
        if body["owner_key"] != base64.b64encode(owner_raw).decode():
            raise Failed("the consent names another owner key")
        report.passed(
            f"consent {consent['id']}: signed by the owner for {body['camera']} "
            f"{body['start']} .. {body['end']}, to {body['recipient']['name']}"
        )
    except (Failed, KeyError, TypeError, ValueError, AttributeError) as exc:
        report.failed("consent", str(exc) or "malformed")

    # 4. The consent and the release are in the box's log.
    consent_ = manifest.get("consent", {})
    audit = manifest.get("audit", {})
    for entry_name, proof_name, kind, seq_key, expect in (
        (
            "audit-consent-entry.json",
            "audit-consent.tlog-proof",
            "consent.grant",
            "consent_seq",
            {"record": consent_.get("record"), "signature": consent_.get("signature")},
        ),
        ("audit-entry.json", "audit.tlog-proof", "share.release", "release_seq", {}),
    ):
        try:
            index, size = _check_entry(
                files,
                entry_name,
                proof_name,
                kind,
                consent_.get("id"),
                audit.get(seq_key),
                expect,
                (origin, device, device_raw),
            )
            what = "consent" if kind == "consent.grant" else "release"
            report.passed(
                f"audit: {what} entry {index} is in the log {origin} "
                f"(checkpoint of {size} entries, signed by the device)"
            )
        except (Failed, KeyError, TypeError, ValueError, AttributeError) as exc:
            report.failed(proof_name, str(exc) or "malformed")
    if report.failures:
        print(f"\nNOT VERIFIED: {len(report.failures)} check(s) failed.", file=out)
    else:
        print("\nVERIFIED: every check passed.", file=out)
    return report.failures


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent
    return 1 if check(path) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
