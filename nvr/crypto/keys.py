"""Recipients wrap a file key into a stanza; identities unwrap it (age X25519 and scrypt).

X25519 (age spec): a fresh ephemeral key per file; the stanza is ``-> X25519 <share>``,
wrap key = HKDF-SHA-256(ikm = shared secret, salt = share || recipient public key,
info = "age-encryption.org/v1/X25519"), body = ChaCha20-Poly1305(wrap key, zero nonce,
file key). An all-zero shared secret (low-order share) is refused.

scrypt: ``-> scrypt <salt16> <logN>``, wrap key = scrypt(passphrase, salt =
"age-encryption.org/v1/scrypt" || salt, N = 2^logN, r = 8, p = 1); it must be the file's
only stanza (it is a password, not a public key, so it must not sit beside others).

``unwrap`` returns ``None`` when a stanza is simply not for this identity and raises
``AgeError`` only when the stanza is malformed or asks too much work.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from . import bech32
from .errors import HeaderFormatError, KeyFormatError, WorkFactorError
from .header import Stanza, b64decode, b64encode

Random = Callable[[int], bytes]
FILE_KEY_LEN = 16
_ZERO_NONCE = bytes(12)
_X25519_INFO = b"age-encryption.org/v1/X25519"
_SCRYPT_LABEL = b"age-encryption.org/v1/scrypt"
_RECIPIENT_HRP = "age"
_IDENTITY_HRP = "AGE-SECRET-KEY-"
_LOG_N = re.compile(rb"[1-9][0-9]{0,1}")
DEFAULT_LOG_N = 18
DEFAULT_MAX_LOG_N = 22


def _raw(key: X25519PrivateKey | X25519PublicKey) -> bytes:
    if isinstance(key, X25519PrivateKey):
        return key.private_bytes_raw()
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _open(key: bytes, body: bytes) -> bytes | None:
    try:
        return ChaCha20Poly1305(key).decrypt(_ZERO_NONCE, body, None)
    except InvalidTag:
        return None


def _x25519_wrap_key(shared: bytes, share: bytes, recipient: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=share + recipient, info=_X25519_INFO)
    return hkdf.derive(shared)


@dataclass(frozen=True)
class X25519Recipient:
    """A public key (``age1…``): anyone holding it can encrypt to its owner."""

    public_bytes: bytes

    def __str__(self) -> str:
        return bech32.encode(_RECIPIENT_HRP, self.public_bytes)

    def wrap(self, file_key: bytes, rand: Random = os.urandom) -> list[Stanza]:
        ephemeral = X25519PrivateKey.from_private_bytes(rand(32))
        share = _raw(ephemeral.public_key())
        shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(self.public_bytes))
        key = _x25519_wrap_key(shared, share, self.public_bytes)
        body = ChaCha20Poly1305(key).encrypt(_ZERO_NONCE, file_key, None)
        return [Stanza(b"X25519", (b64encode(share),), body)]


@dataclass(frozen=True)
class X25519Identity:
    """A private key (``AGE-SECRET-KEY-1…``). ``repr`` never shows it."""

    _key: X25519PrivateKey = field(repr=False)

    @classmethod
    def generate(cls) -> X25519Identity:
        return cls(X25519PrivateKey.generate())

    @classmethod
    def from_bytes(cls, secret: bytes) -> X25519Identity:
        return cls(X25519PrivateKey.from_private_bytes(secret))

    def to_string(self) -> str:
        return bech32.encode(_IDENTITY_HRP, _raw(self._key))

    def recipient(self) -> X25519Recipient:
        return X25519Recipient(_raw(self._key.public_key()))

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        ours = _raw(self._key.public_key())
        for stanza in stanzas:
            if stanza.type != b"X25519":
                continue
            if len(stanza.args) != 1:
                raise HeaderFormatError("bad-x25519-stanza", "X25519 stanza needs one argument")
            share = b64decode(stanza.args[0], "X25519 share")
            if len(share) != 32 or len(stanza.body) != FILE_KEY_LEN + 16:
                raise HeaderFormatError("bad-x25519-stanza", "X25519 share or body has bad size")
            try:
                shared = self._key.exchange(X25519PublicKey.from_public_bytes(share))
            except ValueError:
                raise HeaderFormatError(
                    "low-order-share", "X25519 share gives an all-zero shared secret"
                ) from None
            file_key = _open(_x25519_wrap_key(shared, share, ours), stanza.body)
            if file_key is not None:
                return file_key
        return None


def parse_recipient(text: str) -> X25519Recipient:
    """Parse an ``age1…`` recipient (lower case, as age prints it)."""
    hrp, data = bech32.decode(text)
    if hrp != _RECIPIENT_HRP:
        raise KeyFormatError("bad-hrp", f"not an age recipient: prefix {hrp!r}, want 'age1'")
    if len(data) != 32:
        raise KeyFormatError("bad-length", f"X25519 recipient has {len(data)} bytes, want 32")
    return X25519Recipient(data)


def parse_identity(text: str) -> X25519Identity:
    """Parse an ``AGE-SECRET-KEY-1…`` identity (upper case, as age prints it)."""
    hrp, data = bech32.decode(text)
    if hrp != _IDENTITY_HRP:
        raise KeyFormatError("bad-hrp", "not an age identity: want 'AGE-SECRET-KEY-1…'")
    if len(data) != 32:
        raise KeyFormatError("bad-length", f"X25519 identity has {len(data)} bytes, want 32")
    return X25519Identity.from_bytes(data)


def parse_identity_file(text: str) -> list[X25519Identity]:
    """Parse an identity file: one key per line; blank lines and ``#`` comments skipped."""
    lines = [line.strip() for line in text.splitlines()]
    found = [parse_identity(line) for line in lines if line and not line.startswith("#")]
    if not found:
        raise KeyFormatError("no-identities", "identity file holds no AGE-SECRET-KEY-1 line")
    return found


