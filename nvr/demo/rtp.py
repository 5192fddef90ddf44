"""RTP/RTCP for one H.264 video stream: packetisation, sender reports, SDP. Pure functions.

Contract:

- ``au_payloads(annexb)`` turns one encoded frame (an access unit in Annex B byte-stream
  form, as libx264 writes it) into RTP payloads per RFC 6184 packetization-mode 1: a NAL
  unit that fits goes as a single NAL unit packet, a bigger one as FU-A fragments. The
  caller sets the marker bit on the last payload of the access unit.
- ``rtp_packet`` / ``sender_report`` build the wire bytes (RFC 3550); ``interleaved``
  frames them for RTSP over TCP (RFC 2326 section 10.12).
- ``sdp_for_h264`` writes the session description a DESCRIBE answers with (RFC 6184
  section 8.2.1: profile-level-id and sprop-parameter-sets from the stream's SPS/PPS).
"""

from __future__ import annotations

import base64
import struct
from datetime import datetime

RTP_CLOCK = 90_000  # Hz, fixed for video (RFC 6184 section 8.2.1)
PAYLOAD_TYPE = 96  # first dynamic payload type
MAX_PAYLOAD = 1400  # bytes: what a camera keeps under a 1500-byte MTU, even over TCP

NAL_SPS, NAL_PPS, NAL_FU_A = 7, 8, 28

_NTP_EPOCH_OFFSET = 2_208_988_800  # seconds from 1900-01-01 (NTP) to 1970-01-01 (Unix)


def split_annexb(data: bytes) -> list[bytes]:
    """NAL units of an Annex B byte stream, without their start codes."""
    nals: list[bytes] = []
    starts: list[tuple[int, int]] = []  # (start code position, NAL start)
    i = data.find(b"\x00\x00\x01")
    while i >= 0:
        code_at = i - 1 if i > 0 and data[i - 1] == 0 else i
        starts.append((code_at, i + 3))
        i = data.find(b"\x00\x00\x01", i + 3)
    for n, (_code_at, begin) in enumerate(starts):
        end = starts[n + 1][0] if n + 1 < len(starts) else len(data)
        if end > begin:
            nals.append(data[begin:end])
    return nals


def nal_type(nal: bytes) -> int:
    return nal[0] & 0x1F


def fragment_nal(nal: bytes, max_payload: int = MAX_PAYLOAD) -> list[bytes]:
    """RTP payloads for one NAL unit: itself if it fits, else FU-A fragments."""
    if len(nal) <= max_payload:
        return [nal]
    indicator = (nal[0] & 0xE0) | NAL_FU_A  # keeps F and NRI of the original header
    kind = nal[0] & 0x1F
    body = nal[1:]
    step = max_payload - 2  # FU indicator + FU header
    chunks = [body[i : i + step] for i in range(0, len(body), step)]
    out = []
    for n, chunk in enumerate(chunks):
        header = kind | (0x80 if n == 0 else 0) | (0x40 if n == len(chunks) - 1 else 0)
        out.append(bytes((indicator, header)) + chunk)
    return out


def au_payloads(annexb: bytes, max_payload: int = MAX_PAYLOAD) -> list[bytes]:
    """All RTP payloads of one access unit, in order. Access unit delimiters are dropped
    (RFC 6184 does not forbid them, but they carry nothing a receiver needs)."""
    return [
        payload
        for nal in split_annexb(annexb)
        if nal_type(nal) != 9
        for payload in fragment_nal(nal, max_payload)
    ]


def parameter_sets(annexb: bytes) -> tuple[bytes, bytes] | None:
    """(SPS, PPS) found in an access unit, or None if it carries neither pair."""
    sps = pps = None
    for nal in split_annexb(annexb):
        if nal_type(nal) == NAL_SPS and sps is None:
            sps = nal
        elif nal_type(nal) == NAL_PPS and pps is None:
            pps = nal
    return (sps, pps) if sps is not None and pps is not None else None


def rtp_packet(
    payload: bytes, *, seq: int, timestamp: int, ssrc: int, marker: bool, pt: int = PAYLOAD_TYPE
) -> bytes:
    header = struct.pack(
        "!BBHII",
        0x80,  # version 2, no padding, no extension, no CSRC
        (0x80 if marker else 0) | pt,
        seq & 0xFFFF,
        timestamp & 0xFFFFFFFF,
        ssrc,
    )
    return header + payload


def ntp_timestamp(when: datetime) -> int:
    """64-bit NTP timestamp (seconds since 1900 in 32.32 fixed point) of an aware datetime."""
    seconds = when.timestamp() + _NTP_EPOCH_OFFSET
    return round(seconds * (1 << 32)) & 0xFFFF_FFFF_FFFF_FFFF


def sender_report(
    *, ssrc: int, ntp: int, rtp_time: int, packets: int, octets: int, cname: str
) -> bytes:
    """A compound RTCP packet: SR (no report blocks) + SDES CNAME, as RFC 3550 requires."""
    sr = struct.pack(
        "!BBHIQIII",
        0x80,
        200,  # SR
        6,  # length in 32-bit words minus one
        ssrc,
        ntp,
        rtp_time & 0xFFFFFFFF,
        packets & 0xFFFFFFFF,
        octets & 0xFFFFFFFF,
    )
    name = cname.encode()[:255]
    item = bytes((1, len(name))) + name + b"\x00"  # CNAME item, then the end-of-list null
    item += b"\x00" * (-(4 + len(item)) % 4)  # pad the chunk to a 32-bit boundary
    sdes = struct.pack("!BBHI", 0x81, 202, (4 + len(item)) // 4, ssrc) + item
    return sr + sdes


def interleaved(channel: int, data: bytes) -> bytes:
    """Frame an RTP/RTCP packet for an RTSP TCP connection: '$', channel, length, data."""
    return struct.pack("!cBH", b"$", channel, len(data)) + data


def sdp_for_h264(
    *, sps: bytes, pps: bytes, session_id: int, host: str, title: str, fps: int
) -> str:
    profile_level_id = sps[1:4].hex().upper()
    sprop = ",".join(base64.b64encode(x).decode() for x in (sps, pps))
    lines = [
        "v=0",
        f"o=- {session_id} 1 IN IP4 {host}",
        f"s={title}",
        f"c=IN IP4 {host}",
        "t=0 0",
        "a=range:npt=now-",
        "a=control:*",
        f"m=video 0 RTP/AVP {PAYLOAD_TYPE}",
        f"a=rtpmap:{PAYLOAD_TYPE} H264/{RTP_CLOCK}",
        f"a=fmtp:{PAYLOAD_TYPE} packetization-mode=1;profile-level-id={profile_level_id};"
        f"sprop-parameter-sets={sprop}",
        f"a=framerate:{fps}",
        "a=control:trackID=0",
    ]
    return "\r\n".join(lines) + "\r\n"
