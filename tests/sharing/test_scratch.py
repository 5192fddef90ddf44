"""Sealed scratch files (nvr.sharing.scratch), the streamed zip and the jobs' memory
reservations: what an export relies on to keep plaintext off the disk and memory bounded."""

from __future__ import annotations

import io
import os
import random
import zipfile
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag

from nvr.clock import FakeClock
from nvr.sharing.bundle import Chunks, zip_files, zip_stream
from nvr.sharing.jobs import Busy, Job, Jobs
from nvr.sharing.scratch import BLOCK, NONCE, SLOT, SealedFile, sweep


def test_random_writes_and_reads_match_a_plain_buffer(tmp_path: Path) -> None:
    rnd = random.Random(7)
    plain = bytearray()
    with SealedFile.create(tmp_path) as sealed:
        for _ in range(40):
            at = rnd.randrange(len(plain) + 1) if plain and rnd.random() < 0.4 else len(plain)
            data = rnd.randbytes(rnd.randrange(1, 3 * BLOCK))
            sealed.seek(at)
            sealed.write(data)
            plain[at : at + len(data)] = data
        sealed.seek(len(plain) + 1000)  # past the end: the hole reads as zeros
        sealed.write(b"tail")
        plain += bytes(1000) + b"tail"
        sealed.seek(0)
        assert sealed.read() == bytes(plain)
        assert sealed.size == len(plain)
        assert sealed.pread(BLOCK - 3, 10) == bytes(plain[BLOCK - 3 : BLOCK + 7])
        assert b"".join(sealed.chunks(100_000)) == bytes(plain)
        sealed.flush()
        on_disk = sealed.path.read_bytes()
        assert len(on_disk) == -(-len(plain) // BLOCK) * SLOT - (
            BLOCK - (len(plain) % BLOCK or BLOCK)
        )
        for at in range(0, len(plain) - 16, 9973):
            assert bytes(plain[at : at + 16]) not in on_disk
        path = sealed.path
    assert not path.exists()


def test_a_changed_block_is_refused(tmp_path: Path) -> None:
    with SealedFile.create(tmp_path) as sealed:
        sealed.write(b"A" * (2 * BLOCK + 10))
        sealed.flush()
        with sealed.path.open("r+b") as raw:  # swap blocks 0 and 1
            first, second = raw.read(SLOT), raw.read(SLOT)
            raw.seek(0)
            raw.write(second + first)
        with pytest.raises(InvalidTag):
            sealed.pread(0, 10)
        with sealed.path.open("r+b") as raw:  # put them back, then flip one bit
            raw.write(first)
            raw.seek(SLOT + NONCE + 5)
            byte = raw.read(1)[0]
            raw.seek(SLOT + NONCE + 5)
            raw.write(bytes([byte ^ 1]))
        assert sealed.pread(0, 10) == b"A" * 10
        with pytest.raises(InvalidTag):
            sealed.pread(BLOCK, 10)


def test_each_file_has_its_own_key(tmp_path: Path) -> None:
    with SealedFile.create(tmp_path) as one, SealedFile.create(tmp_path) as two:
        for sealed in (one, two):
            sealed.write(b"same plaintext" * 100)
            sealed.flush()
        assert one.path != two.path
        assert one.path.read_bytes()[NONCE:] != two.path.read_bytes()[NONCE:]


def test_sweep_removes_leftovers_only(tmp_path: Path) -> None:
    left = tmp_path / ".export-0123.sealed"
    left.write_bytes(os.urandom(100))
    other = tmp_path / "keep.txt"
    other.write_text("not ours")
    assert sweep(tmp_path) == 1
    assert not left.exists()
    assert other.exists()
    assert sweep(tmp_path / "missing") == 0


def test_closed_file_refuses_io(tmp_path: Path) -> None:
    sealed = SealedFile.create(tmp_path)
    sealed.write(b"x")
    sealed.close()
    sealed.close()  # idempotent
    with pytest.raises(ValueError, match="discarded"):
        sealed.pread(0, 1)
    assert list(tmp_path.iterdir()) == []


def entries(files: dict[str, bytes]) -> list[tuple[str, int, Chunks]]:
    def chunks(data: bytes) -> Chunks:
        return lambda: iter([data[i : i + 7] for i in range(0, len(data), 7)])

    return [(name, len(data), chunks(data)) for name, data in files.items()]


def test_zip_stream_is_zip_files_byte_for_byte(tmp_path: Path) -> None:
    files = {
        "clip.mp4": os.urandom(3 * BLOCK + 5),
        "manifest.json": b"{}\n",
        "VERIFY.txt": b"check it\n",
        "empty": b"",
    }
    expected = zip_files(files, "top")
    with SealedFile.create(tmp_path) as sealed:
        zip_stream(entries(files), "top", sealed)
        assert sealed.pread(0, sealed.size + 1) == expected
    plain = io.BytesIO()
    zip_stream(entries(files), "top", plain)
    assert plain.getvalue() == expected
    with zipfile.ZipFile(io.BytesIO(expected)) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == sorted(f"top/{name}" for name in files)


def test_jobs_reserve_memory_and_drop_sealed_results(tmp_path: Path) -> None:
    clock = FakeClock()
    leftover = tmp_path / ".export-old.sealed"
    leftover.write_bytes(b"from a crash")
    jobs = Jobs(clock, tmp_path)
    assert not leftover.exists()  # swept when made
    release = __import__("threading").Event()

    def slow(job: Job) -> tuple[Any, dict[str, Any]]:
        release.wait(10)
        sealed = SealedFile.create(jobs.scratch)
        sealed.write(b"bundle")
        return sealed, {}

    first = jobs.start("export", {}, slow, memory=300, budget=500)
    with pytest.raises(Busy, match="hold 0 MiB"):
        jobs.start("export", {}, slow, memory=300, budget=500)
    release.set()
    done = jobs.wait(first.id, "export", 10)
    assert done.state == "done"
    assert done.read() == b"bundle"
    assert done.size == 6
    assert len(list(tmp_path.iterdir())) == 1
    second = jobs.start("export", {}, slow, memory=300, budget=500)  # the first ended
    assert jobs.wait(second.id, "export", 10).state == "done"
    jobs.close()
    assert list(tmp_path.iterdir()) == []
    assert done.result is None
