"""``nvr bench storage``: what encryption at rest costs, against the raw cipher.

One run makes one random plaintext and pushes the same bytes through seven stages, each
repetition in turn (so a noisy neighbour slows all of them alike), and reports the median:

- ``raw``: ChaCha20-Poly1305 (``cryptography``'s AEAD) over 64 KiB chunks, no I/O: the
  ceiling.
- ``raw_write``: the same cipher over the same 64 KiB chunks, each ciphertext handed to
  ``os.write`` at once, one file per segment in the same folder as the store's (so on the
  same filesystem), fsync once per ``fsync_interval`` on the system clock and once before
  close: what a hand-rolled encrypt-and-write recorder would do. No hash, no header, no
  index, no rename: the baseline with the I/O any recorder must do.
- ``age``: ``nvr.crypto.encrypt_stream`` to a sink that drops the bytes, fed packet by
  packet and cut into segments as the store cuts them: the age format's own overhead
  (chunking, one X25519 wrap and header per segment).
- ``store``: the real write path, ``SegmentStore`` over a migrated SQLite index with the
  system clock: per segment open (O_EXCL, header, fsync, index row), every packet written
  (seal, ``write()``, fsync at most once per ``fsync_interval``), close (final chunk,
  fsync, rename, fsync folder, index row). Encrypt + write + fsync.
- ``read``: every segment read back through ``SegmentStore.open_plaintext`` (authenticated
  decryption) in 64 KiB reads. The files are first dropped from the page cache
  (``posix_fadvise``), so this reads the disk as playback of older footage would; the
  bytes are checked against the plaintext once, outside the timing.
- ``paced``: ``store`` again, on a ``StreamClock`` that moves by each packet's duration at
  4 Mbit/s. ``store`` runs hundreds of times faster than a camera, so on the system clock
  it fsyncs once per hundreds of MB; recording one stream fsyncs once per 500 kB. This
  stage pays that price, so its CPU per stream-hour is what recording costs (and its MB/s
  over 0.5 is about how many such streams one writer thread could keep up with).
- ``raw_write_paced``: ``raw_write`` on a ``StreamClock`` (advanced by each chunk's
  plaintext), so it fsyncs at the cadence ``paced`` does: the baseline for that row.

Each stage's figures: MB/s (wall), CPU seconds per GB, CPU seconds per hour of one
4 Mbit/s stream (1.8 GB) and the share of one core that is. ``store_vs_raw`` is store MB/s
over raw MB/s (the issue's target ``TARGET`` is on this one), ``store_vs_raw_write`` store
over ``raw_write``, ``paced_vs_raw_write_paced`` the same for the paced pair. ``unlock``
times ``KeyStore.unlock`` (scrypt unwrap of the owner identity, then the signing key) at
the work factor ``nvr keys init`` would calibrate on this machine, or at ``log_n`` if given
(tests pass a tiny one).

Everything happens in a fresh folder inside ``directory`` (put it on the data dir's
filesystem), removed at the end.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO, cast

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from nvr.clock import Clock, SystemClock
from nvr.crypto import CHUNK_SIZE, X25519Identity, X25519Recipient, encrypt_stream
from nvr.db import default_sqlite_url, make_engine, session_factory, upgrade
from nvr.keys.passphrase import calibrate_log_n, wipe
from nvr.keys.store import KeyStore
from nvr.storage.segments import SegmentRecord, SegmentStore

STREAM_BITS_PER_SECOND = 4_000_000
STREAM_BYTES_PER_HOUR = STREAM_BITS_PER_SECOND // 8 * 3600  # 1.8 GB
SEGMENT_SECONDS = 60
SEGMENT_BYTES = STREAM_BITS_PER_SECOND // 8 * SEGMENT_SECONDS  # 30 MB
PACKET_BYTES = 50_000  # one frame of a 4 Mbit/s stream at 10 frames per second
DEFAULT_SIZE = 256 * 1024 * 1024
TARGET = 0.8
LABELS = {  # in the order of the result's stages
    "raw": "raw ChaCha20-Poly1305 (64 KiB chunks, no I/O)",
    "raw_write": "raw ChaCha20-Poly1305 + os.write, a file per segment, fsync at close",
    "age": "age stream encryption (in memory)",
    "store": "segment store write (encrypt + write + fsync + index)",
    "read": "segment store read back (decrypt)",
    "raw_write_paced": "raw ChaCha20-Poly1305 + os.write, fsync as for one 4 Mbit/s stream",
    "paced": "segment store write, fsync as often as for one 4 Mbit/s stream",
}
TAG_BYTES = 16  # Poly1305 tag added to each chunk
READ_BLOCK = CHUNK_SIZE  # what a player or an export streams; larger reads add a copy
CAMERA = "bench"
MB = 1_000_000
GB = 1_000_000_000

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Stage:
    """One stage's figures; the medians over the repetitions (``*_runs`` keep them all)."""

    name: str
    label: str
    plaintext_bytes: int
    wall_seconds: float
    cpu_seconds: float
    mb_per_s: float
    cpu_seconds_per_gb: float
    cpu_seconds_per_stream_hour: float
    core_percent: float  # of one core, for one 4 Mbit/s stream
    wall_runs: tuple[float, ...]
    cpu_runs: tuple[float, ...]


