"""Accounts for the running service: sign-in, sessions and authorization over the box.

``build_accounts(box, unlocks, clock)`` wires ``nvr.auth`` to the box's database, audit log
and ``UnlockManager`` (sessions end after ``session_idle`` without a request and
``session_max_age`` after sign-in: the config's ``security`` section): each look-up opens
its own short database session (the handlers run in FastAPI's thread pool), every sign-in
outcome, lockout and session end is an audit entry (``box.record``); the owner's optional
TOTP secret (``OwnerTotp``, sealed in the key folder) is the sign-in's second factor.
``ensure_owner(box)`` gives a box whose keys predate accounts its owner row, so such a box
is not stuck in the loopback-only state.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from nvr.audit.entry import Actor
from nvr.auth import users
from nvr.auth.deps import Authorizer
from nvr.auth.login import LoginRefused, SignIn, WrongPassphrase, actor_of, lockout_notice
from nvr.auth.passwords import PI4, Argon2Params, Passwords
from nvr.auth.policy import InstallWindow
from nvr.auth.sessions import DEFAULT_IDLE, DEFAULT_MAX_AGE, ActiveSession, SessionStore
from nvr.auth.throttle import LoginThrottle
from nvr.auth.totp import OwnerTotp
from nvr.clock import Clock
from nvr.keys.store import KeyError_
from nvr.keys.unlock import Locked
from nvr.service.box import SYSTEM, Box
from nvr.service.unlock import UnlockManager
from nvr.web.session import Accounts

log = logging.getLogger(__name__)

DEFAULT_OWNER = "owner"
TOTP_FILE = "owner.totp.age"  # in the key folder: sealed to the owner's recipient


class TotpFactor:
    """The sign-in's second factor: the owner's TOTP secret, opened with the identities
    the passphrase just unlocked (``nvr.auth.totp``)."""

    def __init__(self, totp: OwnerTotp, unlocks: UnlockManager) -> None:
        self._totp = totp
        self._unlocks = unlocks

    def required(self) -> bool:
        return self._totp.enabled()

    def verify(self, unlock_token: str, code: str | None) -> bool:
        try:
            identities = self._unlocks.identities(unlock_token)
        except Locked:
            return False
        return self._totp.verify(identities, code)

    def discard(self, unlock_token: str) -> None:
        self._unlocks.lock(unlock_token, "second factor refused")


def ensure_owner(box: Box, name: str = DEFAULT_OWNER) -> bool:
    """Create the owner's row when owner keys exist but no owner account does (keys made
    before accounts existed); whether one was created."""
    if not box.keys.exists():
        return False
    with box.sessions.begin() as session:
        if users.owner_exists(session):
            return False
        users.create_owner(session, name, box.clock.wall())
    box.record("users.owner", {"name": name, "why": "owner keys without an account"}, SYSTEM)
    log.info("owner account created for the existing keys", extra={"owner": name})
    return True


def build_accounts(
    box: Box,
    unlocks: UnlockManager,
    clock: Clock,
    *,
    argon2: Argon2Params = PI4,
    session_idle: timedelta = DEFAULT_IDLE,
    session_max_age: timedelta = DEFAULT_MAX_AGE,
) -> Accounts:
    def find_user(name: str) -> users.UserRecord | None:
        with box.sessions() as session:
            return users.get_user(session, name)

    def save_hash(user_id: int, password_hash: str) -> None:
        with box.sessions.begin() as session:
            users.set_password_hash(session, user_id, password_hash)

    def install_window(now: datetime) -> InstallWindow | None:
        with box.sessions() as session:
            return users.current_install_window(session, now)

    def viewer_cameras(user_id: int) -> frozenset[str]:
        with box.sessions() as session:
            return users.viewer_cameras(session, user_id)

    def unlock(passphrase: bytes, actor: Actor) -> str:
        try:
            return unlocks.unlock(passphrase, actor)
        except KeyError_ as exc:
            if exc.message == "wrong passphrase":
                raise WrongPassphrase from None
            raise LoginRefused(503, f"the owner keys cannot be opened: {exc.message}") from None

    def session_ended(session: ActiveSession, reason: str) -> None:
        payload = {"session": session.key[:16], "reason": reason}
        box.record("session.end", payload, actor_of(session.principal))

    known_owner = False

    def owner_exists() -> bool:
        nonlocal known_owner  # an owner is never removed: stop asking once there is one
        if not known_owner:
            with box.sessions() as session:
                known_owner = users.owner_exists(session)
        return known_owner

    sessions = SessionStore(
        clock,
        unlocks=unlocks,
        on_end=session_ended,
        idle_timeout=session_idle,
        max_age=session_max_age,
    )
    totp = OwnerTotp(box.keys.dir / TOTP_FILE, clock)
    sign_in = SignIn(
        find_user=find_user,
        save_hash=save_hash,
        passwords=Passwords(argon2),
        throttle=LoginThrottle(clock, on_lockout=lockout_notice(box.record)),
        sessions=sessions,
        unlock=unlock,
        record=box.record,
        second_factor=TotpFactor(totp, unlocks),
        member_unlock=unlocks.unlock_member,
        has_member_key=unlocks.has_member,
    )
    authorizer = Authorizer(
        sessions, clock, install_window=install_window, viewer_cameras=viewer_cameras
    )
    return Accounts(authorizer, sessions, sign_in, unlocks, owner_exists, totp=totp)
