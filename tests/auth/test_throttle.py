"""Login throttling: free attempts, doubling delays to a cap, per account and per address,
counted before the password check, and bounded memory under address spraying."""

from __future__ import annotations

import pytest

from nvr.auth.throttle import (
    ACCOUNT_POLICY,
    ADDRESS_POLICY,
    FailureThrottle,
    Lockout,
    LoginThrottle,
    ThrottlePolicy,
    address_key,
)
from nvr.clock import FakeClock

SMALL = ThrottlePolicy(free_attempts=3, base_delay=1, max_delay=8, forget_after=3600)
LOOSE = ThrottlePolicy(free_attempts=1000, base_delay=1, max_delay=8, forget_after=3600)


def make(
    clock: FakeClock,
    *,
    account: ThrottlePolicy = LOOSE,
    address: ThrottlePolicy = LOOSE,
    max_keys: int = 100,
) -> tuple[LoginThrottle, list[Lockout]]:
    notices: list[Lockout] = []
    throttle = LoginThrottle(
        clock,
        account_policy=account,
        address_policy=address,
        max_keys=max_keys,
        on_lockout=notices.append,
    )
    return throttle, notices


def test_delays_double_from_one_second_to_the_cap() -> None:
    assert [SMALL.delay(n) for n in range(1, 10)] == [0, 0, 0, 1, 2, 4, 8, 8, 8]
    assert ADDRESS_POLICY.delay(5) == 0
    assert ADDRESS_POLICY.delay(6) == 1
    assert ADDRESS_POLICY.delay(1000) == 900
    assert ACCOUNT_POLICY.delay(10) == 0
    assert ACCOUNT_POLICY.delay(10_000) == 300


def test_free_attempts_then_backoff_per_address() -> None:
    clock = FakeClock()
    throttle, notices = make(clock, address=SMALL)
    for name in ("a", "b", "c"):
        assert throttle.attempt(name, "192.0.2.7").allowed
    assert notices == []
    assert throttle.attempt("d", "192.0.2.7").allowed  # 4th: allowed, but now wait 1 s
    assert notices == [Lockout("address", "192.0.2.7", 4, 1.0)]
    refused = throttle.attempt("e", "192.0.2.7")
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(1.0)
    assert throttle.attempt("e", "192.0.2.8").allowed  # another address is not affected
    clock.advance(1)
    assert throttle.attempt("e", "192.0.2.7").allowed
    assert not throttle.attempt("e", "192.0.2.7").allowed
    assert notices[-1].retry_after == 2.0


def test_refused_attempts_are_not_counted() -> None:
    clock = FakeClock()
    throttle, _ = make(clock, address=SMALL)
    for _ in range(4):
        throttle.attempt("owner", "192.0.2.7")
    for _ in range(50):
        assert not throttle.attempt("owner", "192.0.2.7").allowed
    clock.advance(1)
    assert throttle.attempt("owner", "192.0.2.7").allowed  # still only the 5th: 2 s next
    clock.advance(1.5)
    assert not throttle.attempt("owner", "192.0.2.7").allowed


def test_per_account_across_addresses_and_success_clears_the_account() -> None:
    clock = FakeClock()
    throttle, notices = make(clock, account=SMALL)
    for i in range(4):
        assert throttle.attempt("Owner", f"192.0.2.{i}").allowed
    assert not throttle.attempt(" owner ", "198.51.100.1").allowed  # names fold case
    assert notices == [Lockout("account", "owner", 4, 1.0)]
    clock.advance(1)
    assert throttle.attempt("owner", "198.51.100.1").allowed
    throttle.succeeded("owner", "198.51.100.1")
    assert throttle.attempt("owner", "198.51.100.1").allowed


def test_success_does_not_clear_the_address() -> None:
    clock = FakeClock()
    throttle, _ = make(clock, address=SMALL)
    for _ in range(4):
        throttle.attempt("owner", "192.0.2.9")
    throttle.succeeded("installer", "192.0.2.10")
    assert not throttle.attempt("installer", "192.0.2.9").allowed