@dataclass(frozen=True)
class Unlock:
    log_n: int
    calibrated: bool  # False when the work factor was given rather than measured here
    seconds: float  # median
    runs: tuple[float, ...]


@dataclass(frozen=True)
class StorageResult:
    plaintext_bytes: int
    packet_bytes: int
    segment_bytes: int
    segments: int
    repeat: int
    fsync_interval: float
    cold_read: bool  # the segment files were dropped from the page cache before reading
    stages: tuple[Stage, ...]
    store_vs_raw: float  # the ratio: store MB/s over the in-memory cipher's
    store_vs_raw_write: float  # store MB/s over cipher + os.write + fsync
    paced_vs_raw_write_paced: float  # the same at one 4 Mbit/s stream's fsync rate
    raw_write_fsyncs: tuple[int, ...]  # fsyncs in each repetition of ``raw_write``
    raw_write_paced_fsyncs: tuple[int, ...]  # and of ``raw_write_paced``
    target: float
    unlock: Unlock

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)

    @property
    def meets_target(self) -> bool:
        return self.store_vs_raw >= self.target


def stage_figures(
    name: str, label: str, plaintext_bytes: int, walls: Sequence[float], cpus: Sequence[float]
) -> Stage:
    """The figures of a stage from its per-repetition wall and CPU seconds."""
    wall = statistics.median(walls)
    cpu = statistics.median(cpus)
    per_byte = cpu / plaintext_bytes
    per_hour = per_byte * STREAM_BYTES_PER_HOUR
    return Stage(
        name=name,
        label=label,
        plaintext_bytes=plaintext_bytes,
        wall_seconds=wall,
        cpu_seconds=cpu,
        mb_per_s=plaintext_bytes / MB / wall if wall > 0 else float("inf"),
        cpu_seconds_per_gb=per_byte * GB,
        cpu_seconds_per_stream_hour=per_hour,
        core_percent=per_hour / 3600 * 100,
        wall_runs=tuple(walls),
        cpu_runs=tuple(cpus),
    )


def segment_bounds(size: int, segment_bytes: int) -> list[tuple[int, int]]:
    """[start, end) of each segment's share of the plaintext."""
    return [(pos, min(pos + segment_bytes, size)) for pos in range(0, size, segment_bytes)]