def _scrypt_key(passphrase: bytes, salt: bytes, log_n: int) -> bytes:
    kdf = Scrypt(salt=_SCRYPT_LABEL + salt, length=32, n=1 << log_n, r=8, p=1)
    return kdf.derive(passphrase)


@dataclass(frozen=True)
class ScryptRecipient:
    """Passphrase recipient; ``log_n`` is the work factor (production: calibrate, >= 15)."""

    passphrase: bytes = field(repr=False)
    log_n: int = DEFAULT_LOG_N

    def __post_init__(self) -> None:
        if not 1 <= self.log_n <= DEFAULT_MAX_LOG_N:  # never write what we would refuse
            raise ValueError(f"scrypt log_n must be in 1..{DEFAULT_MAX_LOG_N}, got {self.log_n}")

    def wrap(self, file_key: bytes, rand: Random = os.urandom) -> list[Stanza]:
        salt = rand(16)
        key = _scrypt_key(self.passphrase, salt, self.log_n)
        body = ChaCha20Poly1305(key).encrypt(_ZERO_NONCE, file_key, None)
        return [Stanza(b"scrypt", (b64encode(salt), str(self.log_n).encode()), body)]


@dataclass(frozen=True)
class ScryptIdentity:
    """Passphrase identity; refuses stanzas costing more than 2^``max_log_n``."""

    passphrase: bytes = field(repr=False)
    max_log_n: int = DEFAULT_MAX_LOG_N

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        for stanza in stanzas:
            if stanza.type != b"scrypt":
                continue
            if len(stanza.args) != 2 or not _LOG_N.fullmatch(stanza.args[1]):
                raise HeaderFormatError("bad-scrypt-stanza", "scrypt stanza: want salt and logN")
            salt = b64decode(stanza.args[0], "scrypt salt")
            if len(salt) != 16 or len(stanza.body) != FILE_KEY_LEN + 16:
                raise HeaderFormatError("bad-scrypt-stanza", "scrypt salt or body has bad size")
            log_n = int(stanza.args[1])
            if log_n > self.max_log_n:
                raise WorkFactorError(
                    "work-factor-too-large",
                    f"scrypt work factor 2^{log_n} is above the allowed 2^{self.max_log_n}",
                )
            return _open(_scrypt_key(self.passphrase, salt, log_n), stanza.body)
        return None


Recipient = X25519Recipient | ScryptRecipient
Identity = X25519Identity | ScryptIdentity
