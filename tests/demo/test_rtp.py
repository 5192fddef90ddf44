"""RTP packetisation (RFC 6184), RTCP sender reports, SDP and RTSP messages: pure functions."""

from __future__ import annotations

import base64
import struct
from datetime import UTC, datetime

import pytest

from nvr.demo.rtp import (
    au_payloads,
    fragment_nal,
    interleaved,
    ntp_timestamp,
    parameter_sets,
    rtp_packet,
    sdp_for_h264,
    sender_report,
    split_annexb,
)
from nvr.demo.rtsp import RtspError, parse_request, parse_transport, response

SPS = bytes.fromhex("6742c01fda03c045fb84")
PPS = bytes.fromhex("68ce3c80")
IDR = bytes([0x65]) + bytes(range(256)) * 20  # 5121 bytes: needs fragments
AUD = bytes([0x09, 0xF0])


def annexb(*nals: bytes, long_codes: bool = True) -> bytes:
    code = b"\x00\x00\x00\x01" if long_codes else b"\x00\x00\x01"
    return b"".join(code + nal for nal in nals)


def test_split_annexb_handles_both_start_code_lengths() -> None:
    data = b"\x00\x00\x00\x01" + SPS + b"\x00\x00\x01" + PPS + b"\x00\x00\x00\x01" + IDR
    assert split_annexb(data) == [SPS, PPS, IDR]
    assert parameter_sets(data) == (SPS, PPS)
    assert parameter_sets(annexb(IDR)) is None


def test_small_nal_goes_as_a_single_nal_unit_packet() -> None:
    assert fragment_nal(SPS, 1400) == [SPS]


def test_fu_a_fragments_reassemble_to_the_nal() -> None:
    parts = fragment_nal(IDR, 1400)
    assert len(parts) == 4
    assert all(len(p) <= 1400 for p in parts)
    for n, part in enumerate(parts):
        assert part[0] & 0x1F == 28  # FU-A
        assert part[0] & 0x60 == IDR[0] & 0x60  # NRI kept
        assert part[1] & 0x1F == 5  # original type
        assert bool(part[1] & 0x80) == (n == 0)  # start bit
        assert bool(part[1] & 0x40) == (n == len(parts) - 1)  # end bit
    rebuilt = bytes([(parts[0][0] & 0xE0) | (parts[0][1] & 0x1F)]) + b"".join(p[2:] for p in parts)
    assert rebuilt == IDR


def test_access_unit_payloads_drop_delimiters_and_keep_order() -> None:
    payloads = au_payloads(annexb(AUD, SPS, PPS, IDR))
    assert payloads[:2] == [SPS, PPS]
    assert all(p[0] & 0x1F == 28 for p in payloads[2:])


def test_rtp_header() -> None:
    packet = rtp_packet(b"xy", seq=0x1_0005, timestamp=2**32 + 7, ssrc=0xDEADBEEF, marker=True)
    first, second, seq, ts, ssrc = struct.unpack("!BBHII", packet[:12])
    assert first >> 6 == 2
    assert second == 0x80 | 96
    assert (seq, ts, ssrc) == (5, 7, 0xDEADBEEF)
    assert packet[12:] == b"xy"
    assert interleaved(3, packet)[:4] == b"$\x03\x00\x0e"


def test_sender_report_layout_and_ntp_time() -> None:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert ntp_timestamp(epoch) == 2_208_988_800 << 32
    report = sender_report(ssrc=1, ntp=5 << 32, rtp_time=9000, packets=3, octets=300, cname="c")
    assert len(report) % 4 == 0
    _v, pt, length, ssrc, ntp, rtp, packets, octets = struct.unpack("!BBHIQIII", report[:28])
    assert (pt, (length + 1) * 4, ssrc, ntp, rtp, packets, octets) == (
        200,
        28,
        1,
        5 << 32,
        9000,
        3,
        300,
    )
    _v, pt, length = struct.unpack("!BBH", report[28:32])
    assert pt == 202
    assert 28 + (length + 1) * 4 == len(report)


def test_sdp_carries_what_a_player_needs() -> None:
    sdp = sdp_for_h264(sps=SPS, pps=PPS, session_id=1, host="127.0.0.1", title="t", fps=10)
    assert "a=rtpmap:96 H264/90000\r\n" in sdp
    assert "packetization-mode=1" in sdp
    assert "profile-level-id=42C01F" in sdp
    sprop = sdp.split("sprop-parameter-sets=")[1].split("\r\n")[0]
    assert [base64.b64decode(x) for x in sprop.split(",")] == [SPS, PPS]
    assert "a=control:trackID=0" in sdp


def test_parse_request() -> None:
    request = parse_request(
        b"SETUP rtsp://h/doorbell/trackID=0 RTSP/1.0\r\nCSeq: 3\r\n"
        b"Session: abc;timeout=60\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n"
    )
    assert (request.method, request.path, request.cseq, request.session) == (
        "SETUP",
        "/doorbell/trackID=0",
        "3",
        "abc",
    )
    with pytest.raises(RtspError) as missing:
        parse_request(b"OPTIONS * RTSP/1.0\r\n\r\n")
    assert missing.value.status == 400
    with pytest.raises(RtspError) as version:
        parse_request(b"OPTIONS * RTSP/2.0\r\nCSeq: 1\r\n\r\n")
    assert version.value.status == 505


def test_transport_is_tcp_interleaved_only() -> None:
    assert parse_transport("RTP/AVP/TCP;unicast;interleaved=4-5") == (4, 5)
    assert parse_transport("RTP/AVP/TCP;unicast") == (0, 1)
    offer = "RTP/AVP;unicast;client_port=5000-5001,RTP/AVP/TCP;unicast;interleaved=2-3"
    assert parse_transport(offer) == (2, 3)
    with pytest.raises(RtspError) as udp:
        parse_transport("RTP/AVP;unicast;client_port=5000-5001")
    assert udp.value.status == 461


def test_response_format() -> None:
    assert response(461, "7") == (
        b"RTSP/1.0 461 Unsupported Transport\r\nCSeq: 7\r\nServer: Porchlight demo doorbell\r\n\r\n"
    )
    assert response(200, "1", body=b"abc").endswith(b"Content-Length: 3\r\n\r\nabc")
