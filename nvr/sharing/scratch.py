"""Sealed scratch files: disk space for an export's work that never holds plaintext.

``SealedFile.create(folder)`` makes a new file ``<folder>/.export-<random>.sealed`` (0600)
behind a seekable, readable, writable file object. Everything written is cut into 64 KiB
blocks, each sealed with ChaCha20-Poly1305 under a 256-bit key drawn from ``os.urandom``
for this one file; the key lives only in this object's memory and is never written
anywhere. On disk, block ``i`` is the slot ``[i * SLOT, (i + 1) * SLOT)`` holding a fresh
random 12-byte nonce, then the sealed block (ciphertext + 16-byte tag); the block index
is the associated data, so blocks cannot be swapped unnoticed. Rewriting a block (the
MP4 muxer seeks back to patch a box size, ``zipfile`` patches a local header) seals it
again under a new random nonce: at most a few hundred thousand blocks per key, so the
chance of a repeated nonce is far below 2^-60.

Why not the age STREAM writer (``nvr.crypto.stream``): STREAM is append-only (chunk nonce
= counter), and the muxers need to seek back and rewrite; resealing a chunk under the
same counter nonce would reuse a nonce. The files are not age files and are not meant to
be read by anything but the object that wrote them.

Memory: one plaintext block (64 KiB) is cached; ``write`` seals it when the position
leaves it. ``close`` (or ``discard``) unlinks the file and drops the key; a crash leaves a
file whose key died with the process, and ``sweep(folder)`` (the service calls it at start)
deletes such leftovers (a normal exit unlinks them: ``weakref.finalize``). One writer at a
time; readers share a file through ``pread``/``chunks``.
"""

from __future__ import annotations

import io
import logging
import os
import secrets
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

log = logging.getLogger(__name__)

BLOCK = 64 * 1024
NONCE = 12
TAG = 16
SLOT = NONCE + BLOCK + TAG
PREFIX = ".export-"
SUFFIX = ".sealed"


def sweep(folder: Path) -> int:
    """Delete sealed scratch files left in ``folder`` (by a crash: their keys are gone).
    Returns how many were removed. Call it before any job runs."""
    removed = 0
    if not folder.is_dir():
        return 0
    for path in folder.glob(f"{PREFIX}*{SUFFIX}"):
        try:
            path.unlink()
            removed += 1
        except FileNotFoundError:
            pass
    if removed:
        log.info("removed %d export scratch file(s) left by an earlier run", removed)
    return removed


def _unlink(path: Path) -> None:
    path.unlink(missing_ok=True)


class SealedFile(io.RawIOBase):
    """A seekable scratch file whose blocks are sealed under an in-memory key."""

    def __init__(self, path: Path, fd: int) -> None:
        super().__init__()
        self.path = path
        self._fd = fd
        self._cipher: ChaCha20Poly1305 | None = ChaCha20Poly1305(ChaCha20Poly1305.generate_key())
        self._size = 0  # logical plaintext size
        self._pos = 0
        self._block = -1  # index of the cached block
        self._data = bytearray()
        self._dirty = False
        self._lock = threading.Lock()
        # Unlinked when the object is collected or the interpreter exits, whichever first.
        self._finalizer = weakref.finalize(self, _unlink, path)

    @classmethod
    def create(cls, folder: Path) -> SealedFile:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        path = folder / f"{PREFIX}{secrets.token_hex(12)}{SUFFIX}"
        return cls(path, os.open(path, flags, 0o600))

    # -- io.RawIOBase -----------------------------------------------------------------------
    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    @property
    def size(self) -> int:
        return self._size

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(data).cast("B")
        if self._pos > self._size:  # the hole between the end and here reads as zeros
            at, self._pos = self._pos, self._size
            while self._pos < at:
                self.write(bytes(min(BLOCK, at - self._pos)))
        done = 0
        while done < len(view):
            index, at = divmod(self._pos, BLOCK)
            self._load(index)
            take = min(BLOCK - at, len(view) - done)
            self._data[at : at + take] = view[done : done + take]
            self._dirty = True
            done += take
            self._pos += take
            self._size = max(self._size, self._pos)
        return done

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        out = memoryview(buffer).cast("B")
        done = 0
        while done < len(out) and self._pos < self._size:
            index, at = divmod(self._pos, BLOCK)
            self._load(index)
            block_end = min(BLOCK, self._size - index * BLOCK)
            take = min(block_end - at, len(out) - done)
            out[done : done + take] = self._data[at : at + take]
            done += take
            self._pos += take
        return done

    def flush(self) -> None:
        self._store()

    def close(self) -> None:
        """Unlink the file and forget the key (idempotent)."""
        with self._lock:
            self._discard()
        super().close()

    def _discard(self) -> None:
        if self._cipher is not None:
            self._cipher = None
            self._data, self._dirty, self._block = bytearray(), False, -1
            os.close(self._fd)
            self._finalizer()

    discard = close

    # -- chunks for readers ------------------------------------------------------------------
    def pread(self, offset: int, size: int) -> bytes:
        """Up to ``size`` bytes at ``offset``, whatever the position (which it keeps):
        several readers (downloads) can share one file."""
        with self._lock:
            here = self._pos
            try:
                self._pos = offset
                return self.read(size) or b""
            finally:
                self._pos = here

    def chunks(self, size: int = 1024 * 1024) -> Iterator[bytes]:
        """The whole plaintext from the start, ``size`` bytes at a time (``pread``)."""
        offset = 0
        while chunk := self.pread(offset, size):
            yield chunk
            offset += len(chunk)

    # -- blocks ------------------------------------------------------------------------------
    def _seal(self) -> ChaCha20Poly1305:
        if self._cipher is None:
            raise ValueError("I/O on a discarded scratch file")
        return self._cipher

    def _load(self, index: int) -> None:
        self._seal()  # refuses I/O once discarded
        if index == self._block:
            return
        self._store()
        stored = os.pread(self._fd, SLOT, index * SLOT)
        if stored:
            self._data = bytearray(
                self._seal().decrypt(stored[:NONCE], stored[NONCE:], index.to_bytes(8, "big"))
            )
        else:
            self._data = bytearray()
        self._block, self._dirty = index, False

    def _store(self) -> None:
        if not self._dirty:
            return
        nonce = os.urandom(NONCE)
        sealed = self._seal().encrypt(nonce, bytes(self._data), self._block.to_bytes(8, "big"))
        os.pwrite(self._fd, nonce + sealed, self._block * SLOT)
        self._dirty = False