def test_an_address_counts_failures_not_successes() -> None:
    """A success takes back only its own attempt: sign in all day from one address and
    never wait; but the failures in between still add up, and a success clears none."""
    clock = FakeClock()
    throttle, notices = make(clock, address=SMALL)
    for _ in range(20):
        assert throttle.attempt("sam", "192.0.2.9").allowed
        throttle.succeeded("sam", "192.0.2.9")
    assert notices == []
    for _ in range(3):  # three failures, each after a success
        assert throttle.attempt("sam", "192.0.2.9").allowed
        throttle.succeeded("sam", "192.0.2.9")
        assert throttle.attempt("owner", "192.0.2.9").allowed
    assert throttle.attempt("owner", "192.0.2.9").allowed  # the 4th failure: wait 1 s
    assert notices == [Lockout("address", "192.0.2.9", 4, 1.0)]
    assert not throttle.attempt("sam", "192.0.2.9").allowed


def test_keys_are_forgotten_after_a_quiet_hour() -> None:
    clock = FakeClock()
    throttle, _ = make(clock, address=SMALL)
    for _ in range(7):
        clock.advance(10)
        throttle.attempt("owner", "192.0.2.7")
    clock.advance(3600)
    for _ in range(3):
        assert throttle.attempt("owner", "192.0.2.7").allowed


def test_a_wall_clock_jump_changes_nothing() -> None:
    from datetime import UTC, datetime

    clock = FakeClock()
    throttle, _ = make(clock, address=SMALL)
    for _ in range(5):
        throttle.attempt("owner", "192.0.2.7")
    clock.set_wall(datetime(2030, 1, 1, tzinfo=UTC))
    assert not throttle.attempt("owner", "192.0.2.7").allowed


def test_ipv6_clients_are_throttled_by_their_64() -> None:
    assert address_key("2001:db8:1:2::1") == address_key("2001:db8:1:2:ffff::9")
    assert address_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert address_key(None) == "unknown"
    assert address_key("testclient") == "testclient"


def test_spraying_addresses_and_names_keeps_memory_bounded() -> None:
    clock = FakeClock()
    throttle, _ = make(clock, address=SMALL, account=SMALL, max_keys=50)
    for _ in range(5):
        throttle.attempt("owner", "192.0.2.7")  # the real victim address, now waiting
    for i in range(5000):
        throttle.attempt(f"user{i}", f"10.{i // 65536}.{(i // 256) % 256}.{i % 256}")
    assert throttle.tracked() == (50, 50)
    # Keys that are still waiting are the last to go: the sprayer cannot free them.
    assert not throttle.attempt("nobody", "192.0.2.7").allowed


def test_the_stalest_waiting_key_goes_when_everything_waits() -> None:
    clock = FakeClock()
    strict = ThrottlePolicy(free_attempts=0, base_delay=60, max_delay=60, forget_after=3600)
    throttle, _ = make(clock, address=strict, max_keys=3)
    for i in range(5):
        throttle.attempt("x", f"192.0.2.{i}")
    assert throttle.tracked()[1] == 3


def test_failure_throttle_counts_failures_per_address_only() -> None:
    clock = FakeClock()
    throttle = FailureThrottle(clock)
    for _ in range(5):
        assert throttle.waiting("203.0.113.1").allowed
        throttle.failed("203.0.113.1")
    assert throttle.waiting("203.0.113.1").allowed  # five free failures, then a wait
    throttle.failed("203.0.113.1")
    verdict = throttle.waiting("203.0.113.1")
    assert not verdict.allowed
    assert verdict.retry_after == 1.0
    assert throttle.waiting("203.0.113.2").allowed  # another address is not held up
    clock.advance(1)
    assert throttle.waiting("203.0.113.1").allowed
    # An IPv6 client is one /64: hopping addresses inside it does not help.
    for host in range(6):
        throttle.failed(f"2001:db8::{host + 1}")
    assert not throttle.waiting("2001:db8::ffff").allowed
    assert throttle.tracked() == 2
    clock.advance(3600)  # an hour quiet: forgotten
    assert throttle.waiting("2001:db8::1").allowed
