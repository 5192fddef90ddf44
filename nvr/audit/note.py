"""C2SP signed notes (Ed25519) and tlog checkpoints.

Signed note (c2sp.org/signed-note): a UTF-8 text that ends in a newline, a blank line, then
one or more signature lines ``— <key name> <base64(key ID ‖ signature)>`` (U+2014 EM DASH).
The key ID is the first 4 bytes of ``SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)``, 0x01 being
the Ed25519 signature type; the Ed25519 signature covers the text bytes, final newline
included. A verifier key is written ``<name>+<8 hex digits of key ID>+<base64(0x01 ‖
public key)>``. Signatures by keys the verifier does not know are ignored; a signature by a
known key that does not verify is an error, and at least one known key must have signed.

Checkpoint (c2sp.org/tlog-checkpoint): the note text is the origin line, the tree size in
decimal, the base64 root hash, then zero or more non-empty extension lines.

Pure: values in, values or ``NoteError`` out.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from nvr.audit.merkle import HASH_SIZE

ALG_ED25519 = 0x01
SIG_PREFIX = "\u2014 "
KEY_ID_SIZE = 4
ED25519_SIG_SIZE = 64
# More signatures than this is not a note this log wrote; refuse rather than spend time.
MAX_SIGNATURES = 100
_DECIMAL_RE = re.compile(r"0|[1-9][0-9]{0,18}")


class NoteError(ValueError):
    """A note or checkpoint that is malformed, unsigned by a known key, or forged."""


def _check_key_name(name: str) -> None:
    if not name or "+" in name or any(ch.isspace() for ch in name):
        raise NoteError(f"key name {name!r} must be non-empty, without spaces or '+'")


def key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + raw).digest()[:KEY_ID_SIZE]


@dataclass(frozen=True)
class Verifier:
    """A named Ed25519 public key that checks note signatures."""

    name: str
    public_key: Ed25519PublicKey

    def __post_init__(self) -> None:
        _check_key_name(self.name)

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public_key)

    def vkey(self) -> str:
        """The verifier key string ``<name>+<hex key ID>+<base64(0x01 ‖ public key)>``."""
        raw = self.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        encoded = base64.b64encode(bytes([ALG_ED25519]) + raw).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"


@dataclass(frozen=True)
class Signer:
    """A named Ed25519 private key that signs notes."""

    name: str
    private_key: Ed25519PrivateKey

    def __post_init__(self) -> None:
        _check_key_name(self.name)

    def verifier(self) -> Verifier:
        return Verifier(self.name, self.private_key.public_key())


def parse_vkey(vkey: str) -> Verifier:
    """The ``Verifier`` a verifier key string describes; checks the key ID matches."""
    parts = vkey.split("+", 2)  # base64 may contain "+"; the name and ID cannot
    if len(parts) != 3:
        raise NoteError("verifier key must be <name>+<hex key ID>+<base64 key>")
    name, hex_id, b64 = parts
    _check_key_name(name)
    if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
        raise NoteError(f"verifier key ID {hex_id!r} is not 8 lower-case hex digits")
    raw = _b64(b64, "verifier key")
    if len(raw) != 33 or raw[0] != ALG_ED25519:
        raise NoteError("verifier key is not an Ed25519 key (type 0x01 and 32 bytes)")
    verifier = Verifier(name, Ed25519PublicKey.from_public_bytes(raw[1:]))
    if verifier.key_id.hex() != hex_id:
        raise NoteError(f"verifier key ID {hex_id} does not match the name and key")
    return verifier


def sign_note(text: str, signer: Signer) -> str:
    """``text`` (which must end in a newline) with one signature by ``signer``."""
    _check_text(text)
    signature = signer.private_key.sign(text.encode())
    encoded = base64.b64encode(signer.verifier().key_id + signature).decode()
    return f"{text}\n{SIG_PREFIX}{signer.name} {encoded}\n"


def open_note(note: str, verifiers: Sequence[Verifier]) -> str:
    """The text of ``note`` once a known key's signature on it verifies.

    Raises ``NoteError`` for a malformed note, a bad signature by a known key, or no
    signature by any key in ``verifiers``.
    """
    cut = note.rfind("\n\n")
    if cut < 0:
        raise NoteError("not a signed note: no blank line before the signatures")
    text, sig_block = note[: cut + 1], note[cut + 2 :]
    _check_text(text)
    if not sig_block.endswith("\n"):
        raise NoteError("signature block does not end in a newline")
    lines = sig_block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"more than {MAX_SIGNATURES} signatures")
    known = {(v.name, v.key_id): v for v in verifiers}
    verified = False
    for number, line in enumerate(lines, start=1):
        name, blob = _parse_signature_line(line, number)
        verifier = known.get((name, blob[:KEY_ID_SIZE]))
        if verifier is None:
            continue
        if len(blob) != KEY_ID_SIZE + ED25519_SIG_SIZE:
            raise NoteError(f"signature {number} by {name}: wrong length for Ed25519")
        try:
            verifier.public_key.verify(blob[KEY_ID_SIZE:], text.encode())
        except InvalidSignature:
            raise NoteError(f"signature {number} by {name} does not verify") from None
        verified = True
    if not verified:
        raise NoteError("no signature by a known key")
    return text


def _parse_signature_line(line: str, number: int) -> tuple[str, bytes]:
    if not line.startswith(SIG_PREFIX):
        raise NoteError(f"signature line {number} does not start with '\u2014 '")
    fields = line[len(SIG_PREFIX) :].split(" ")
    if len(fields) != 2:
        raise NoteError(f"signature line {number} is not '\u2014 <name> <base64>'")
    name, b64 = fields
    _check_key_name(name)
    blob = _b64(b64, f"signature line {number}")
    if len(blob) <= KEY_ID_SIZE:
        raise NoteError(f"signature line {number} is too short")
    return name, blob


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("note text must end in a newline")
    if any((ord(ch) < 0x20 and ch != "\n") or ord(ch) == 0x7F for ch in text):
        raise NoteError("note text contains a control character")
    try:
        text.encode()
    except UnicodeEncodeError:
        raise NoteError("note text is not valid Unicode") from None


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"{what}: invalid base64") from None


@dataclass(frozen=True)
class Checkpoint:
    """A signed tree head: which log (``origin``), how many leaves, and their root."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        """The note text: origin, size, base64 root, extension lines, each newline-ended."""
        if not self.origin or "\n" in self.origin:
            raise NoteError("checkpoint origin must be one non-empty line")
        if len(self.root_hash) != HASH_SIZE or self.size < 0:
            raise NoteError("checkpoint needs a size >= 0 and a 32-byte root hash")
        if any(not ext or "\n" in ext for ext in self.extensions):
            raise NoteError("checkpoint extension lines must be non-empty single lines")
        root = base64.b64encode(self.root_hash).decode()
        lines = (self.origin, str(self.size), root, *self.extensions)
        return "".join(f"{line}\n" for line in lines)


def parse_checkpoint(text: str) -> Checkpoint:
    """The ``Checkpoint`` a note text spells (signature already checked by the caller)."""
    if not text.endswith("\n"):
        raise NoteError("checkpoint does not end in a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise NoteError("checkpoint needs an origin, a tree size and a root hash")
    origin, size_text, root_text, *extensions = lines
    if not origin:
        raise NoteError("checkpoint origin is empty")
    if not _DECIMAL_RE.fullmatch(size_text):
        raise NoteError(f"checkpoint tree size {size_text!r} is not a decimal number")
    root = _b64(root_text, "checkpoint root hash")
    if len(root) != HASH_SIZE or base64.b64encode(root).decode() != root_text:
        raise NoteError("checkpoint root hash is not 32 bytes in standard base64")
    if any(not ext for ext in extensions):
        raise NoteError("checkpoint has an empty extension line")
    return Checkpoint(origin, int(size_text), root, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer) -> str:
    return sign_note(checkpoint.body(), signer)


def open_checkpoint(note: str, origin: str, verifiers: Sequence[Verifier]) -> Checkpoint:
    """Verify ``note``'s signature and parse it; its origin must be ``origin``."""
    checkpoint = parse_checkpoint(open_note(note, verifiers))
    if checkpoint.origin != origin:
        raise NoteError(f"checkpoint origin {checkpoint.origin!r} is not {origin!r}")
    return checkpoint
