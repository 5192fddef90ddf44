"""RTSP/1.0 messages (RFC 2326) for the demo doorbell's server side. Pure functions.

Contract: ``parse_request(head)`` turns the bytes up to the blank line into a ``Request``
(or raises ``RtspError`` carrying the status to answer); ``parse_transport`` picks the
interleaved TCP channels out of a SETUP ``Transport`` header, or raises ``RtspError(461)``
when the client offers only UDP; ``response`` formats an answer. No I/O here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    454: "Session Not Found",
    455: "Method Not Valid in This State",
    459: "Aggregate Operation Not Allowed",
    461: "Unsupported Transport",
    500: "Internal Server Error",
    501: "Not Implemented",
    505: "RTSP Version Not Supported",
}

METHODS = ("OPTIONS", "DESCRIBE", "SETUP", "PLAY", "GET_PARAMETER", "TEARDOWN")


class RtspError(Exception):
    """A request we answer with an error status instead of 200."""

    def __init__(self, status: int, detail: str = "") -> None:
        super().__init__(f"{status} {REASONS.get(status, '')}: {detail}")
        self.status = status


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    headers: Mapping[str, str]  # keys lower-cased
    cseq: str

    @property
    def path(self) -> str:
        return urlsplit(self.url).path.rstrip("/") or "/"

    @property
    def session(self) -> str | None:
        value = self.headers.get("session")
        return value.split(";", 1)[0].strip() if value else None

    @property
    def content_length(self) -> int:
        try:
            return max(0, int(self.headers.get("content-length", "0")))
        except ValueError as exc:
            raise RtspError(400, "bad Content-Length") from exc


def parse_request(head: bytes) -> Request:
    """Parse a request line and headers (everything before the blank line)."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RtspError(400, "request is not UTF-8") from exc
    lines = text.strip("\r\n").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise RtspError(400, f"bad request line {lines[0][:80]!r}")
    method, url, version = parts
    if version != "RTSP/1.0":
        raise RtspError(505, version[:20])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise RtspError(400, f"bad header line {line[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    cseq = headers.get("cseq")
    if cseq is None:
        raise RtspError(400, "missing CSeq")
    return Request(method=method, url=url, headers=headers, cseq=cseq)


_INTERLEAVED = re.compile(r"(?:^|;)interleaved=(\d+)(?:-(\d+))?(?:;|$)")


def parse_transport(value: str) -> tuple[int, int]:
    """RTP and RTCP channel numbers for the first TCP transport the client offers.

    The demo camera is TCP-only (loopback, one connection per viewer, no UDP ports to
    manage); a UDP-only offer is answered 461, after which FFmpeg retries over TCP.
    """
    for spec in value.split(","):
        spec = spec.strip()
        if not spec.upper().startswith("RTP/AVP/TCP"):
            continue
        match = _INTERLEAVED.search(spec)
        if match is None:
            return 0, 1
        rtp = int(match.group(1))
        rtcp = int(match.group(2)) if match.group(2) else rtp + 1
        if not (0 <= rtp <= 255 and 0 <= rtcp <= 255):
            raise RtspError(400, "interleaved channel out of range")
        return rtp, rtcp
    raise RtspError(461, "only RTP/AVP/TCP (interleaved) is offered by this camera")


def response(
    status: int, cseq: str, headers: Mapping[str, str] | None = None, body: bytes = b""
) -> bytes:
    lines = [f"RTSP/1.0 {status} {REASONS.get(status, 'Unknown')}", f"CSeq: {cseq}"]
    lines.append("Server: Porchlight demo doorbell")
    lines.extend(f"{k}: {v}" for k, v in (headers or {}).items())
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body
