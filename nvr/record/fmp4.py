"""Passthrough muxing of one segment into fragmented MP4, written straight to the store.

Contract::

    muxer = SegmentMuxer(segment, codec=info, metadata={...})   # writes ftyp + moov
    muxer.write(packet, pts, dts, keyframe)   # ticks of ``info.time_base``, rebased to 0
    muxer.write_audio(packet, pts)            # if muxer.audio: ticks of the audio time base
    muxer.pad_if_stale(1.0)                   # seal the age chunk with an MP4 ``free`` box
    muxer.close()                             # last fragment; the caller closes the segment

No decoding, no encoding: PyAV's MP4 muxer gets copies of the camera's packets. The output
is a file-like that only has ``write`` (no ``seek``), so FFmpeg treats it as a pipe and
never goes back: ``empty_moov`` puts the track header first, ``frag_keyframe`` starts a
fragment at each keyframe, ``frag_duration`` caps a fragment at ~1 s for long GOPs,
``default_base_moof`` makes every fragment's offsets relative to its own ``moof`` (so
filler between fragments is harmless), ``skip_trailer`` drops the ``mfra`` index (its
absolute offsets would not count our filler), and ``flush_packets`` hands each fragment
to ``write`` before ``mux`` returns. So between two ``write`` calls the plaintext always
ends on a top-level box boundary, which is where ``pad`` may put a ``free`` box.

Audio (``info.audio``, from a reader with ``audio=True``): AAC gets a second track, by
stream copy like the video (MP4 ``mp4a``, the AudioSpecificConfig from the SDP). PCM/G.711
has no stream-copy mapping into MP4 and video is never re-encoded, so it is not recorded
(``audio_recordable`` says so; the recorder logs it once). FFmpeg's interleaver orders
the two tracks by dts; fragments still start at video keyframes.
"""

from __future__ import annotations

import io
import logging
import struct
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import av
from av.audio.codeccontext import AudioCodecContext
from av.container import InputContainer, OutputContainer
from av.video.codeccontext import VideoCodecContext

from nvr.capture import StreamInfo
from nvr.storage.segments import OpenSegment, StorageFull

log = logging.getLogger(__name__)

FRAGMENT_SECONDS = 1.0
MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof+skip_trailer"
# NAL unit types that are parameter sets, by codec (H.264: SPS, PPS; H.265: VPS, SPS, PPS).
_PARAMETER_SETS = {"h264": (7, 8), "hevc": (32, 33, 34)}


def free_box(size: int) -> bytes:
    """An MP4 ``free`` box of exactly ``size`` bytes (header included); readers skip it."""
    if size < 8 or size > 0xFFFFFFFF:
        raise ValueError(f"a free box is 8 bytes to 4 GiB, not {size}")
    return struct.pack(">I4s", size, b"free") + bytes(size - 8)


def _nal_units(data: bytes) -> list[bytes]:
    """Split an Annex B byte stream on its start codes."""
    units: list[bytes] = []
    starts = []
    i = data.find(b"\x00\x00\x01")
    while i >= 0:
        starts.append(i + 3)
        i = data.find(b"\x00\x00\x01", i + 3)
    for n, start in enumerate(starts):
        end = starts[n + 1] - 3 if n + 1 < len(starts) else len(data)
        units.append(data[start:end].rstrip(b"\x00"))
    return [unit for unit in units if unit]


def parameter_sets(codec: str, keyframe: bytes) -> bytes | None:
    """SPS/PPS (and VPS) found in an Annex B keyframe, as Annex B extradata, or ``None``.

    For cameras whose SDP carries no ``sprop-parameter-sets``: the MP4 header needs them
    before the first fragment, and such cameras repeat them in front of each keyframe."""
    types = _PARAMETER_SETS.get(codec)
    if types is None:
        return None
    found = []
    for unit in _nal_units(keyframe):
        kind = unit[0] & 0x1F if codec == "h264" else (unit[0] >> 1) & 0x3F
        if kind in types:
            found.append(b"\x00\x00\x00\x01" + unit)
    return b"".join(found) or None


def audio_recordable(info: StreamInfo) -> bool:
    """Whether ``info``'s audio track can be copied into MP4 (AAC only)."""
    audio = info.audio
    return audio is not None and audio.codec == "aac" and audio.time_base is not None


class _SegmentSink:
    """The muxer's output file: forwards to the open segment, remembers the first failure
    (an exception raised inside FFmpeg's write callback would be reported as an I/O error
    with the cause lost), and swallows everything after it."""

    def __init__(self, segment: OpenSegment) -> None:
        self.segment = segment
        self.error: BaseException | None = None
        self.written = 0

    def write(self, data: bytes) -> int:
        if self.error is None:
            try:
                self.segment.write(data)
                self.written += len(data)
            except (StorageFull, OSError) as exc:
                self.error = exc
        return len(data)


# Raw elementary-stream demuxers, by codec: used to make a template stream (below).
_RAW_FORMATS = {"h264": "h264", "hevc": "hevc"}


