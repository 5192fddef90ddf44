"""Encrypting an age file incrementally, one 64 KiB chunk at a time.

Payload (age spec, STREAM construction): a 16-byte random nonce, then the plaintext cut
into 64 KiB chunks, each sealed with ChaCha20-Poly1305 under payload key =
HKDF-SHA-256(file key, salt = nonce, info = "payload") and chunk nonce = 11-byte
big-endian chunk counter || 0x01 on the final chunk, 0x00 otherwise.

The final chunk may be empty only when it is the only chunk. So a full chunk cannot be
sealed until the writer knows whether more data follows: ``Writer.write`` seals a chunk
as soon as one byte past it has arrived, and ``close`` seals what is left as final. A
plaintext of exactly k x 64 KiB therefore ends with a full final chunk, never an empty one.

Everything sealed has been handed to ``fileobj.write`` when ``write`` returns, so the
caller decides when to flush and fsync. The writer never closes or flushes ``fileobj``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from types import TracebackType
from typing import BinaryIO

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .header import encode_header
from .keys import FILE_KEY_LEN, Random, Recipient, ScryptRecipient

CHUNK_SIZE = 64 * 1024
TAG_SIZE = 16
SEALED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE
NONCE_SIZE = 16


def payload_cipher(file_key: bytes, nonce: bytes) -> ChaCha20Poly1305:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=nonce, info=b"payload")
    return ChaCha20Poly1305(hkdf.derive(file_key))


def chunk_nonce(index: int, final: bool) -> bytes:
    return index.to_bytes(11, "big") + (b"\x01" if final else b"\x00")


class Writer:
    """Seals chunks to ``fileobj``; build it with ``encrypt_stream``.

    Used as a context manager it seals the final chunk only on a clean exit: after an
    exception the file stays without a final chunk, i.e. visibly truncated (salvageable)
    rather than falsely complete.
    """

    def __init__(self, fileobj: BinaryIO, cipher: ChaCha20Poly1305) -> None:
        self._out = fileobj
        self._cipher: ChaCha20Poly1305 | None = cipher
        self._pending = bytearray()
        self._index = 0

    @property
    def chunks_written(self) -> int:
        """Chunks sealed and handed to ``fileobj`` so far."""
        return self._index

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._cipher is None:
            raise ValueError("write to a closed age writer")
        view = memoryview(data).cast("B")
        size = len(view)
        pos = 0
        if self._pending:
            pos = min(CHUNK_SIZE - len(self._pending), size)
            self._pending += view[:pos]
            if pos == size:
                return size
            self._seal(self._pending, final=False)
            self._pending.clear()
        while size - pos > CHUNK_SIZE:
            self._seal(view[pos : pos + CHUNK_SIZE], final=False)
            pos += CHUNK_SIZE
        self._pending += view[pos:]
        return size

    def close(self) -> None:
        """Seal the final chunk. Idempotent; does not close ``fileobj``."""
        if self._cipher is None:
            return
        self._seal(self._pending, final=True)
        self._pending.clear()
        self._cipher = None

    def _seal(self, chunk: bytearray | memoryview, *, final: bool) -> None:
        cipher = self._cipher
        if cipher is None:
            raise ValueError("write to a closed age writer")
        self._out.write(cipher.encrypt(chunk_nonce(self._index, final), chunk, None))
        self._index += 1

    def __enter__(self) -> Writer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._cipher = None


def encrypt_stream(
    fileobj: BinaryIO, recipients: Sequence[Recipient], *, _rand: Random = os.urandom
) -> Writer:
    """Write the header and payload nonce to ``fileobj`` now; return the chunk writer.

    ``_rand`` is a test hook for known-answer vectors; production never passes it.
    """
    if not recipients:
        raise ValueError("encrypt to at least one recipient")
    if any(isinstance(r, ScryptRecipient) for r in recipients) and len(recipients) != 1:
        raise ValueError("a passphrase (scrypt) recipient must be the only recipient")
    file_key = _rand(FILE_KEY_LEN)
    stanzas = [stanza for r in recipients for stanza in r.wrap(file_key, _rand)]
    nonce = _rand(NONCE_SIZE)
    fileobj.write(encode_header(stanzas, file_key) + nonce)
    return Writer(fileobj, payload_cipher(file_key, nonce))
