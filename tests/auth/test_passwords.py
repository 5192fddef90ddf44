"""Argon2id password hashes: strength first, verify fails closed, rehash on new parameters.

Hashing uses ``FAST`` (1 MiB, one pass) through the explicit parameter, never a global
switch; one test checks the production parameters themselves.
"""

from __future__ import annotations

import pytest

from nvr.auth.passwords import MAX_PASSWORD_CHARS, PI4, Argon2Params, Passwords, time_verify
from nvr.keys.passphrase import WeakPassphrase

FAST = Argon2Params(time_cost=1, memory_cost=1024, parallelism=1)
GOOD = "violet-Harbour-tundra-88"


@pytest.fixture(scope="module")
def passwords() -> Passwords:
    return Passwords(FAST)


def test_hash_is_argon2id_with_the_given_parameters(passwords: Passwords) -> None:
    stored = passwords.hash(GOOD)
    assert stored.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert GOOD not in stored
    assert passwords.hash(GOOD) != stored  # a fresh salt each time
    assert passwords.verify(stored, GOOD)


def test_production_parameters_are_rfc_9106_low_memory() -> None:
    assert (PI4.time_cost, PI4.memory_cost, PI4.parallelism) == (3, 65536, 4)
    assert (PI4.hash_len, PI4.salt_len) == (32, 16)


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short", "too short"),
        ("password1234", "too weak"),
        ("alexalexalex", "too weak"),
        ("x" * (MAX_PASSWORD_CHARS + 1), "too long"),
    ],
)
def test_weak_passwords_are_refused_with_a_reason(
    passwords: Passwords, password: str, reason: str
) -> None:
    with pytest.raises(WeakPassphrase, match=reason):
        passwords.hash(password, context=["alex"])


def test_wrong_password_and_bad_hashes_fail_closed(passwords: Passwords) -> None:
    stored = passwords.hash(GOOD)
    assert not passwords.verify(stored, GOOD + "x")
    assert not passwords.verify(stored, "")
    assert not passwords.verify("not a hash", GOOD)
    assert not passwords.verify(stored[:-4], GOOD)
    assert not passwords.verify(None, GOOD)
    assert not passwords.verify(stored, "y" * (MAX_PASSWORD_CHARS + 1))


def test_needs_rehash_when_the_parameters_change(passwords: Passwords) -> None:
    stored = passwords.hash(GOOD)
    assert not passwords.needs_rehash(stored)
    stronger = Passwords(Argon2Params(time_cost=2, memory_cost=2048, parallelism=1))
    assert stronger.needs_rehash(stored)
    assert stronger.verify(stored, GOOD)  # old hashes still verify until re-hashed
    assert passwords.needs_rehash("garbage")


def test_unicode_passwords_round_trip(passwords: Passwords) -> None:
    password = "Grüße aus dem Türrahmen 🚪 mondän"
    assert passwords.verify(passwords.hash(password), password)


def test_time_verify_measures_something() -> None:
    assert 0 < time_verify(FAST, rounds=1) < 5


def test_an_account_without_a_hash_costs_one_real_verification(passwords: Passwords) -> None:
    # The dummy is a well-formed hash with the same parameters: libargon2 runs in full.
    assert passwords._dummy.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert not passwords.needs_rehash(passwords._dummy)
    assert not passwords.verify(passwords._dummy, "")
    assert not passwords.verify(None, GOOD)
