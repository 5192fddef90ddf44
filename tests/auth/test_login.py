"""``SignIn`` without HTTP or a database: accounts in a dict, the owner's unlock a fake,
the audit a list. The throttle, the password store and the session store are real."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from nvr.audit.entry import Actor
from nvr.auth.login import LoginRefused, SignIn, WrongPassphrase
from nvr.auth.passwords import Argon2Params, Passwords
from nvr.auth.policy import Role
from nvr.auth.sessions import SessionStore
from nvr.auth.throttle import LoginThrottle
from nvr.auth.users import UserRecord
from nvr.clock import FakeClock

FAST = Argon2Params(time_cost=1, memory_cost=1024, parallelism=1)
PASSPHRASE = "sunny-Meadow-42-quietly"
VIEWER_PW = "Viewer-Lantern-58-gravel"
WHEN = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class World:
    clock: FakeClock = field(default_factory=FakeClock)
    audit: list[tuple[str, dict[str, Any], Actor]] = field(default_factory=list)
    unlocked: list[str] = field(default_factory=list)

    def record(self, kind: str, payload: dict[str, Any], actor: Actor) -> None:
        self.audit.append((kind, payload, actor))

    def unlock(self, passphrase: bytes, actor: Actor) -> str:
        if passphrase != PASSPHRASE.encode():
            raise WrongPassphrase
        self.unlocked.append(actor.user or "")
        return f"unlock-{len(self.unlocked)}"

    def kinds(self) -> list[str]:
        return [kind for kind, _, _ in self.audit]


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def sign_in(world: World) -> SignIn:
    passwords = Passwords(FAST)
    accounts = {
        "alex": UserRecord(1, "alex", Role.OWNER, None, WHEN, False),
        "sam": UserRecord(2, "sam", Role.VIEWER, passwords.hash(VIEWER_PW), WHEN, False),
    }
    return SignIn(
        find_user=lambda name: accounts.get(name.strip().lower()),
        save_hash=lambda user_id, password_hash: None,
        passwords=passwords,
        throttle=LoginThrottle(world.clock),
        sessions=SessionStore(world.clock),
        unlock=world.unlock,
        record=world.record,
    )


def test_the_owner_signs_in_with_the_passphrase(world: World, sign_in: SignIn) -> None:
    issued = sign_in.sign_in("Alex", PASSPHRASE, address="192.0.2.9")
    assert issued.session.principal.role is Role.OWNER
    assert issued.session.unlock_token == "unlock-1"
    assert world.unlocked == ["alex"]
    assert world.kinds() == ["login"]


def test_a_viewer_has_no_unlock(sign_in: SignIn) -> None:
    issued = sign_in.sign_in("sam", VIEWER_PW, address="192.0.2.9")
    assert issued.session.unlock_token is None


@pytest.mark.parametrize(
    ("name", "secret", "reason"),
    [
        ("alex", "Guess-Owner-1x", "wrong passphrase"),
        ("sam", "Guess-Viewer-2y", "wrong password"),
        ("zoe", "Guess-Nobody-3z", "unknown account"),
    ],
)
def test_failures_look_alike(
    world: World, sign_in: SignIn, name: str, secret: str, reason: str
) -> None:
    with pytest.raises(LoginRefused) as refused:
        sign_in.sign_in(name, secret, address="192.0.2.9")
    assert (refused.value.status, refused.value.reason) == (401, "wrong name or password")
    [(kind, payload, _)] = world.audit
    assert (kind, payload["reason"]) == ("login.failed", reason)
    assert secret not in str(world.audit)


def test_the_throttle_comes_before_any_check(world: World, sign_in: SignIn) -> None:
    for _ in range(6):
        with pytest.raises(LoginRefused):
            sign_in.sign_in("zoe", "guess", address="192.0.2.9")
    checked = len(world.audit)
    with pytest.raises(LoginRefused) as refused:
        sign_in.sign_in("alex", PASSPHRASE, address="192.0.2.9")
    assert (refused.value.status, refused.value.retry_after) == (429, 1)
    assert len(world.audit) == checked  # nothing checked, nothing written
    assert world.unlocked == []


def test_only_the_owner_unlocks_again(world: World, sign_in: SignIn) -> None:
    owner = sign_in.sign_in("alex", PASSPHRASE, address="192.0.2.9").session.principal
    viewer = sign_in.sign_in("sam", VIEWER_PW, address="192.0.2.9").session.principal
    assert sign_in.reunlock(owner, PASSPHRASE, address="192.0.2.9") == "unlock-2"
    with pytest.raises(LoginRefused, match="wrong passphrase"):
        sign_in.reunlock(owner, "nope", address="192.0.2.9")
    # A viewer without a household key has nothing to unlock (docs/design/auth.md).
    with pytest.raises(LoginRefused, match="no household key"):
        sign_in.reunlock(viewer, PASSPHRASE, address="192.0.2.9")
