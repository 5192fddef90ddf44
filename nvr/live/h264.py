"""H.264 access units as WebRTC wants them: Annex B, parameter sets before each keyframe.

Pure functions on bytes; no decoding. RTSP through FFmpeg gives Annex B packets and Annex B
extradata, an MP4-style source gives length-prefixed NAL units and ``avcC`` extradata:
``to_annexb(data, length_size)`` and ``parameter_sets(extradata)`` turn either into Annex B.
``with_parameter_sets(access_unit, sets)`` puts SPS/PPS in front of a keyframe that does not
carry its own, so a browser can start decoding at any keyframe the box forwards.
"""

from __future__ import annotations

from collections.abc import Iterator

START_CODE = b"\x00\x00\x00\x01"
NAL_IDR = 5
NAL_SPS = 7
NAL_PPS = 8


class BitstreamError(ValueError):
    """Bytes that are neither Annex B nor the length-prefixed form they claim to be."""


def is_annexb(data: bytes) -> bool:
    return data.startswith((b"\x00\x00\x01", START_CODE))


def nal_units(annexb: bytes) -> Iterator[bytes]:
    """The NAL units of an Annex B buffer, without their start codes."""
    start = annexb.find(b"\x00\x00\x01")
    while start >= 0:
        start += 3
        nxt = annexb.find(b"\x00\x00\x01", start)
        end = len(annexb) if nxt < 0 else nxt
        while nxt >= 0 and end > start and annexb[end - 1] == 0:
            end -= 1  # a zero before the next start code belongs to it (4-byte form)
        if end > start:
            yield annexb[start:end]
        start = nxt


def nal_types(annexb: bytes) -> list[int]:
    return [unit[0] & 0x1F for unit in nal_units(annexb) if unit]


def to_annexb(data: bytes, length_size: int = 4) -> bytes:
    """A length-prefixed access unit (``avcC`` style) as Annex B; Annex B passes as is."""
    if is_annexb(data):
        return data
    out = bytearray()
    i = 0
    while i < len(data):
        if i + length_size > len(data):
            raise BitstreamError("truncated NAL length prefix")
        size = int.from_bytes(data[i : i + length_size], "big")
        i += length_size
        if size == 0 or i + size > len(data):
            raise BitstreamError("NAL length past the end of the packet")
        out += START_CODE + data[i : i + size]
        i += size
    return bytes(out)


def parameter_sets(extradata: bytes | None) -> tuple[bytes, int]:
    """SPS and PPS from a stream's extradata as one Annex B buffer, and the NAL length size
    its packets use (4 for Annex B streams). ``b""`` when there is none."""
    if not extradata:
        return b"", 4
    if is_annexb(extradata):
        units = [u for u in nal_units(extradata) if u and (u[0] & 0x1F) in (NAL_SPS, NAL_PPS)]
        return b"".join(START_CODE + u for u in units), 4
    if extradata[0] != 1 or len(extradata) < 7:
        raise BitstreamError("extradata is neither Annex B nor an avcC record")
    length_size = (extradata[4] & 0x03) + 1
    out = bytearray()
    i = 5
    for count_mask in (0x1F, 0xFF):  # SPS count (5 bits), then PPS count (8 bits)
        if i >= len(extradata):
            raise BitstreamError("truncated avcC record")
        count = extradata[i] & count_mask
        i += 1
        for _ in range(count):
            size = int.from_bytes(extradata[i : i + 2], "big")
            i += 2
            if i + size > len(extradata):
                raise BitstreamError("truncated avcC record")
            out += START_CODE + extradata[i : i + size]
            i += size
    return bytes(out), length_size


def with_parameter_sets(access_unit: bytes, sets: bytes) -> bytes:
    """``access_unit`` (Annex B) with ``sets`` in front unless it already carries an SPS."""
    if not sets or NAL_SPS in nal_types(access_unit):
        return access_unit
    return sets + access_unit
