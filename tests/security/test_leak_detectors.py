"""The detectors of the full-run audit (tests/support/leaks.py and egress.py) find what
they look for, and do not cry wolf on ciphertext: else the full run could pass by being
blind, or fail by chance."""

from __future__ import annotations

import io
import ipaddress
import random
import struct

import cv2
import numpy as np

from nvr.crypto.keys import X25519Identity
from nvr.crypto.stream import encrypt_stream
from tests.support.egress import Attempt, parse
from tests.support.footage import SyntheticClipFactory
from tests.support.leaks import find_secrets, footage_signatures, secret_forms

PASSWORD = "Porch/Pw:7x@q#2"


def _picture(ext: str) -> bytes:
    frame = np.zeros((48, 64, 3), np.uint8)
    frame[10:30, 20:40] = (0, 200, 255)
    ok, data = cv2.imencode(ext, frame)
    assert ok
    return bytes(data.tobytes())


def _sealed(plain: bytes) -> bytes:
    out = io.BytesIO()
    writer = encrypt_stream(out, [X25519Identity.generate().recipient()])
    writer.write(plain)
    writer.close()
    return out.getvalue()


def test_every_spelling_of_a_password_in_a_url_or_header_is_found() -> None:
    forms = {"camera": secret_forms(PASSWORD, "installer")}
    url = "rtsp://installer:Porch%2FPw%3A7x%40q%232@10.0.0.5:554/stream"
    assert "camera (percent-encoded)" in find_secrets(f"opening {url}", forms)
    basic = "Authorization: Basic aW5zdGFsbGVyOlBvcmNoL1B3Ojd4QHEjMg=="
    assert "camera (base64 user:password)" in find_secrets(basic, forms)
    assert "camera (plain)" in find_secrets(f'{{"password": "{PASSWORD}"}}', forms)
    assert find_secrets("rtsp://installer:***@10.0.0.5:554/stream", forms) == []


def test_plaintext_pictures_and_video_are_found(
    synthetic_clip_factory: SyntheticClipFactory,
) -> None:
    clip = synthetic_clip_factory("walk_past", 3.0).path.read_bytes()
    found = footage_signatures(clip)
    assert {"mp4 ftyp box", "mp4 mdat box", "mp4 avcC record"} <= set(found), found
    assert "jpeg SOI + JFIF" in footage_signatures(b"junk" + _picture(".jpg"))
    assert footage_signatures(_picture(".png")) == ["png signature"]
    # A raw H.264 elementary stream (what a leaked capture buffer would hold).
    annex_b = b"\x00\x00\x00\x01\x67\x64\x00\x1f\xac\xd9\x40\x50" + b"\x00" * 20
    assert footage_signatures(annex_b) == ["h264 SPS (Annex B)"]
    fragment = struct.pack("!I", 24) + b"moof" + struct.pack("!I", 16) + b"mfhd" + b"\x00" * 8
    assert "mp4 moof box" in footage_signatures(fragment)


def test_sealed_footage_and_random_bytes_match_nothing(
    synthetic_clip_factory: SyntheticClipFactory,
) -> None:
    clip = synthetic_clip_factory("walk_past", 3.0).path.read_bytes()
    assert footage_signatures(_sealed(clip)) == []
    assert footage_signatures(_sealed(_picture(".jpg"))) == []
    noise = random.Random(9).randbytes(16 << 20)  # far more than a short run stores
    assert footage_signatures(noise) == []


def _frame(ethertype: int, ip: bytes) -> bytes:
    return b"\x00" * 12 + struct.pack("!H", ethertype) + ip


def test_the_recorder_reads_syns_and_datagrams_and_ignores_the_rest() -> None:
    def ipv4(proto: int, dst: bytes, l4: bytes) -> bytes:
        header = bytes([0x45, 0]) + struct.pack("!HHHBB", 20 + len(l4), 0, 0, 64, proto)
        return header + b"\x00\x00" + bytes([10, 77, 0, 1]) + dst + l4

    def tcp(port: int, flags: int) -> bytes:
        return struct.pack("!HHIIBB", 40000, port, 0, 0, 0x50, flags) + b"\x00" * 6

    syn = _frame(0x0800, ipv4(6, bytes([192, 0, 2, 7]), tcp(443, 0x02)))
    assert parse("box0", syn) == Attempt("box0", "tcp", "192.0.2.7", 443)
    ack = _frame(0x0800, ipv4(6, bytes([192, 0, 2, 7]), tcp(443, 0x12)))
    assert parse("box0", ack) is None  # a SYN-ACK answers, it does not connect
    dns = _frame(0x0800, ipv4(17, bytes([10, 0, 0, 53]), struct.pack("!HHHH", 5353, 53, 8, 0)))
    assert parse("box0", dns) == Attempt("box0", "udp", "10.0.0.53", 53)
    ipv6 = (
        bytes([0x60, 0, 0, 0])
        + struct.pack("!HBB", 8, 17, 64)
        + bytes(16)
        + ipaddress.IPv6Address("2001:db8::1").packed
        + struct.pack("!HHHH", 5000, 123, 8, 0)
    )
    assert parse("lo", _frame(0x86DD, ipv6)) == Attempt("lo", "udp", "2001:db8::1", 123)
    assert parse("box0", _frame(0x0806, b"\x00" * 28)) is None  # ARP