class _NullSink:
    """Where ``encrypt_stream`` writes in the ``age`` stage: counts, keeps nothing."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        return len(data)


class _Timer:
    def __init__(self) -> None:
        self.walls: list[float] = []
        self.cpus: list[float] = []
        self._wall = self._cpu = 0.0

    def __enter__(self) -> _Timer:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.walls.append(time.perf_counter() - self._wall)
        self.cpus.append(time.process_time() - self._cpu)


def _raw(plain: memoryview) -> None:
    cipher = ChaCha20Poly1305(ChaCha20Poly1305.generate_key())
    for index, pos in enumerate(range(0, len(plain), CHUNK_SIZE)):
        cipher.encrypt(index.to_bytes(12, "big"), plain[pos : pos + CHUNK_SIZE], None)


def _age(
    plain: memoryview, bounds: Sequence[tuple[int, int]], to: X25519Recipient, packet: int
) -> None:
    sink = _NullSink()
    for start, end in bounds:
        with encrypt_stream(cast(BinaryIO, sink), [to]) as writer:
            for pos in range(start, end, packet):
                writer.write(plain[pos : min(pos + packet, end)])


def ciphertext_bytes(bounds: Sequence[tuple[int, int]]) -> int:
    """What ``_raw_write`` writes for these segments: each 64 KiB chunk plus its tag."""
    return sum(end - start + TAG_BYTES * -(-(end - start) // CHUNK_SIZE) for start, end in bounds)


class StreamClock:
    """The clock of one camera streaming at ``STREAM_BITS_PER_SECOND``: it moves by each
    packet's duration, so a store on it fsyncs (at most every ``fsync_interval``) as often
    per byte as when it records that stream: once per 500 kB at 4 Mbit/s and 1 s."""

    def __init__(self) -> None:
        self._start = datetime.now(UTC)
        self._seconds = 0.0

    def wall(self) -> datetime:
        return self._start + timedelta(seconds=self._seconds)

    def monotonic(self) -> float:
        return self._seconds

    def advance(self, nbytes: int) -> None:
        self._seconds += nbytes * 8 / STREAM_BITS_PER_SECOND


def _raw_write(
    folder: Path,
    plain: memoryview,
    bounds: Sequence[tuple[int, int]],
    clock: Clock,
    fsync_interval: float,
    paced: StreamClock | None = None,
) -> tuple[int, int]:
    """Encrypt each segment's 64 KiB chunks (a fresh key per file, counter nonce) and
    ``os.write`` each ciphertext to its own file in ``folder``; fsync when
    ``fsync_interval`` has passed on ``clock`` and before close. Returns the bytes written
    and the number of fsyncs."""
    written = fsyncs = 0
    for number, (start, end) in enumerate(bounds):
        cipher = ChaCha20Poly1305(ChaCha20Poly1305.generate_key())
        fd = os.open(
            folder / f"{number:05d}.bin", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600
        )
        try:
            last_fsync = clock.monotonic()
            for index, pos in enumerate(range(start, end, CHUNK_SIZE)):
                chunk = plain[pos : min(pos + CHUNK_SIZE, end)]
                view = memoryview(cipher.encrypt(index.to_bytes(12, "big"), chunk, None))
                while view:
                    n = os.write(fd, view)
                    written += n
                    view = view[n:]
                if paced is not None:
                    paced.advance(len(chunk))
                now = clock.monotonic()
                if now - last_fsync >= fsync_interval:
                    os.fsync(fd)
                    fsyncs += 1
                    last_fsync = now
            os.fsync(fd)
            fsyncs += 1
        finally:
            os.close(fd)
    return written, fsyncs


@contextlib.contextmanager
def _scratch(folder: Path) -> Iterator[Path]:
    """An empty folder, removed with its contents after."""
    folder.mkdir(mode=0o700)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


def _write(
    store: SegmentStore,
    plain: memoryview,
    bounds: Sequence[tuple[int, int]],
    packet: int,
    paced: StreamClock | None = None,
) -> list[SegmentRecord]:
    records = []
    for start, end in bounds:
        segment = store.open_segment(CAMERA, store.clock.wall())
        for pos in range(start, end, packet):
            data = plain[pos : min(pos + packet, end)]
            if paced is not None:
                paced.advance(len(data))
            segment.write(data)
        records.append(segment.close(store.clock.wall()))
    return records


@contextlib.contextmanager
def _store(
    folder: Path, identity: X25519Identity, clock: Clock, fsync_interval: float
) -> Iterator[SegmentStore]:
    """A segment store over a freshly migrated SQLite index in ``folder``, removed after."""
    folder.mkdir(mode=0o700)
    url = default_sqlite_url(folder)
    upgrade(url)
    engine = make_engine(url)
    try:
        yield SegmentStore(
            folder,
            session_factory(engine),
            lambda: [identity.recipient()],
            clock,
            fsync_interval=fsync_interval,
        )
    finally:
        engine.dispose()
        shutil.rmtree(folder)


def _drop_from_cache(paths: Sequence[Path]) -> bool:
    """Ask the kernel to forget the files' (clean, fsynced) pages; False if it cannot."""
    if not hasattr(os, "posix_fadvise"):
        return False
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    return True


def _read(store: SegmentStore, records: Sequence[SegmentRecord], identity: X25519Identity) -> int:
    total = 0
    for record in records:
        with store.open_plaintext(record, [identity]) as reader:
            while block := reader.read(READ_BLOCK):
                total += len(block)
    return total


def _check(
    store: SegmentStore,
    records: Sequence[SegmentRecord],
    identity: X25519Identity,
    plain: memoryview,
    bounds: Sequence[tuple[int, int]],
) -> None:
    for record, (start, end) in zip(records, bounds, strict=True):
        with store.open_plaintext(record, [identity]) as reader:
            if reader.read() != plain[start:end].tobytes():
                raise RuntimeError(f"segment {record.path} does not read back as written")


