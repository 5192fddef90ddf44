"""One encrypted segment file written crash-safely (docs/design/storage.md, steps 1 to 11).

``SegmentFile.create(root, relpath, recipients, clock)`` opens ``<relpath>.partial`` with
O_EXCL and writes the age header; ``write(data)`` takes plaintext as it arrives, hands every
sealed 64 KiB chunk to the kernel at once and fsyncs at most every ``fsync_interval``;
``close()`` seals the final chunk, fsyncs, renames to the final name and fsyncs the folder.
The ciphertext is hashed as it is written (no second read) and the file key lives only in
the age writer, which is dropped at close.

``unsealed_age()`` / ``pad(filler)`` bound the loss at low bit rates: the owner of the
stream fills the rest of the current chunk with bytes that its format ignores (an MP4
``free`` box, running just past the chunk's end) when plaintext has waited too long, so
the chunk is sealed and written at once.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from nvr.clock import Clock
from nvr.crypto.keys import Recipient
from nvr.crypto.stream import CHUNK_SIZE, Writer, encrypt_stream
from nvr.storage.layout import PARTIAL


@dataclass(frozen=True)
class ClosedFile:
    relpath: PurePosixPath
    size: int
    sha256: str
    plaintext_size: int


class DiskFull(OSError):
    """The disk refused a write (ENOSPC/EDQUOT). Nothing is lost yet: the sealed bytes wait
    in RAM until ``SegmentFile.flush()`` succeeds after room was made."""


class _Sink:
    """What the age writer writes to: sealed ciphertext goes straight to the file, hashed
    as it goes. A write the disk refuses leaves the unwritten rest in a RAM buffer (the
    cipher state never has to be rolled back), flushed again once there is room; while
    anything waits there, later chunks queue behind it to keep the order."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.hash = hashlib.sha256()
        self.size = 0  # bytes on disk (all of them hashed)
        self.dirty = False
        self.buffer = bytearray()

    def write(self, data: bytes) -> int:
        if self.buffer:  # an earlier write is still waiting for room: keep the order
            self.buffer += data
            return len(data)
        view = memoryview(data)
        try:
            while view:
                n = os.write(self.fd, view)
                self.hash.update(view[:n])
                self.size += n
                self.dirty = True
                view = view[n:]
        except OSError as exc:
            # Keep what the disk refused; flush() retries it (DiskFull) once there is room.
            self.buffer += view
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
        return len(data)

    def flush(self) -> None:
        while self.buffer:
            try:
                n = os.write(self.fd, self.buffer)
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise DiskFull(exc.errno, exc.strerror) from exc
                raise
            self.hash.update(memoryview(self.buffer)[:n])
            del self.buffer[:n]
            self.size += n
            self.dirty = True


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SegmentFile:
    def __init__(
        self,
        root: Path,
        relpath: PurePosixPath,
        fd: int,
        sink: _Sink,
        writer: Writer,
        clock: Clock,
        fsync_interval: float,
    ) -> None:
        self.root = root
        self.relpath = relpath
        self._fd = fd
        self._sink = sink
        self._writer: Writer | None = writer
        self._clock = clock
        self._fsync_interval = fsync_interval
        self._last_fsync = clock.monotonic()
        self._plain = 0
        self._unsealed_since: float | None = None

    @classmethod
    def create(
        cls,
        root: Path,
        relpath: PurePosixPath,
        recipients: Sequence[Recipient],
        clock: Clock,
        *,
        fsync_interval: float = 1.0,
    ) -> SegmentFile:
        final = root / relpath
        final.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = final.with_name(final.name + PARTIAL)
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            sink = _Sink(fd)
            writer = encrypt_stream(sink, recipients)  # type: ignore[arg-type]
            sink.flush()
            os.fsync(fd)  # the header is on disk before the index row says "open"
            fsync_dir(partial.parent)
        except BaseException:
            os.close(fd)
            partial.unlink(missing_ok=True)
            raise
        return cls(root, relpath, fd, sink, writer, clock, fsync_interval)

    @property
    def partial_path(self) -> Path:
        final = self.root / self.relpath
        return final.with_name(final.name + PARTIAL)

    @property
    def plaintext_size(self) -> int:
        return self._plain

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._writer is None:
            raise ValueError("segment already closed")
        if not data:
            return
        before = self._writer.chunks_written
        self._writer.write(data)
        self._plain += len(data)
        now = self._clock.monotonic()
        if self._writer.chunks_written != before or self._unsealed_since is None:
            # Everything up to the last sealed chunk is out; what is left arrived now.
            self._unsealed_since = now if self._unsealed() else None
        self.flush()
        self._maybe_fsync(now)

    def flush(self) -> None:
        """Hand sealed bytes to the kernel; ``DiskFull`` keeps them for the next try."""
        self._sink.flush()

    @property
    def unflushed_bytes(self) -> int:
        return len(self._sink.buffer)

    def _unsealed(self) -> int:
        assert self._writer is not None
        return self._plain - self._writer.chunks_written * CHUNK_SIZE

    def unsealed_age(self) -> float:
        """Seconds the oldest plaintext byte not yet sealed has waited (0 if none)."""
        if self._unsealed_since is None or self._writer is None:
            return 0.0
        return self._clock.monotonic() - self._unsealed_since

    def pad(self, filler: Callable[[int], bytes], min_size: int = 8) -> int:
        """Fill the current chunk with ``filler(n)`` (exactly n bytes) so it is sealed now.

        An age chunk is sealed only once a byte past it arrives (the final chunk is marked
        differently), so the filler runs at least one byte into the next chunk: the padded
        chunk is sealed and handed to the kernel by this call, not by the next write.
        ``min_size`` is the smallest filler the stream's format can express (an MP4 box
        header is 8 bytes). The filler left in the next chunk is not counted as waiting
        plaintext (``unsealed_age()`` is 0 until real data follows), so filler never
        calls for more filler. Returns n (0 when nothing but filler is waiting).
        """
        unsealed = self._unsealed()
        if not unsealed or self._unsealed_since is None:
            return 0
        room = (CHUNK_SIZE - unsealed % CHUNK_SIZE) % CHUNK_SIZE
        n = max(room + 1, min_size)
        data = filler(n)
        if len(data) != n:
            raise ValueError(f"filler returned {len(data)} bytes, wanted {n}")
        self.write(data)
        self._unsealed_since = None  # what is left unsealed is filler
        return n

    def _maybe_fsync(self, now: float) -> None:
        if self._sink.dirty and now - self._last_fsync >= self._fsync_interval:
            os.fsync(self._fd)
            self._sink.dirty = False
            self._last_fsync = now

    def tick(self) -> None:
        """Fsync if the interval has passed (call from a timer when no data arrives)."""
        self._maybe_fsync(self._clock.monotonic())

    def close(self) -> ClosedFile:
        """Seal the final chunk, fsync, rename into place, fsync the folder.

        ``DiskFull`` from here leaves the file ``.partial`` with the final chunk sealed in
        RAM: make room and call ``close()`` again."""
        if self._fd < 0:
            raise ValueError("segment already closed")
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._sink.flush()
        partial = self.partial_path
        try:
            os.fsync(self._fd)
        finally:
            os.close(self._fd)
            self._fd = -1
        final = self.root / self.relpath
        partial.replace(final)
        fsync_dir(final.parent)
        return ClosedFile(self.relpath, self._sink.size, self._sink.hash.hexdigest(), self._plain)

    def abandon(self) -> None:
        """Stop without a final chunk (the file stays ``.partial``: truncated, salvageable).
        For a stream that must end now and cannot be closed properly."""
        self._writer = None
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                self._sink.flush()
            os.close(self._fd)
            self._fd = -1
