"""The chunk writer: when chunks are sealed, what the final chunk is, and its guards."""

from __future__ import annotations

import io
import os

import pytest

from nvr.crypto import (
    CHUNK_SIZE,
    ScryptRecipient,
    TruncatedError,
    X25519Identity,
    decrypt,
    encrypt_stream,
)
from nvr.crypto.keys import Random
from nvr.crypto.stream import SEALED_CHUNK_SIZE, TAG_SIZE

ME = X25519Identity.generate()


def counting_rand() -> Random:
    """Call k returns n copies of byte k: deterministic keys and nonces."""
    draws = iter(range(1, 256))
    return lambda n: bytes([next(draws)]) * n


def test_a_full_chunk_is_sealed_when_one_more_byte_arrives() -> None:
    out = io.BytesIO()
    writer = encrypt_stream(out, [ME.recipient()])
    start = out.tell()
    writer.write(bytes(CHUNK_SIZE))
    assert (writer.chunks_written, out.tell()) == (0, start)
    writer.write(b"x")
    assert (writer.chunks_written, out.tell()) == (1, start + SEALED_CHUNK_SIZE)
    writer.close()
    assert (writer.chunks_written, out.tell()) == (2, start + SEALED_CHUNK_SIZE + 1 + TAG_SIZE)


@pytest.mark.parametrize(
    ("size", "chunks"),
    [(0, [0]), (1, [1]), (CHUNK_SIZE, [CHUNK_SIZE]), (2 * CHUNK_SIZE, [CHUNK_SIZE] * 2)],
)
def test_final_chunk_is_empty_only_for_an_empty_payload(size: int, chunks: list[int]) -> None:
    out = io.BytesIO()
    with encrypt_stream(out, [ME.recipient()]) as writer:
        writer.write(bytes(size))
        start = out.tell() - writer.chunks_written * SEALED_CHUNK_SIZE
    assert len(out.getvalue()) - start == sum(chunks) + TAG_SIZE * len(chunks)


def test_how_the_caller_splits_writes_does_not_change_the_file() -> None:
    data = os.urandom(3 * CHUNK_SIZE + 123)
    files = []
    for step in (len(data), CHUNK_SIZE, CHUNK_SIZE - 1, CHUNK_SIZE + 1, 1000, 7):
        out = io.BytesIO()
        writer = encrypt_stream(out, [ME.recipient()], _rand=counting_rand())
        for i in range(0, len(data), step):
            writer.write(memoryview(data)[i : i + step])
        writer.close()
        files.append(out.getvalue())
    assert len(set(files)) == 1
    assert decrypt(io.BytesIO(files[0]), [ME]).read() == data


def test_accepts_any_bytes_like() -> None:
    out = io.BytesIO()
    with encrypt_stream(out, [ME.recipient()]) as writer:
        writer.write(bytearray(b"ab"))
        writer.write(memoryview(b"cd"))
        writer.write(b"ef")
    out.seek(0)
    assert decrypt(out, [ME]).read() == b"abcdef"


def test_an_exception_leaves_the_file_visibly_unfinished() -> None:
    out = io.BytesIO()

    def record() -> None:
        with encrypt_stream(out, [ME.recipient()]) as writer:
            writer.write(bytes(2 * CHUNK_SIZE + 5))
            raise RuntimeError("recorder crashed")

    with pytest.raises(RuntimeError):
        record()
    out.seek(0)
    with pytest.raises(TruncatedError) as caught:
        decrypt(out, [ME])
    assert caught.value.reason == "missing-final-chunk"


def test_close_is_idempotent_and_write_after_close_fails() -> None:
    writer = encrypt_stream(io.BytesIO(), [ME.recipient()])
    writer.close()
    writer.close()
    with pytest.raises(ValueError, match="closed"):
        writer.write(b"late")


def test_recipient_rules() -> None:
    with pytest.raises(ValueError, match="at least one"):
        encrypt_stream(io.BytesIO(), [])
    scrypt = ScryptRecipient(b"pw", log_n=10)
    with pytest.raises(ValueError, match="only recipient"):
        encrypt_stream(io.BytesIO(), [scrypt, ME.recipient()])
    for log_n in (0, 23):
        with pytest.raises(ValueError, match="log_n"):
            ScryptRecipient(b"pw", log_n=log_n)
