"""The pure parts of live view: H.264 framing, a viewer's queue, the RTP clock, offers."""

from __future__ import annotations

from fractions import Fraction

import pytest

from nvr.capture import StreamInfo
from nvr.live.feed import LiveFrame, Viewer
from nvr.live.h264 import (
    BitstreamError,
    nal_types,
    parameter_sets,
    to_annexb,
    with_parameter_sets,
)
from nvr.live.service import offer_has_h264
from nvr.live.track import RESYNC_STEP, RtpClock

SPS = bytes([0x67, 0x42, 0xC0, 0x1F, 0xDA])
PPS = bytes([0x68, 0xCE, 0x3C, 0x80])
IDR = bytes([0x65, 0x88, 0x84, 0x00, 0x00, 0x03])  # an emulation-prevented run inside
SLICE = bytes([0x41, 0x9A, 0x02])
SC = b"\x00\x00\x00\x01"


def avcc(*units: bytes) -> bytes:
    return b"".join(len(u).to_bytes(4, "big") + u for u in units)


def avcc_record() -> bytes:
    return (
        bytes([1, 0x42, 0xC0, 0x1F, 0xFF, 0xE1])
        + len(SPS).to_bytes(2, "big")
        + SPS
        + bytes([1])
        + len(PPS).to_bytes(2, "big")
        + PPS
    )


def test_length_prefixed_units_become_annexb() -> None:
    assert to_annexb(avcc(IDR, SLICE)) == SC + IDR + SC + SLICE
    assert to_annexb(SC + IDR) == SC + IDR  # already Annex B


def test_a_truncated_length_prefix_is_an_error() -> None:
    with pytest.raises(BitstreamError):
        to_annexb(avcc(IDR)[:-1])


def test_parameter_sets_from_avcc_and_from_annexb_extradata() -> None:
    assert parameter_sets(avcc_record()) == (SC + SPS + SC + PPS, 4)
    assert parameter_sets(b"\x00\x00\x01" + SPS + b"\x00\x00\x01" + PPS) == (SC + SPS + SC + PPS, 4)
    assert parameter_sets(None) == (b"", 4)
    with pytest.raises(BitstreamError):
        parameter_sets(b"\x02garbage")


def test_a_keyframe_without_sps_gets_the_streams_sets_in_front() -> None:
    sets = SC + SPS + SC + PPS
    assert nal_types(with_parameter_sets(SC + IDR, sets)) == [7, 8, 5]
    carried = sets + SC + IDR
    assert with_parameter_sets(carried, sets) == carried  # not twice


def frame(keyframe: bool, seconds: float = 0.0, session: int = 1) -> LiveFrame:
    info = StreamInfo(session, "h264", 640, 360, Fraction(1, 90000), None)
    return LiveFrame(b"x", keyframe, seconds, info)


def test_a_viewer_starts_at_a_keyframe_and_resyncs_after_overflow() -> None:
    viewer = Viewer(maxsize=2)
    assert not viewer.put(frame(False))  # nothing before the first keyframe
    assert viewer.put(frame(True))
    assert viewer.put(frame(False))
    assert not viewer.put(frame(False))  # full: it empties (stale frames are worthless) ...
    assert viewer.qsize() == 0
    assert not viewer.put(frame(False))  # ... and takes nothing up to a keyframe
    assert viewer.put(frame(True))
    assert viewer.qsize() == 1
    assert viewer.dropped == 1 + 3 + 1


def test_the_rtp_clock_plays_the_backlog_at_once_then_in_real_time() -> None:
    clock = RtpClock()
    assert [clock.backlog(frame(i == 0, i * 0.1)) for i in range(3)] == [0, 1, 2]
    assert clock.live(frame(False, 0.3)) == 2 + 9000  # 0.1 s after the last backlog frame
    assert clock.live(frame(False, 0.4)) == 2 + 18000


def test_the_rtp_clock_never_goes_back_across_a_reconnect() -> None:
    clock = RtpClock()
    clock.live(frame(True, 50.0))
    clock.live(frame(False, 50.1))
    after = clock.live(frame(True, 0.0, session=2))  # the camera's clock restarted
    assert after == 9000 + RESYNC_STEP
    assert clock.live(frame(False, 0.1, session=2)) == after + 9000


def test_an_offer_needs_h264_with_packetization_mode_1() -> None:
    h264 = "a=rtpmap:102 H264/90000\r\na=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1"
    assert offer_has_h264(h264)
    assert not offer_has_h264(h264.replace("mode=1", "mode=0"))
    assert not offer_has_h264("a=rtpmap:96 VP8/90000\r\na=fmtp:96 packetization-mode=1")
