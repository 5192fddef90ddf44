"""A JPEG of a camera's latest picture, decoded on demand from the feed's latest GOP.

``jpeg_of(frames)`` decodes the frames (a keyframe and what followed it) with PyAV and
encodes the last picture as JPEG with FFmpeg's ``mjpeg`` encoder: CPU-bound, so callers run
it in a thread. ``NoPicture`` when nothing decodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import av
from av.codec.context import CodecContext

from nvr.live.feed import LiveFrame

JPEG_QUALITY = 4  # FFmpeg's qscale for mjpeg: 2 (best) .. 31


class NoPicture(Exception):
    """The frames did not decode into a picture."""


@dataclass(frozen=True)
class Snapshot:
    jpeg: bytes
    width: int
    height: int


def jpeg_of(frames: list[LiveFrame]) -> Snapshot:
    if not frames:
        raise NoPicture("no keyframe from the camera yet")
    info = frames[0].info
    decoder = CodecContext.create(info.codec, "r")
    assert isinstance(decoder, av.VideoCodecContext)
    if info.extradata and info.codec != "h264":  # H.264 frames carry SPS/PPS already
        decoder.extradata = info.extradata
    last = None
    try:
        for frame in frames:
            for picture in decoder.decode(av.Packet(frame.data)):
                last = picture
        for picture in decoder.decode(None):
            last = picture
    except av.FFmpegError as exc:
        if last is None:
            raise NoPicture(f"the camera's picture did not decode: {exc}") from None
    if not isinstance(last, av.VideoFrame):
        raise NoPicture("the camera's frames did not decode into a picture")
    encoder = CodecContext.create("mjpeg", "w")
    assert isinstance(encoder, av.VideoCodecContext)
    encoder.width, encoder.height = last.width, last.height
    encoder.pix_fmt = "yuvj420p"
    encoder.time_base = Fraction(1, 25)
    encoder.options = {"qscale": str(JPEG_QUALITY)}
    encoder.flags |= av.codec.context.Flags.qscale
    encoder.global_quality = JPEG_QUALITY * 118  # FF_QP2LAMBDA
    picture = last.reformat(format="yuvj420p")
    picture.pts = 0
    data = b"".join(bytes(p) for p in [*encoder.encode(picture), *encoder.encode(None)])
    return Snapshot(data, last.width, last.height)
