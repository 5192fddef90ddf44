"""Decrypting age files: whole-file checks at open, then random access by chunk; salvage.

``decrypt`` parses the header, unwraps the file key, checks the header MAC, and then
authenticates the *last* chunk on disk as the final chunk. Because only the writer's last
chunk carries the final flag and every chunk is bound to its index, that one check proves
the file has exactly the chunks it should: truncation and trailing data are refused at
open, and any later chunk that was modified, reordered or spliced fails when it is read.
Each kind of failure has its own exception class (``nvr.crypto.errors``).

``salvage`` is for a file whose writer died: it walks the chunks in order and keeps every
one that authenticates, stops at the first that does not, and says why.

Both need a seekable file object positioned at the start of the age file.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from .errors import (
    ChunkAuthError,
    HeaderFormatError,
    NoIdentityMatchError,
    PayloadFormatError,
    TrailingDataError,
    TruncatedError,
)
from .header import MAX_HEADER, parse_header
from .keys import Identity
from .stream import (
    CHUNK_SIZE,
    NONCE_SIZE,
    SEALED_CHUNK_SIZE,
    TAG_SIZE,
    chunk_nonce,
    payload_cipher,
)


def _open_payload(
    fileobj: BinaryIO, identities: Sequence[Identity]
) -> tuple[ChaCha20Poly1305, int]:
    """Check the header; return the payload cipher and the file offset of chunk 0."""
    base = fileobj.tell()
    header = parse_header(fileobj.read(MAX_HEADER))
    if any(s.type == b"scrypt" for s in header.stanzas) and len(header.stanzas) != 1:
        raise HeaderFormatError("scrypt-not-alone", "an scrypt stanza must be the only stanza")
    for identity in identities:
        file_key = identity.unwrap(header.stanzas)
        if file_key is not None:
            break
    else:
        raise NoIdentityMatchError(
            "no-match", "no identity matches this file's recipients (wrong key or passphrase)"
        )
    header.verify(file_key)
    fileobj.seek(base + header.size)
    nonce = fileobj.read(NONCE_SIZE)
    if len(nonce) != NONCE_SIZE:
        raise TruncatedError("no-nonce", "file ends before the payload nonce")
    return payload_cipher(file_key, nonce), base + header.size + NONCE_SIZE


def _unseal(cipher: ChaCha20Poly1305, index: int, sealed: bytes, *, final: bool) -> bytes | None:
    try:
        return cipher.decrypt(chunk_nonce(index, final), sealed, None)
    except InvalidTag:
        return None


@dataclass(frozen=True)
class _Payload:
    """Where the sealed chunks are and how to open them."""

    file: BinaryIO
    cipher: ChaCha20Poly1305
    start: int
    chunk_count: int

    def sealed(self, index: int) -> bytes:
        self.file.seek(self.start + index * SEALED_CHUNK_SIZE)
        return self.file.read(SEALED_CHUNK_SIZE)

    def unseal(self, index: int, sealed: bytes, *, final: bool) -> bytes | None:
        return _unseal(self.cipher, index, sealed, final=final)


def _check_final(p: _Payload) -> bytes:
    """Authenticate the last chunk on disk as the final chunk, or name what is wrong."""
    last = p.chunk_count - 1
    sealed = p.sealed(last)
    plain = p.unseal(last, sealed, final=True)
    if plain is not None:
        if not plain and last > 0:
            raise PayloadFormatError("empty-final-chunk", "final chunk is empty")
        return plain
    if last > 0 and p.unseal(last - 1, p.sealed(last - 1), final=True) is not None:
        raise TrailingDataError("trailing-data", f"data follows the final chunk {last - 1}")
    if len(sealed) <= TAG_SIZE:
        raise TruncatedError(
            "torn-chunk", f"last chunk on disk is {len(sealed)} bytes: file cut mid-chunk"
        )
    if p.unseal(last, sealed, final=False) is not None:
        raise TruncatedError(
            "missing-final-chunk",
            f"file ends after chunk {last} without its final chunk (writer did not finish)",
        )
    raise ChunkAuthError(
        "bad-chunk",
        f"last chunk {last} failed to authenticate: modified, spliced, or cut mid-chunk",
        index=last,
    )


class Reader:
    """Plaintext view of an authenticated age file; build it with ``decrypt``.

    ``read``/``seek``/``tell`` work on plaintext offsets; ``read_chunk(i)`` returns chunk
    ``i`` (64 KiB each but the last). Does not close the underlying file object, and is
    not safe to share between threads (it moves the file position).
    """

    def __init__(self, payload: _Payload, final_chunk: bytes) -> None:
        self._p = payload
        self.chunk_count = payload.chunk_count
        self.size = (payload.chunk_count - 1) * CHUNK_SIZE + len(final_chunk)
        self._pos = 0
        self._cached = (payload.chunk_count - 1, final_chunk)

    def read_chunk(self, index: int) -> bytes:
        if not 0 <= index < self.chunk_count:
            raise IndexError(f"chunk {index} out of range 0..{self.chunk_count - 1}")
        if self._cached[0] == index:
            return self._cached[1]
        final = index == self.chunk_count - 1
        plain = self._p.unseal(index, self._p.sealed(index), final=final)
        if plain is None:
            raise ChunkAuthError(
                "bad-chunk",
                f"chunk {index} failed to authenticate: modified, reordered or spliced",
                index=index,
            )
        self._cached = (index, plain)
        return plain

    def read(self, size: int = -1) -> bytes:
        end = self.size if size < 0 else min(self.size, self._pos + size)
        parts: list[bytes] = []
        while self._pos < end:
            index, offset = divmod(self._pos, CHUNK_SIZE)
            chunk = self.read_chunk(index)
            take = min(len(chunk) - offset, end - self._pos)
            parts.append(chunk[offset : offset + take] if take < len(chunk) else chunk)
            self._pos += take
        return b"".join(parts)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def decrypt(fileobj: BinaryIO, identities: Sequence[Identity]) -> Reader:
    """Open an age file for reading; raises ``AgeError`` subclasses on any failure."""
    cipher, start = _open_payload(fileobj, identities)
    length = fileobj.seek(0, io.SEEK_END) - start
    if length <= 0:
        raise TruncatedError("no-chunks", "payload has no chunks: file cut after the header")
    payload = _Payload(fileobj, cipher, start, -(-length // SEALED_CHUNK_SIZE))
    return Reader(payload, _check_final(payload))


@dataclass(frozen=True)
class SalvageReport:
    """What ``salvage`` recovered. ``complete`` means the final chunk was there."""

    chunks: int
    size: int
    complete: bool
    stop_reason: str
    detail: str


def salvage(src: BinaryIO, identities: Sequence[Identity], dst: BinaryIO) -> SalvageReport:
    """Write every authenticated chunk of ``src``, in order, to ``dst``; report the stop.

    Stops at the first chunk that authenticates neither as a middle chunk nor as the
    final one; a partial last chunk (torn write) is dropped. Header problems still raise:
    without a valid header no chunk can be trusted. Memory use is one chunk.
    """
    cipher, start = _open_payload(src, identities)
    src.seek(start)
    index = written = 0

    def report(reason: str, detail: str, *, complete: bool = False) -> SalvageReport:
        return SalvageReport(index, written, complete, reason, detail)

    while True:
        sealed = src.read(SEALED_CHUNK_SIZE)
        if not sealed:
            return report("missing-final-chunk", f"file ends after {index} chunks, none final")
        plain = None
        if len(sealed) == SEALED_CHUNK_SIZE:
            plain = _unseal(cipher, index, sealed, final=False)
        if plain is None:
            plain = _unseal(cipher, index, sealed, final=True)
            if plain is None:
                if len(sealed) < SEALED_CHUNK_SIZE:
                    return report("torn-chunk", f"dropped partial chunk {index} ({len(sealed)} B)")
                return report("bad-chunk", f"chunk {index} failed to authenticate")
            if not plain and index > 0:
                return report("empty-final-chunk", "final chunk is empty", complete=True)
            dst.write(plain)
            index, written = index + 1, written + len(plain)
            if src.read(1):
                return report("trailing-data", "data follows the final chunk", complete=True)
            return report("complete", "file is complete", complete=True)
        dst.write(plain)
        index, written = index + 1, written + len(plain)
