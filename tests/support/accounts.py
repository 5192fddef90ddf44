"""Accounts for web tests: a real box with an owner, a viewer and an installer (``Site``),
or the bare session machinery around an ``UnlockManager`` (``bare_accounts``).

Argon2 runs with ``FAST`` (1 MiB, one pass) and scrypt with work factor 2^15: explicit
test-only parameters, as everywhere else in the suite.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from nvr.audit.entry import Actor
from nvr.auth import users
from nvr.auth.deps import Authorizer
from nvr.auth.login import SignIn, WrongPassphrase
from nvr.auth.passwords import Argon2Params, Passwords
from nvr.auth.policy import Role
from nvr.auth.sessions import COOKIE_NAME, Principal, SessionStore
from nvr.auth.throttle import LoginThrottle
from nvr.clock import FakeClock
from nvr.config import Config
from nvr.db import repo
from nvr.service.accounts import build_accounts
from nvr.service.box import CLI_OWNER, Box, open_box
from nvr.service.unlock import UnlockManager
from nvr.web.session import Accounts

FAST = Argon2Params(time_cost=1, memory_cost=1024, parallelism=1)
PASSPHRASE = "sunny-Meadow-42-quietly"
PASSWORDS = {"sam": "Viewer-Lantern-58-gravel", "ines": "Installer-Copper-93-ridge"}
LAN = ("192.0.2.50", 40000)
BASE = "https://box.test"


def cookie(token: str) -> dict[str, str]:
    return {"cookie": f"{COOKIE_NAME}={token}"}


def token_of(response: httpx.Response) -> str:
    """The session id a sign-in answer set (``__Host-porchlight=<id>; ...``)."""
    value = response.headers["set-cookie"].split(";")[0]
    name, _, token = value.partition("=")
    assert name == COOKIE_NAME
    return token


@dataclass
class Site:
    box: Box
    clock: FakeClock
    unlocks: UnlockManager
    accounts: Accounts
    ids: dict[str, int]

    def audit(self) -> list[tuple[str, dict[str, Any], str | None]]:
        """Every audit entry so far: (kind, payload, actor user)."""
        result = self.box.audit.verify()
        out = []
        for seq in range(result.entries):
            entry = json.loads(self.box.audit.entry(seq))
            out.append((entry["kind"], entry["payload"], entry["actor"]["user"]))
        return out

    def open_window(self, minutes: int = 30) -> None:
        """The owner opens an install window now."""
        with self.box.sessions.begin() as session:
            users.open_install_window(
                session, self.ids["alex"], self.clock.wall(), timedelta(minutes=minutes)
            )


def open_site(tmp_path: Path, *, owner: bool = True) -> Site:
    """A box in ``tmp_path`` with owner ``alex`` (keys and account), viewer ``sam`` (camera
    ``porch``) and installer ``ines``; ``owner=False`` leaves it fresh (no keys, no one)."""
    clock = FakeClock()
    cfg = Config().model_copy(
        update={"storage": Config().storage.model_copy(update={"data_dir": tmp_path / "data"})}
    )
    box = open_box(cfg, clock)
    ids: dict[str, int] = {}
    if owner:
        box.create_owner_keys(PASSPHRASE.encode(), 15, CLI_OWNER, "alex")
        hasher = Passwords(FAST)
        now = clock.wall()
        with box.sessions.begin() as session:
            repo.ensure_cameras(session, ["porch", "garage"], now)
            ids["alex"] = users.get_user(session, "alex").id  # type: ignore[union-attr]
            for name, role in (("sam", Role.VIEWER), ("ines", Role.INSTALLER)):
                record = users.create_user(session, name, role, hasher.hash(PASSWORDS[name]), now)
                ids[name] = record.id
            users.set_viewer_cameras(session, ids["sam"], ["porch"])
    unlocks = UnlockManager(box.keys, clock, box.record)
    accounts = build_accounts(box, unlocks, clock, argon2=FAST)
    return Site(box, clock, unlocks, accounts, ids)


def bare_accounts(clock: FakeClock, unlocks: UnlockManager) -> Accounts:
    """Sessions and the authorizer around ``unlocks``, nobody to sign in (tests that make
    sessions with ``accounts.sessions.login`` directly)."""

    def unlock(passphrase: bytes, actor: Actor) -> str:
        raise WrongPassphrase

    def record(kind: str, payload: dict[str, Any], actor: Actor) -> None:
        return None

    sessions = SessionStore(clock, unlocks=unlocks)
    sign_in = SignIn(
        find_user=lambda name: None,
        save_hash=lambda user_id, password_hash: None,
        passwords=Passwords(FAST),
        throttle=LoginThrottle(clock),
        sessions=sessions,
        unlock=unlock,
        record=record,
    )
    authorizer = Authorizer(
        sessions,
        clock,
        install_window=lambda now: None,
        viewer_cameras=lambda user_id: frozenset(),
    )
    return Accounts(authorizer, sessions, sign_in, unlocks, lambda: True)


OWNER = Principal(1, "alex", Role.OWNER)
