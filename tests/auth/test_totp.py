"""The owner's TOTP secret (nvr/auth/totp.py): sealed at rest, codes of the step before
and after accepted, a used step refused, enrolment pending for 10 minutes."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from nvr.auth.totp import OwnerTotp
from nvr.clock import FakeClock
from nvr.crypto import X25519Identity


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def code(secret: str, clock: FakeClock, offset: float = 0) -> str:
    return pyotp.TOTP(secret).at(clock.wall().timestamp() + offset)


def enrolled(tmp_path: Path, clock: FakeClock) -> tuple[OwnerTotp, str, X25519Identity]:
    totp = OwnerTotp(tmp_path / "owner.totp.age", clock)
    identity = X25519Identity.generate()
    enrolment = totp.begin("alex")
    assert totp.confirm(code(enrolment.secret, clock), identity.recipient())
    clock.advance(30)  # the confirming code's step is used up
    return totp, enrolment.secret, identity


def test_enrolment_gives_a_secret_and_an_otpauth_uri(tmp_path: Path, clock: FakeClock) -> None:
    totp = OwnerTotp(tmp_path / "owner.totp.age", clock)
    enrolment = totp.begin("alex")
    uri = urlsplit(enrolment.uri)
    assert (uri.scheme, uri.netloc, uri.path) == ("otpauth", "totp", "/Porchlight:alex")
    assert parse_qs(uri.query)["secret"] == [enrolment.secret]
    assert len(enrolment.secret) == 32
    assert not totp.enabled()
    assert enrolment.secret not in repr(enrolment)


def test_the_secret_is_sealed_to_the_owner(tmp_path: Path, clock: FakeClock) -> None:
    totp, secret, identity = enrolled(tmp_path, clock)
    assert totp.enabled()
    stored = totp.path.read_bytes()
    assert stored.startswith(b"age-encryption.org/v1\n")
    assert secret.encode() not in stored
    assert totp.path.stat().st_mode & 0o777 == 0o600
    assert not totp.verify([X25519Identity.generate()], code(secret, clock))  # other key
    assert totp.verify([identity], code(secret, clock))


def test_neighbouring_steps_pass_a_used_step_does_not(tmp_path: Path, clock: FakeClock) -> None:
    totp, secret, identity = enrolled(tmp_path, clock)
    now = code(secret, clock)
    assert totp.verify([identity], now)
    assert not totp.verify([identity], now)  # replayed
    assert not totp.verify([identity], code(secret, clock, -30))  # older than the used one
    assert totp.verify([identity], code(secret, clock, 30))  # a phone a little ahead
    clock.advance(120)
    assert not totp.verify([identity], code(secret, clock, -90))  # too old
    assert totp.verify([identity], code(secret, clock))


@pytest.mark.parametrize("bad", [None, "", "12345", "1234567", "abcdef", "١٢٣٤٥٦"])
def test_malformed_codes_fail(tmp_path: Path, clock: FakeClock, bad: str | None) -> None:
    totp, _, identity = enrolled(tmp_path, clock)
    assert not totp.verify([identity], bad)


def test_confirm_needs_the_right_code_in_time(tmp_path: Path, clock: FakeClock) -> None:
    totp = OwnerTotp(tmp_path / "owner.totp.age", clock)
    recipient = X25519Identity.generate().recipient()
    assert not totp.confirm("123456", recipient)  # nothing pending
    secret = totp.begin("alex").secret
    wrong = f"{(int(code(secret, clock)) + 1) % 1_000_000:06d}"
    if wrong in {code(secret, clock, d) for d in (-30, 30)}:  # pragma: no cover
        wrong = f"{(int(wrong) + 1) % 1_000_000:06d}"
    assert not totp.confirm(wrong, recipient)
    clock.advance(601)
    assert not totp.confirm(code(secret, clock), recipient)  # the enrolment is over
    assert not totp.enabled()


def test_disable_removes_the_file(tmp_path: Path, clock: FakeClock) -> None:
    totp, _, _ = enrolled(tmp_path, clock)
    assert totp.disable()
    assert not totp.enabled()
    assert not totp.path.exists()
    assert not totp.disable()