def _unlock(folder: Path, log_n: int | None, runs: int) -> Unlock:
    work_factor = calibrate_log_n() if log_n is None else log_n
    keys = KeyStore(folder)
    passphrase = secrets.token_urlsafe(24).encode()
    keys.init(passphrase, log_n=work_factor, now=datetime.now(UTC))
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        unlocked = keys.unlock(passphrase)
        seconds.append(time.perf_counter() - start)
        wipe(unlocked.secret)
    return Unlock(work_factor, log_n is None, statistics.median(seconds), tuple(seconds))


def run(
    directory: Path,
    *,
    size_bytes: int = DEFAULT_SIZE,
    repeat: int = 3,
    packet_bytes: int = PACKET_BYTES,
    segment_bytes: int = SEGMENT_BYTES,
    fsync_interval: float = 1.0,
    log_n: int | None = None,
    progress: Progress | None = None,
) -> StorageResult:
    """Run the storage benchmark in a temporary folder inside ``directory``."""
    if size_bytes <= 0 or repeat <= 0 or packet_bytes <= 0 or segment_bytes <= 0:
        raise ValueError("sizes and repeat must be positive")
    say = progress or (lambda _: None)
    work = Path(tempfile.mkdtemp(prefix="nvr-bench-storage-", dir=directory))
    try:
        say(f"making {size_bytes / MB:.0f} MB of random plaintext")
        plain = memoryview(os.urandom(size_bytes))
        bounds = segment_bounds(size_bytes, segment_bytes)
        identity = X25519Identity.generate()
        timers = {name: _Timer() for name in LABELS}
        fsyncs: dict[str, list[int]] = {"raw_write": [], "raw_write_paced": []}
        expected = ciphertext_bytes(bounds)
        cold = True

        def raw_write(name: str, clock: Clock, paced: StreamClock | None) -> None:
            with _scratch(work / "raw") as folder, timers[name]:
                written, count = _raw_write(folder, plain, bounds, clock, fsync_interval, paced)
            if written != expected:
                raise RuntimeError(f"{name} wrote {written} bytes, expected {expected}")
            fsyncs[name].append(count)

        for rep in range(repeat):
            say(f"repetition {rep + 1}/{repeat}: raw cipher, raw cipher + write, age stream")
            with timers["raw"]:
                _raw(plain)
            raw_write("raw_write", SystemClock(), None)
            with timers["age"]:
                _age(plain, bounds, identity.recipient(), packet_bytes)
            say(f"repetition {rep + 1}/{repeat}: segment store write, read back")
            with _store(work / "data", identity, SystemClock(), fsync_interval) as store:
                with timers["store"]:
                    records = _write(store, plain, bounds, packet_bytes)
                cold = _drop_from_cache([store.path_of(r) for r in records]) and cold
                with timers["read"]:
                    got = _read(store, records, identity)
                if got != size_bytes:
                    raise RuntimeError(f"read back {got} bytes of {size_bytes}")
                if rep == 0:
                    _check(store, records, identity, plain, bounds)
            say(f"repetition {rep + 1}/{repeat}: segment store write at a 4 Mbit/s fsync rate")
            clock = StreamClock()
            with (
                _store(work / "data", identity, clock, fsync_interval) as store,
                timers["paced"],
            ):
                _write(store, plain, bounds, packet_bytes, clock)
            say(f"repetition {rep + 1}/{repeat}: raw cipher + write at a 4 Mbit/s fsync rate")
            clock = StreamClock()
            raw_write("raw_write_paced", clock, clock)
        say("unlock: calibrating the scrypt work factor" if log_n is None else "unlock")
        unlock = _unlock(work / "unlock", log_n, repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    stages = tuple(
        stage_figures(name, LABELS[name], size_bytes, t.walls, t.cpus) for name, t in timers.items()
    )
    by_name = {s.name: s for s in stages}
    return StorageResult(
        plaintext_bytes=size_bytes,
        packet_bytes=packet_bytes,
        segment_bytes=segment_bytes,
        segments=len(bounds),
        repeat=repeat,
        fsync_interval=fsync_interval,
        cold_read=cold,
        stages=stages,
        store_vs_raw=by_name["store"].mb_per_s / by_name["raw"].mb_per_s,
        store_vs_raw_write=by_name["store"].mb_per_s / by_name["raw_write"].mb_per_s,
        paced_vs_raw_write_paced=by_name["paced"].mb_per_s / by_name["raw_write_paced"].mb_per_s,
        raw_write_fsyncs=tuple(fsyncs["raw_write"]),
        raw_write_paced_fsyncs=tuple(fsyncs["raw_write_paced"]),
        target=TARGET,
        unlock=unlock,
    )
