"""Reading age files: round trips, random access, and every tampering's exception.

Each rejection asserts the exception class *and* its reason: a truncated file reported
as tampered (or the other way round) fails the test even though it was rejected.
"""

from __future__ import annotations

import io
import os
from typing import TypeVar

import pytest

from nvr.crypto import (
    CHUNK_SIZE,
    AgeError,
    ChunkAuthError,
    HeaderFormatError,
    HeaderMACError,
    NoIdentityMatchError,
    PayloadFormatError,
    SalvageReport,
    ScryptIdentity,
    ScryptRecipient,
    TrailingDataError,
    TruncatedError,
    WorkFactorError,
    X25519Identity,
    decrypt,
    encrypt_stream,
    salvage,
)
from nvr.crypto.header import Stanza, b64encode, encode_header, parse_header
from nvr.crypto.stream import NONCE_SIZE, SEALED_CHUNK_SIZE, chunk_nonce, payload_cipher
from tests.crypto.conftest import Seal

E = TypeVar("E", bound=AgeError)
ME = X25519Identity.generate()
SIZES = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE, 200_003]


def _open(blob: bytes, identities: list[X25519Identity] | None = None) -> bytes:
    return decrypt(io.BytesIO(blob), identities or [ME]).read()


def _payload_start(blob: bytes) -> int:
    return parse_header(blob).size + NONCE_SIZE


def _chunk(blob: bytes, index: int) -> slice:
    start = _payload_start(blob) + index * SEALED_CHUNK_SIZE
    return slice(start, start + SEALED_CHUNK_SIZE)


def _rejects(blob: bytes, kind: type[E], reason: str) -> E:
    with pytest.raises(kind) as caught:
        _open(blob)
    assert caught.value.reason == reason, caught.value
    return caught.value


