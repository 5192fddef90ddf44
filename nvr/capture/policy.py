"""Capture decisions as pure functions: how long to wait, what an error means, which options.

Contract:

- ``next_backoff(attempt, rng)``: seconds before retry ``attempt`` (0-based), exponential
  with "equal jitter": attempt 0 waits 0.5-1 s, each attempt doubles, capped at 30 s
  (15-30 s). Jitter keeps many cameras behind one flapping switch from reconnecting in
  lockstep; the floor keeps any single camera from hammering.
- ``classify_error(exc, ever_online=...)``: a ``Failure`` (health state, a one-line message
  fit for the owner, and whether to retry slowly). The message never contains the URL,
  so it cannot leak a camera password; ``describe`` scrubs anything else it is given.
- ``retry_delay(failure, attempt, rng)``: wrong credentials are retried slowly (1 min,
  doubling to 10 min) because many cameras lock an account after a few bad logins.
- ``open_options(transport)``: the FFmpeg demuxer options for a low-latency RTSP open.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

import av

from nvr.secrets import scrub

StreamState = Literal["connecting", "online", "offline", "auth_failed", "unreachable"]
Transport = Literal["tcp", "udp"]

BACKOFF_FIRST = 1.0  # seconds: the first retry comes within this
BACKOFF_CAP = 30.0
# While an outage is young, retry at least this often, so a camera that comes back (a
# reboot, a Wi-Fi blip) is recording again within ~2 s; only a long outage backs off to
# BACKOFF_CAP, sparing a dead camera and the network.
FAST_RETRY_CAP = 1.0
FAST_RETRY_WINDOW = 120.0
AUTH_RETRY_FIRST = 60.0
AUTH_RETRY_CAP = 600.0
STABLE_AFTER = 10.0  # seconds online after which a later failure starts backoff afresh


class Random(Protocol):
    def random(self) -> float: ...


def next_backoff(
    attempt: int, rng: Random, *, first: float = BACKOFF_FIRST, cap: float = BACKOFF_CAP
) -> float:
    """Seconds to wait before retry number ``attempt`` (0 = the first retry)."""
    if attempt < 0:
        raise ValueError(f"attempt must be >= 0, got {attempt}")
    base = min(cap, first * 2.0 ** min(attempt, 64))
    return base / 2 + rng.random() * base / 2


def attempts_after_session(attempt: int, online_seconds: float) -> int:
    """The backoff attempt to use after a session: a stable one resets the count, a
    connection that dies at once keeps backing off (no reconnect storm from a flapper)."""
    return 0 if online_seconds >= STABLE_AFTER else attempt


@dataclass(frozen=True)
class Failure:
    state: StreamState
    message: str
    slow_retry: bool = False


def retry_delay(
    failure: Failure, attempt: int, rng: Random, outage_seconds: float = float("inf")
) -> float:
    """Seconds until the next try. Wrong credentials retry slowly (cameras lock accounts);
    other failures retry fast for the first ``FAST_RETRY_WINDOW`` seconds of an outage,
    then back off exponentially up to ``BACKOFF_CAP``."""
    if failure.slow_retry:
        return next_backoff(attempt, rng, first=AUTH_RETRY_FIRST, cap=AUTH_RETRY_CAP)
    if outage_seconds < FAST_RETRY_WINDOW:
        return next_backoff(attempt, rng, cap=FAST_RETRY_CAP)
    return next_backoff(attempt, rng)


def describe(exc: BaseException) -> str:
    """A one-line, credential-free description of any exception."""
    if isinstance(exc, av.FFmpegError):
        # str() of a PyAV error ends with the URL it was opening: leave it out entirely.
        text = f"{type(exc).__name__}: {exc.strerror}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return scrub(" ".join(text.split()))[:300]


def classify_error(exc: BaseException, *, ever_online: bool) -> Failure:
    """What a failure to open or read a stream means for the owner."""
    down: StreamState = "offline" if ever_online else "unreachable"
    if isinstance(exc, av.error.HTTPUnauthorizedError):
        return Failure(
            "auth_failed",
            "the camera rejected the username or password (401 Unauthorized); "
            "check the camera's credentials in the config",
            slow_retry=True,
        )
    if isinstance(exc, av.error.HTTPForbiddenError):
        return Failure(
            "auth_failed",
            "the camera refused access to this stream (403 Forbidden); "
            "check the user's rights on the camera",
            slow_retry=True,
        )
    if isinstance(exc, av.error.HTTPNotFoundError):
        return Failure(down, "the camera has no stream at this path (404 Not Found)")
    if isinstance(exc, ConnectionRefusedError):
        return Failure(down, "connection refused: is the camera on, and is the port right?")
    if isinstance(exc, (av.error.ExitError, TimeoutError)):
        return Failure(down, "timed out waiting for the camera")
    if isinstance(exc, StreamEnded):
        return Failure(down, "the camera ended the stream")
    return Failure(down, describe(exc))


class StreamEnded(Exception):
    """The demuxer reached end of stream: a live camera hung up."""


def open_options(transport: Transport, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """FFmpeg options for opening a live RTSP stream with little start-up delay.

    ``fflags=nobuffer`` is deliberately *not* set: it discards the packets read while
    probing, which are exactly the keyframe a camera (or a GOP-caching server) sends first,
    so the first decodable frame would come one whole GOP later (measured: 1.6 s vs 0.1 s
    with a 2 s GOP). The small probe size and analyze duration are what make opening fast.
    """
    if transport not in ("tcp", "udp"):
        raise ValueError(f"transport must be 'tcp' or 'udp', got {transport!r}")
    options = {
        "rtsp_transport": transport,
        "flags": "low_delay",
        "probesize": "65536",
        "analyzeduration": "500000",  # microseconds
    }
    options.update(extra or {})
    return options