def _video_stream(container: OutputContainer, codec: str, extradata: bytes | None) -> Any:
    """The output video stream, set up for stream copy without opening an encoder.

    ``add_stream("h264")`` makes an *encoder* context, and PyAV opens it when it writes the
    header: libx264 at the camera's resolution, once per segment. At 1080p that held ~8 MB
    resident per camera (x264 asks for transparent huge pages for its buffers, so each
    2 MB region it touches is resident whole), for an encoder that never sees a frame.
    Opened for MP4's global header, x264 also replaced the extradata set here with its
    own SPS/PPS, so the file's ``avcC`` described x264's settings, not the camera's
    (players decoded anyway from the parameter sets repeated before each keyframe).

    A stream copied from a template gets a decoder context that PyAV never opens, which
    is all a remux needs. The template is a throwaway raw-stream demuxer over the
    parameter sets alone: no slice, so nothing is decoded (FFmpeg says it "could not find
    codec parameters", which only shows if libav logging is turned on). Width, height,
    time base and extradata are then set from the camera's ``StreamInfo`` as before.
    Codecs without a raw demuxer here, or without parameter sets, keep ``add_stream``."""
    fmt = _RAW_FORMATS.get(codec)
    if fmt is None or not extradata:
        return container.add_stream(codec)
    with av.open(
        io.BytesIO(extradata), "r", format=fmt, options={"probesize": "32", "analyzeduration": "0"}
    ) as template:
        assert isinstance(template, InputContainer)
        return container.add_stream_from_template(template.streams.video[0], opaque=True)


class SegmentMuxer:
    """One segment's fMP4 muxer; see the module docstring. Not thread-safe."""

    def __init__(
        self,
        segment: OpenSegment,
        info: StreamInfo,
        *,
        extradata: bytes | None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        if info.time_base is None:
            raise ValueError("the stream has no time base")
        self.time_base: Fraction = info.time_base
        self._sink = _SegmentSink(segment)
        self.segment = segment
        container = av.open(
            self._sink,
            "w",
            format="mp4",
            options={
                "movflags": MOVFLAGS,
                "frag_duration": str(int(FRAGMENT_SECONDS * 1_000_000)),
                "flush_packets": "1",
            },
        )
        assert isinstance(container, OutputContainer)
        self._container = container
        try:
            stream = _video_stream(container, info.codec, extradata)
            ctx = stream.codec_context
            if not isinstance(ctx, VideoCodecContext):
                raise ValueError(f"{info.codec} is not a video codec")
            ctx.width, ctx.height = info.width, info.height
            if extradata:
                ctx.extradata = extradata
            stream.time_base = self.time_base
            self._audio_stream: Any = None
            if audio_recordable(info):
                self._audio_stream = self._add_audio(container, info)
            for key, value in (metadata or {}).items():
                container.metadata[key] = value
            container.start_encoding()  # ftyp + empty moov, flushed to the segment now
        except BaseException:
            container.close()
            raise
        self._stream: Any = stream
        self.packets = 0
        self.raise_if_failed()

    @staticmethod
    def _add_audio(container: OutputContainer, info: StreamInfo) -> Any:
        audio = info.audio
        assert audio is not None
        assert audio.time_base is not None
        stream = container.add_stream(audio.codec, rate=audio.sample_rate)
        ctx = stream.codec_context
        if not isinstance(ctx, AudioCodecContext):
            raise ValueError(f"{audio.codec} is not an audio codec")
        ctx.layout = (
            "mono"
            if audio.channels <= 1
            else "stereo"
            if audio.channels == 2
            else (f"{audio.channels}c")
        )
        if audio.extradata:
            ctx.extradata = audio.extradata
        stream.time_base = audio.time_base
        return stream

    @property
    def audio(self) -> bool:
        """Whether this segment has an audio track."""
        return self._audio_stream is not None

    @property
    def failed(self) -> BaseException | None:
        return self._sink.error

    def raise_if_failed(self) -> None:
        if self._sink.error is not None:
            raise self._sink.error

    def write(self, packet: av.Packet[Any], pts: int, dts: int, keyframe: bool) -> None:
        """Mux a copy of ``packet`` with the given timestamps (the original is shared with
        other consumers of the stream and must not change)."""
        out = av.Packet(bytes(packet))
        out.pts, out.dts = pts, dts
        out.time_base = self.time_base
        out.is_keyframe = keyframe
        out.stream = self._stream
        self._container.mux(out)
        self.packets += 1
        self.raise_if_failed()

    def write_audio(self, packet: av.Packet[Any], pts: int) -> None:
        """Mux a copy of an audio ``packet`` at ``pts`` (ticks of the audio track's time
        base, on the same zero as the video's)."""
        if self._audio_stream is None:
            raise ValueError("this segment has no audio track")
        out = av.Packet(bytes(packet))
        out.pts = out.dts = pts
        if packet.duration:
            out.duration = packet.duration
        out.time_base = self._audio_stream.time_base
        out.is_keyframe = True
        out.stream = self._audio_stream
        self._container.mux(out)
        self.raise_if_failed()

    def pad_if_stale(self, max_unsealed: float) -> int:
        """Between fragments only (which is whenever ``write`` is not running): fill the
        encryption chunk with a ``free`` box if its oldest byte waited > ``max_unsealed``."""
        if self._sink.error is not None or self.segment.unsealed_age() <= max_unsealed:
            return 0
        try:
            return self.segment.pad(free_box, min_size=8)
        except (StorageFull, OSError) as exc:
            self._sink.error = exc  # reported through ``failed``, like a muxer write
            return 0

    def close(self) -> None:
        """Flush the last fragment. Errors are logged: the footage before them is kept."""
        try:
            self._container.close()
        except Exception as exc:
            log.warning("muxer flush failed: %s", exc)