@pytest.mark.parametrize("size", SIZES)
def test_round_trip(seal: Seal, size: int) -> None:
    data = os.urandom(size)
    reader = decrypt(io.BytesIO(seal(data, [ME.recipient()])), [ME])
    assert reader.size == size
    assert reader.chunk_count == max(1, -(-size // CHUNK_SIZE))
    assert reader.read() == data


def test_every_recipient_can_decrypt(seal: Seal) -> None:
    people = [X25519Identity.generate() for _ in range(3)]
    blob = seal(b"hello", [p.recipient() for p in people])
    for person in people:
        assert _open(blob, [person]) == b"hello"
    assert _open(blob, [ME, people[2]]) == b"hello"


def test_random_access_by_chunk_and_offset(seal: Seal) -> None:
    data = os.urandom(4 * CHUNK_SIZE + 10)
    reader = decrypt(io.BytesIO(seal(data, [ME.recipient()])), [ME])
    assert reader.read_chunk(2) == data[2 * CHUNK_SIZE : 3 * CHUNK_SIZE]
    assert reader.read_chunk(4) == data[4 * CHUNK_SIZE :]
    reader.seek(CHUNK_SIZE - 3)
    assert reader.read(6) == data[CHUNK_SIZE - 3 : CHUNK_SIZE + 3]
    assert reader.tell() == CHUNK_SIZE + 3
    reader.seek(-5, io.SEEK_END)
    assert reader.read() == data[-5:]
    assert reader.read(10) == b""
    reader.seek(-5, io.SEEK_CUR)
    assert reader.read(100) == data[-5:]
    with pytest.raises(IndexError):
        reader.read_chunk(5)
    with pytest.raises(ValueError, match="negative"):
        reader.seek(-1)


def test_wrong_identity(seal: Seal) -> None:
    with pytest.raises(NoIdentityMatchError) as caught:
        _open(seal(b"x", [ME.recipient()]), [X25519Identity.generate()])
    assert caught.value.reason == "no-match"


# --- header tampering -------------------------------------------------------------------


def test_header_tampering(seal: Seal) -> None:
    blob = seal(b"x" * 100, [ME.recipient(), X25519Identity.generate().recipient()])
    header = parse_header(blob)
    mac_at = blob.index(b"\n--- ") + 5
    flipped_mac = blob[:mac_at] + (b"B" if blob[mac_at] != ord("B") else b"C") + blob[mac_at + 1 :]
    _rejects(flipped_mac, HeaderMACError, "bad-mac")
    # Drop the second recipient's stanza: still well-formed, but no longer what was MACed.
    first_end = blob.index(b"\n-> ", len(b"age-encryption.org/v1\n")) + 1
    dropped = blob[:first_end] + blob[blob.index(b"---") :]
    _rejects(dropped, HeaderMACError, "bad-mac")
    # Change our stanza's body: it no longer unwraps.
    body_at = blob.index(b"\n", blob.index(b"-> X25519")) + 5
    broken = blob[:body_at] + (b"A" if blob[body_at] != ord("A") else b"B") + blob[body_at + 1 :]
    _rejects(broken, NoIdentityMatchError, "no-match")
    assert len(header.stanzas) == 2


def test_swapped_headers_fail_on_the_payload(seal: Seal) -> None:
    one, two = seal(b"a" * 70_000, [ME.recipient()]), seal(b"b" * 70_000, [ME.recipient()])
    swapped = two[: parse_header(two).size] + one[parse_header(one).size :]
    error = _rejects(swapped, ChunkAuthError, "bad-chunk")
    assert error.index == 1


def test_low_order_x25519_share_is_refused() -> None:
    stanza = Stanza(b"X25519", (b64encode(bytes(32)),), bytes(32))
    _rejects(encode_header([stanza], bytes(16)) + bytes(40), HeaderFormatError, "low-order-share")


@pytest.mark.parametrize(
    ("stanza", "reason"),
    [
        (Stanza(b"X25519", (), bytes(32)), "bad-x25519-stanza"),
        (Stanza(b"X25519", (b64encode(bytes(31)),), bytes(32)), "bad-x25519-stanza"),
        (Stanza(b"X25519", (b64encode(bytes(32)),), bytes(33)), "bad-x25519-stanza"),
    ],
)
def test_malformed_x25519_stanza(stanza: Stanza, reason: str) -> None:
    _rejects(encode_header([stanza], bytes(16)) + bytes(40), HeaderFormatError, reason)


# --- payload tampering ------------------------------------------------------------------

DATA = os.urandom(3 * CHUNK_SIZE + 1000)  # chunks 0..3, the last one short


@pytest.fixture
def blob(seal: Seal) -> bytes:
    return seal(DATA, [ME.recipient()])


def _flip(blob: bytes, at: int) -> bytes:
    return blob[:at] + bytes([blob[at] ^ 1]) + blob[at + 1 :]


def test_flipped_nonce_breaks_every_chunk(blob: bytes) -> None:
    error = _rejects(_flip(blob, _payload_start(blob) - 1), ChunkAuthError, "bad-chunk")
    assert error.index == 3


@pytest.mark.parametrize("index", [0, 1, 2])
@pytest.mark.parametrize("where", [0, 1000, SEALED_CHUNK_SIZE - 1])
def test_flipped_middle_chunk_fails_when_read(blob: bytes, index: int, where: int) -> None:
    reader = decrypt(io.BytesIO(_flip(blob, _chunk(blob, index).start + where)), [ME])
    for other in {0, 1, 2, 3} - {index}:
        reader.read_chunk(other)
    with pytest.raises(ChunkAuthError) as caught:
        reader.read_chunk(index)
    assert (caught.value.reason, caught.value.index) == ("bad-chunk", index)
    with pytest.raises(ChunkAuthError):
        reader.seek(0) or reader.read()


def test_flipped_final_chunk_fails_at_open(blob: bytes) -> None:
    error = _rejects(_flip(blob, len(blob) - 1), ChunkAuthError, "bad-chunk")
    assert error.index == 3


def test_swapped_chunks_fail(blob: bytes) -> None:
    c0, c1 = _chunk(blob, 0), _chunk(blob, 1)
    swapped = blob[: c0.start] + blob[c1] + blob[c0] + blob[c1.stop :]
    reader = decrypt(io.BytesIO(swapped), [ME])
    with pytest.raises(ChunkAuthError) as caught:
        reader.read_chunk(0)
    assert caught.value.index == 0


def test_chunk_spliced_from_another_file_fails(seal: Seal, blob: bytes) -> None:
    other = seal(os.urandom(len(DATA)), [ME.recipient()])
    spliced = (
        blob[: _chunk(blob, 1).start] + other[_chunk(other, 1)] + blob[_chunk(blob, 2).start :]
    )
    with pytest.raises(ChunkAuthError) as caught:
        decrypt(io.BytesIO(spliced), [ME]).read()
    assert caught.value.index == 1


def test_same_file_key_new_nonce_still_blocks_splicing() -> None:
    def sealed(nonce: bytes) -> bytes:
        out = io.BytesIO()
        answers = iter([bytes(16), bytes(32), nonce])
        with encrypt_stream(out, [ME.recipient()], _rand=lambda n: next(answers)) as w:
            w.write(DATA)
        return out.getvalue()

    one, two = sealed(b"\x01" * 16), sealed(b"\x02" * 16)
    spliced = one[: _chunk(one, 0).stop] + two[_chunk(two, 1).start :]
    with pytest.raises(ChunkAuthError) as caught:
        decrypt(io.BytesIO(spliced), [ME]).read()
    assert caught.value.index == 3  # two's final chunk, under one's payload key


@pytest.mark.parametrize("chunks", [1, 2, 3])
def test_truncated_at_a_chunk_boundary(blob: bytes, chunks: int) -> None:
    _rejects(blob[: _chunk(blob, chunks).start], TruncatedError, "missing-final-chunk")


@pytest.mark.parametrize(
    ("cut", "kind", "reason"),
    [
        (-1, TruncatedError, "no-chunks"),  # right after the nonce
        (-5, TruncatedError, "no-nonce"),
        (-30, HeaderFormatError, "truncated"),
    ],
)
def test_truncated_before_the_chunks(
    blob: bytes, cut: int, kind: type[AgeError], reason: str
) -> None:
    end = _payload_start(blob) if cut == -1 else _payload_start(blob) + cut
    _rejects(blob[:end], kind, reason)


MID_CHUNK_CUTS = [
    *((chunk, keep) for chunk in (0, 2) for keep in (1, 16, 17, 5000, SEALED_CHUNK_SIZE - 1)),
    *((3, keep) for keep in (1, 16, 17, 1015)),  # the final chunk is 1016 bytes
]


@pytest.mark.parametrize(("chunk", "keep"), MID_CHUNK_CUTS)
def test_truncated_mid_chunk(blob: bytes, chunk: int, keep: int) -> None:
    cut = blob[: _chunk(blob, chunk).start + keep]
    if keep <= 16:
        _rejects(cut, TruncatedError, "torn-chunk")  # too short to be any chunk
    else:
        # A partial chunk is indistinguishable from a modified short final chunk.
        _rejects(cut, ChunkAuthError, "bad-chunk")


def test_trailing_data_after_a_full_final_chunk(seal: Seal) -> None:
    blob = seal(bytes(2 * CHUNK_SIZE), [ME.recipient()])
    for extra in (b"\x00", os.urandom(SEALED_CHUNK_SIZE)):
        _rejects(blob + extra, TrailingDataError, "trailing-data")


def test_trailing_data_after_a_short_final_chunk_fails_authentication(blob: bytes) -> None:
    _rejects(blob + b"\x00", ChunkAuthError, "bad-chunk")


def test_empty_final_chunk_after_data_is_refused() -> None:
    out = io.BytesIO()
    answers = iter([bytes(16), bytes(32), bytes(16)])
    encrypt_stream(out, [ME.recipient()], _rand=lambda n: next(answers))
    cipher = payload_cipher(bytes(16), bytes(16))
    out.write(cipher.encrypt(chunk_nonce(0, False), bytes(CHUNK_SIZE), None))
    out.write(cipher.encrypt(chunk_nonce(1, True), b"", None))
    _rejects(out.getvalue(), PayloadFormatError, "empty-final-chunk")


# --- scrypt -----------------------------------------------------------------------------


def test_scrypt_round_trip_and_failures(seal: Seal) -> None:
    blob = seal(b"identity file", [ScryptRecipient(b"hunter2", log_n=10)])
    assert decrypt(io.BytesIO(blob), [ScryptIdentity(b"hunter2")]).read() == b"identity file"
    with pytest.raises(NoIdentityMatchError):
        decrypt(io.BytesIO(blob), [ScryptIdentity(b"hunter3")])
    with pytest.raises(WorkFactorError) as caught:
        decrypt(io.BytesIO(blob), [ScryptIdentity(b"hunter2", max_log_n=9)])
    assert caught.value.reason == "work-factor-too-large"
    with pytest.raises(NoIdentityMatchError):  # an X25519 identity ignores scrypt stanzas
        decrypt(io.BytesIO(blob), [ME])


def test_scrypt_stanza_must_be_alone() -> None:
    scrypt = ScryptRecipient(b"pw", log_n=1).wrap(bytes(16))
    header = encode_header([*scrypt, *ME.recipient().wrap(bytes(16))], bytes(16))
    for who in ([ME], [ScryptIdentity(b"pw")]):
        with pytest.raises(HeaderFormatError) as caught:
            decrypt(io.BytesIO(header + bytes(40)), who)
        assert caught.value.reason == "scrypt-not-alone"


@pytest.mark.parametrize(
    "args",
    [
        pytest.param((b64encode(bytes(16)), b"010"), id="leading-zero"),
        pytest.param((b64encode(bytes(16)), b"0"), id="zero"),
        pytest.param((b64encode(bytes(16)), b"1e1"), id="not-decimal"),
        pytest.param((b64encode(bytes(15)), b"10"), id="short-salt"),
        pytest.param((b64encode(bytes(16)),), id="no-log-n"),
    ],
)
def test_malformed_scrypt_stanza(args: tuple[bytes, ...]) -> None:
    header = encode_header([Stanza(b"scrypt", args, bytes(32))], bytes(16))
    with pytest.raises(HeaderFormatError) as caught:
        decrypt(io.BytesIO(header + bytes(40)), [ScryptIdentity(b"pw")])
    assert caught.value.reason == "bad-scrypt-stanza"


# --- salvage ----------------------------------------------------------------------------


def _salvage(blob: bytes) -> tuple[bytes, SalvageReport]:
    out = io.BytesIO()
    report = salvage(io.BytesIO(blob), [ME], out)
    assert report.size == len(out.getvalue())
    return out.getvalue(), report


def test_salvage_of_a_whole_file_is_everything(blob: bytes) -> None:
    data, report = _salvage(blob)
    assert data == DATA
    assert (report.chunks, report.complete, report.stop_reason) == (4, True, "complete")


def test_salvage_after_the_writer_was_killed() -> None:
    out = io.BytesIO()
    writer = encrypt_stream(out, [ME.recipient()])
    writer.write(DATA)  # 3 full chunks sealed, 1000 bytes still pending: then the power went
    data, report = _salvage(out.getvalue())
    assert data == DATA[: 3 * CHUNK_SIZE]
    assert (report.chunks, report.complete, report.stop_reason) == (3, False, "missing-final-chunk")


@pytest.mark.parametrize("keep", [0, 1, 16, 17, SEALED_CHUNK_SIZE - 1])
def test_salvage_drops_a_torn_last_chunk(keep: int) -> None:
    out = io.BytesIO()
    encrypt_stream(out, [ME.recipient()]).write(DATA)
    whole = out.getvalue()
    data, report = _salvage(whole + os.urandom(SEALED_CHUNK_SIZE)[:keep])
    assert data == DATA[: 3 * CHUNK_SIZE]
    expected = "missing-final-chunk" if keep == 0 else "torn-chunk"
    assert (report.chunks, report.complete, report.stop_reason) == (3, False, expected)


def test_salvage_stops_at_the_first_bad_chunk(blob: bytes) -> None:
    data, report = _salvage(_flip(blob, _chunk(blob, 2).start + 7))
    assert data == DATA[: 2 * CHUNK_SIZE]
    assert (report.chunks, report.complete, report.stop_reason) == (2, False, "bad-chunk")


def test_salvage_of_zero_filled_tail(blob: bytes) -> None:
    """Power cut on a filesystem that extended the file but never wrote the data."""
    zeroed = blob[: _chunk(blob, 1).start] + bytes(len(blob) - _chunk(blob, 1).start)
    data, report = _salvage(zeroed)
    assert (data, report.stop_reason) == (DATA[:CHUNK_SIZE], "bad-chunk")


def test_salvage_reports_trailing_data(seal: Seal) -> None:
    data, report = _salvage(seal(bytes(2 * CHUNK_SIZE), [ME.recipient()]) + b"junk")
    assert data == bytes(2 * CHUNK_SIZE)
    assert (report.complete, report.stop_reason) == (True, "trailing-data")


def test_salvage_needs_a_valid_header(blob: bytes) -> None:
    with pytest.raises(NoIdentityMatchError):
        salvage(io.BytesIO(blob), [X25519Identity.generate()], io.BytesIO())


def test_huge_work_factor_is_refused_before_any_work() -> None:
    header = encode_header([Stanza(b"scrypt", (b64encode(bytes(16)), b"99"), bytes(32))], bytes(16))
    with pytest.raises(WorkFactorError) as caught:
        decrypt(io.BytesIO(header + bytes(40)), [ScryptIdentity(b"pw")])
    assert caught.value.reason == "work-factor-too-large"
