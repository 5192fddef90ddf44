"""The age v1 file format (https://c2sp.org/age) on ``cryptography`` primitives.

Every segment, thumbnail and sealed record is a standard age file that the stock ``age``
CLI can decrypt. The whole public surface is re-exported here; see
docs/design/age-format.md for the format, the invariants and the recovery path.
"""

from __future__ import annotations

from .errors import (
    AgeError,
    ChunkAuthError,
    HeaderFormatError,
    HeaderMACError,
    KeyFormatError,
    NoIdentityMatchError,
    PayloadError,
    PayloadFormatError,
    TrailingDataError,
    TruncatedError,
    WorkFactorError,
)
from .keys import (
    Identity,
    Recipient,
    ScryptIdentity,
    ScryptRecipient,
    X25519Identity,
    X25519Recipient,
    parse_identity,
    parse_identity_file,
    parse_recipient,
)
from .reader import Reader, SalvageReport, decrypt, salvage
from .stream import CHUNK_SIZE, Writer, encrypt_stream

__all__ = [
    "CHUNK_SIZE",
    "AgeError",
    "ChunkAuthError",
    "HeaderFormatError",
    "HeaderMACError",
    "Identity",
    "KeyFormatError",
    "NoIdentityMatchError",
    "PayloadError",
    "PayloadFormatError",
    "Reader",
    "Recipient",
    "SalvageReport",
    "ScryptIdentity",
    "ScryptRecipient",
    "TrailingDataError",
    "TruncatedError",
    "WorkFactorError",
    "Writer",
    "X25519Identity",
    "X25519Recipient",
    "decrypt",
    "encrypt_stream",
    "parse_identity",
    "parse_identity_file",
    "parse_recipient",
    "salvage",
]
