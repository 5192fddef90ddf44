"""What a secret or a picture looks like when it leaks: the forms to grep for, and the
signatures of plaintext footage in files at rest (docs/design/security-tests.md).

Contract:

- ``secret_forms(secret, user=None)`` is every spelling of ``secret`` a careless log line
  or answer might carry: as is, percent-encoded (as in an RTSP URL's userinfo, both
  ``quote`` flavours), base64 of the secret and of ``user:secret`` (an HTTP Basic header)
  in standard and URL-safe alphabets, and JSON-escaped. ``find_secrets(text, secrets)``
  names each (secret label, form) found in ``text``.
- ``footage_signatures(data)`` names each plaintext picture or video structure found in
  ``data``: an MP4 ``ftyp`` box with a known brand, a ``moof`` box opening with ``mfhd``,
  an ``mdat`` or ``moov`` box whose size field fits in the file, an H.264 Annex-B start
  code followed by a sequence parameter set NAL of a real profile, an ``avcC`` record,
  a JPEG start of image followed by a JFIF/Exif APP segment or a quantisation table, a
  PNG signature, a ZIP local file header. Each pattern is long enough (six bytes or a
  checked size field) that ciphertext matches it by chance with negligible odds.
- ``read_tree(root)`` reads every regular file below ``root`` (tolerating files that
  vanish meanwhile: it is called while the service runs, to catch WAL and temporary
  files), ``scan_files(files)`` returns ``{relative path: [signature, ...]}`` for the
  files with any.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import struct
from pathlib import Path
from urllib.parse import quote, quote_plus


def secret_forms(secret: str, user: str | None = None) -> dict[str, str]:
    raw = secret.encode()
    forms = {
        "plain": secret,
        "percent-encoded": quote(secret, safe=""),
        "form-encoded": quote_plus(secret),
        "json-escaped": json.dumps(secret)[1:-1],
        "base64": base64.b64encode(raw).decode().rstrip("="),
        "base64url": base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }
    if user is not None:
        pair = f"{user}:{secret}".encode()
        forms["base64 user:password"] = base64.b64encode(pair).decode().rstrip("=")
        forms["base64url user:password"] = base64.urlsafe_b64encode(pair).decode().rstrip("=")
    return forms


def find_secrets(text: str, secrets: dict[str, dict[str, str]]) -> list[str]:
    """``secrets`` maps a label to ``secret_forms(...)``; returns "label (form)" per hit."""
    return [
        f"{label} ({form})"
        for label, forms in secrets.items()
        for form, value in forms.items()
        if value in text
    ]


# H.264 profile_idc values a real SPS carries (baseline, main, extended, high ...).
_PROFILES = b"\x42\x4d\x58\x64\x6e\x7a\xf4\x2c\x53\x56\x76\x80\x8a\x8b\x76"
_FIXED = {
    "mp4 ftyp box": re.compile(rb"ftyp(?:isom|iso[2-9]|mp4[12]|avc1|dash|msdh|msix|M4V |qt  )"),
    "mp4 moof box": re.compile(rb"moof[\x00-\xff]{4}mfhd"),
    "mp4 avcC record": re.compile(rb"avcC\x01[" + re.escape(_PROFILES) + rb"]"),
    "h264 SPS (Annex B)": re.compile(
        rb"\x00\x00\x01[\x27\x47\x67][" + re.escape(_PROFILES) + rb"]"
    ),
    "jpeg SOI + JFIF": re.compile(rb"\xff\xd8\xff\xe0[\x00-\xff]{2}JFIF\x00"),
    "jpeg SOI + Exif": re.compile(rb"\xff\xd8\xff\xe1[\x00-\xff]{2}Exif\x00"),
    "jpeg SOI + DQT": re.compile(rb"\xff\xd8\xff\xdb\x00[\x43\x84]"),
    "png signature": re.compile(rb"\x89PNG\r\n\x1a\n"),
    "zip local header": re.compile(rb"PK\x03\x04[\x0a\x14\x2d]\x00"),
}
_SIZED = {"mp4 mdat box": re.compile(rb"mdat"), "mp4 moov box": re.compile(rb"moov")}


def footage_signatures(data: bytes) -> list[str]:
    found = [name for name, pattern in _FIXED.items() if pattern.search(data)]
    for name, pattern in _SIZED.items():
        for match in pattern.finditer(data):
            at = match.start() - 4
            if at < 0:
                continue
            size = struct.unpack_from("!I", data, at)[0]
            # a real box: its size covers at least its header and fits in the file (a
            # size of 1 means a 64-bit size follows; 0 means "to the end of the file")
            if size in (0, 1) or 8 <= size <= len(data) - at:
                found.append(name)
                break
    return found


def read_tree(root: Path) -> dict[str, bytes]:
    """Every regular file below ``root`` (relative path -> bytes), read while a service
    may be writing there: a file that vanishes between listing and reading is skipped."""
    files: dict[str, bytes] = {}
    if not root.exists():
        return files
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        with contextlib.suppress(FileNotFoundError):
            files[str(path.relative_to(root))] = path.read_bytes()
    return files


def scan_files(files: dict[str, bytes]) -> dict[str, list[str]]:
    """``{path: [signature, ...]}`` for the files of ``read_tree`` holding any."""
    return {name: found for name, data in files.items() if (found := footage_signatures(data))}
