"""Checking a camera before it is added: connect once, decode one frame, report what it sends.

Contract: ``probe(url, transport=..., timeout=...)`` opens ``url`` with the ingest's own
FFmpeg options (``policy.open_options``), reads the first video stream until one frame
decodes (a keyframe with the stream's parameters known also counts, for codecs this FFmpeg
cannot decode), closes, and returns a ``ProbeResult``. ``timeout`` bounds the connection,
each read, and the wait for a decodable frame (so about twice ``timeout`` at worst).
Every failure is a ``ProbeFailed`` (a ``UserError`` with the failure's ``state``) whose
one-line reason comes from ``policy.classify_error`` (the same words the service's health
shows) and never contains the URL's password.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any
from urllib.parse import urlsplit

import av
from av.container import InputContainer
from av.video.stream import VideoStream

from nvr.capture.policy import Transport, classify_error, open_options
from nvr.errors import UserError
from nvr.secrets import mask_url

__all__ = ["ProbeFailed", "ProbeResult", "probe"]


class ProbeFailed(UserError):
    """A probe that failed; ``state`` is the policy's word for why (``auth_failed``,
    ``unreachable``, ``offline``, ... or ``no_video``), as the service's health says it."""

    def __init__(self, message: str, state: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.state = state


@dataclass(frozen=True)
class ProbeResult:
    """What a camera stream carries."""

    codec: str
    width: int
    height: int
    fps: float | None
    audio_codec: str | None

    def summary(self) -> str:
        """``h264 1920x1080 @ 15 fps`` (``@ ? fps`` when the camera does not say)."""
        fps = "?" if self.fps is None else f"{self.fps:g}"
        return f"{self.codec} {self.width}x{self.height} @ {fps} fps"


class _NoVideo(Exception):
    """No stream to look at: an unknown host, no video track, no frame in time."""

    def __init__(self, message: str, hint: str = "check the address and the stream path") -> None:
        super().__init__(message)
        self.hint = hint


_HINTS = {
    "auth_failed": "check the user name and the password file",
    "unreachable": "check the address and port, and that the camera is on",
    "offline": "check the address and port, and that the camera is on",
}


def probe(url: str, *, transport: Transport = "tcp", timeout: float = 8.0) -> ProbeResult:
    """Connect to ``url`` and report its video (and audio) format; see the module docstring."""
    started = time.monotonic()
    try:
        return _probe(url, transport, timeout)
    except _NoVideo as exc:
        raise ProbeFailed(f"{mask_url(url)}: {exc}", "no_video", hint=exc.hint) from None
    except (av.FFmpegError, OSError, TimeoutError) as exc:
        if time.monotonic() - started >= timeout and not isinstance(
            exc, av.error.HTTPError | av.error.HTTPClientError
        ):
            # FFmpeg's RTSP demuxer reports its interrupted open as "invalid data".
            exc = TimeoutError()
        failure = classify_error(exc, ever_online=False)
        # The policy's advice is written for the config file; the hint here is for the CLI.
        reason = failure.message.split("; ")[0]
        raise ProbeFailed(
            f"{mask_url(url)}: {reason}", failure.state, hint=_HINTS.get(failure.state)
        ) from None


def _probe(url: str, transport: Transport, timeout: float) -> ProbeResult:
    deadline = time.monotonic() + timeout
    host = urlsplit(url).hostname
    if host:
        # FFmpeg reports an unknown host as a bare "Input/output error"; ask first.
        try:
            socket.getaddrinfo(host, None)
        except (socket.gaierror, UnicodeError):
            raise _NoVideo(
                f"the host name {host!r} does not resolve", "check the camera's address"
            ) from None
    container = av.open(url, "r", options=open_options(transport), timeout=(timeout, timeout))
    try:
        assert isinstance(container, InputContainer)
        if not container.streams.video:
            raise _NoVideo("the stream has no video track")
        stream = container.streams.video[0]
        audio = container.streams.audio[0].codec_context.name if container.streams.audio else None
        for packet in container.demux(stream):
            if _decodes(stream, packet):
                ctx = stream.codec_context
                return ProbeResult(ctx.name, ctx.width, ctx.height, _fps(stream), audio)
            if time.monotonic() > deadline:
                break
        raise _NoVideo(f"no video frame arrived within {timeout:g} s")
    finally:
        container.close()


def _decodes(stream: VideoStream, packet: av.Packet[Any]) -> bool:
    if packet.size == 0:
        return False
    try:
        if stream.codec_context.decode(packet):
            return True
    except av.FFmpegError:
        pass  # a frame referring to one before we joined: wait for the next keyframe
    ctx = stream.codec_context
    return bool(packet.is_keyframe) and ctx.width > 0 and ctx.height > 0 and not ctx.is_open


def _fps(stream: VideoStream) -> float | None:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if isinstance(rate, Fraction) and 0 < rate <= 240:
            return round(float(rate), 2)
    return None
