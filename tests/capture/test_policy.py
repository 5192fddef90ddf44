"""Capture decisions: backoff, what an error means, FFmpeg options. Pure, no I/O."""

from __future__ import annotations

import errno
import random

import av
import pytest

from nvr.capture.policy import (
    AUTH_RETRY_CAP,
    AUTH_RETRY_FIRST,
    BACKOFF_CAP,
    StreamEnded,
    attempts_after_session,
    classify_error,
    describe,
    next_backoff,
    open_options,
    retry_delay,
)

URL = "rtsp://admin:hunter2@192.0.2.7:554/stream1"


class Fixed:
    def __init__(self, value: float) -> None:
        self.value = value

    def random(self) -> float:
        return self.value


def test_backoff_doubles_with_jitter_and_caps() -> None:
    low = [next_backoff(a, Fixed(0.0)) for a in range(8)]
    high = [next_backoff(a, Fixed(1.0)) for a in range(8)]
    assert low == [0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0, 15.0]
    assert high == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    rng = random.Random(1)
    delays = [next_backoff(0, rng) for _ in range(200)]
    assert all(0.5 <= d <= 1.0 for d in delays)  # the first retry comes within a second
    assert len({round(d, 3) for d in delays}) > 50  # and is spread out, not in lockstep
    assert next_backoff(10_000, rng) <= BACKOFF_CAP
    with pytest.raises(ValueError, match="attempt"):
        next_backoff(-1, rng)


def test_a_stable_session_resets_backoff_a_flapping_one_does_not() -> None:
    assert attempts_after_session(5, 60.0) == 0
    assert attempts_after_session(5, 1.0) == 5


def error(kind: type[av.FFmpegError], code: int, text: str) -> av.FFmpegError:
    return kind(code, text, URL)


def test_wrong_password_is_auth_failed_and_retried_slowly() -> None:
    exc = error(av.error.HTTPUnauthorizedError, 0, "Server returned 401 Unauthorized")
    failure = classify_error(exc, ever_online=True)
    assert failure.state == "auth_failed"
    assert "401" in failure.message
    assert "password" in failure.message
    assert failure.slow_retry
    first = retry_delay(failure, 0, Fixed(0.0))
    assert first >= AUTH_RETRY_FIRST / 2
    assert retry_delay(failure, 50, Fixed(1.0)) == AUTH_RETRY_CAP
    forbidden = error(av.error.HTTPForbiddenError, 0, "Server returned 403 Forbidden")
    assert classify_error(forbidden, ever_online=False).state == "auth_failed"


@pytest.mark.parametrize(
    ("exc", "words"),
    [
        (
            error(av.error.ConnectionRefusedError, errno.ECONNREFUSED, "Connection refused"),
            "refused",
        ),
        (error(av.error.ExitError, 0, "Immediate exit requested"), "timed out"),
        (error(av.error.TimeoutError, errno.ETIMEDOUT, "Connection timed out"), "timed out"),
        (error(av.error.HTTPNotFoundError, 0, "Server returned 404 Not Found"), "404"),
        (error(av.error.InvalidDataError, 0, "Invalid data found"), "InvalidDataError"),
        (StreamEnded(), "ended"),
    ],
)
def test_other_failures_are_offline_or_unreachable(exc: Exception, words: str) -> None:
    assert classify_error(exc, ever_online=False).state == "unreachable"
    failure = classify_error(exc, ever_online=True)
    assert failure.state == "offline"
    assert words in failure.message
    assert not failure.slow_retry
    assert retry_delay(failure, 0, Fixed(1.0)) <= 1.0


def test_messages_never_carry_the_password() -> None:
    for exc in [
        error(av.error.OSError, errno.EIO, "Input/output error"),
        error(av.error.HTTPUnauthorizedError, 0, "401"),
        RuntimeError(f"could not open {URL}"),
        ValueError("password=hunter2 rejected"),
    ]:
        assert "hunter2" not in classify_error(exc, ever_online=False).message
        assert "hunter2" not in describe(exc)


def test_open_options() -> None:
    tcp = open_options("tcp")
    assert tcp["rtsp_transport"] == "tcp"
    assert tcp["flags"] == "low_delay"
    assert int(tcp["probesize"]) <= 65536
    assert int(tcp["analyzeduration"]) <= 1_000_000
    assert "nobuffer" not in tcp.get("fflags", "")  # it would throw away the first keyframe
    assert open_options("udp", {"probesize": "32"})["probesize"] == "32"
    with pytest.raises(ValueError, match="transport"):
        open_options("http")  # type: ignore[arg-type]


def test_young_outages_retry_fast_then_back_off() -> None:
    from nvr.capture.policy import FAST_RETRY_CAP, FAST_RETRY_WINDOW, Failure

    failure = Failure("offline", "the camera closed the stream")
    assert max(retry_delay(failure, a, Fixed(1.0), 5.0) for a in range(20)) == FAST_RETRY_CAP
    assert retry_delay(failure, 10, Fixed(1.0), FAST_RETRY_WINDOW + 1) == BACKOFF_CAP
    slow = Failure("auth_failed", "the camera rejected the username or password", True)
    assert retry_delay(slow, 0, Fixed(1.0), 5.0) >= 60.0
