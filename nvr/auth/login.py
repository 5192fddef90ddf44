"""Signing in: throttle -> check the secret -> new session, every outcome audited.

``SignIn(...)`` is given everything it touches (the account look-up, the password store,
the throttle, the session store, the owner's ``UnlockManager`` and the audit call), so it
is tested without HTTP; ``nvr.web.session`` turns its answers into responses.

``sign_in(name, secret, address=..., replacing=...)``, in this order:
1. ``LoginThrottle.attempt(name, address)`` before anything is checked: refused ->
   ``LoginRefused(429, retry_after=...)``. A lockout is logged and audited by the
   throttle's ``on_lockout`` hook (``lockout_notice`` here), never with the secret.
2. The account: the owner signs in with the key passphrase, which unlocks the owner
   identity (``UnlockManager.unlock``: scrypt); a viewer or installer with an Argon2id
   password (``Passwords.verify``, re-hashed when its parameters are old); an unknown name
   costs one dummy Argon2 verification. A disabled account is checked like the others
   and then refused. Every failure is the same ``LoginRefused(401, "wrong name or
   password")``; the audit entry says why, and names the account only when it exists
   (a password typed into the name field must not end up in the append-only log).
   With the owner's second factor on (``second_factor.required()``), the one-time code
   ``otp`` is checked right after the passphrase (the unlocked identity opens the sealed
   TOTP secret); missing or wrong, the fresh unlock is locked again and the answer is the
   same 401 as for a wrong passphrase (no oracle telling that the passphrase was right),
   counted by the throttle like any failed attempt.
   A viewer whose account name is also a household member's key name, and whose
   password opens that key (the owner set the member passphrase to the same password),
   gets the member identity unlocked (``member_unlock``): playback of the cameras the
   owner allows, for footage recorded since the key was added.
3. ``SessionStore.login(principal, replacing=...)``: a new id (the presented one ends),
   the owner's (or the linked viewer's) unlock attached.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol

from nvr.audit.entry import Actor
from nvr.auth.passwords import Passwords
from nvr.auth.policy import Role
from nvr.auth.sessions import Issued, Principal, SessionStore
from nvr.auth.throttle import Lockout, LoginThrottle
from nvr.auth.users import UserRecord
from nvr.keys.passphrase import WeakPassphrase

log = logging.getLogger(__name__)

WRONG = "wrong name or password"
Record = Callable[[str, dict[str, Any], Actor], object]
ANONYMOUS = Actor(role="anonymous", user=None)


class WrongPassphrase(Exception):
    """The unlock refused the passphrase (the caller maps its own error to this)."""


class SecondFactor(Protocol):
    """The owner's second factor, checked after the passphrase unlocked the identity that
    opens it (``nvr.service.accounts.TotpFactor`` over ``nvr.auth.totp.OwnerTotp``)."""

    def required(self) -> bool: ...

    def verify(self, unlock_token: str, code: str | None) -> bool: ...

    def discard(self, unlock_token: str) -> None: ...


class LoginRefused(Exception):
    """A refused sign-in: ``status`` (401, 429, 503), the reason for the client and, for
    429, the seconds to wait."""

    def __init__(self, status: int, reason: str, retry_after: int = 0) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.retry_after = retry_after


def actor_of(principal: Principal) -> Actor:
    return Actor(role=principal.role.value, user=principal.name)


@dataclass
class SignIn:
    find_user: Callable[[str], UserRecord | None]
    save_hash: Callable[[int, str], None]
    passwords: Passwords
    throttle: LoginThrottle
    sessions: SessionStore
    unlock: Callable[[bytes, Actor], str]  # raises WrongPassphrase, or LoginRefused(503)
    record: Record
    second_factor: SecondFactor | None = None  # the owner's TOTP, when the service has one
    # A viewer's household key: (account name, password, actor) -> unlock token, or None
    # when no member key of that name exists or the password does not open it.
    member_unlock: Callable[[str, bytes, Actor], str | None] | None = None
    # Whether an account name has a household key (a viewer may then unlock again).
    has_member_key: Callable[[str], bool] | None = None

    def can_unlock(self, principal: Principal) -> bool:
        """Whether ``principal`` has a key to unlock footage with (``reunlock``): the owner,
        or a viewer with a household member key."""
        if principal.role is Role.OWNER:
            return True
        return (
            principal.role is Role.VIEWER
            and self.member_unlock is not None
            and self.has_member_key is not None
            and self.has_member_key(principal.name)
        )

    def sign_in(
        self,
        name: str,
        secret: str,
        *,
        address: str | None,
        replacing: str | None = None,
        otp: str | None = None,
    ) -> Issued:
        verdict = self.throttle.attempt(name, address)
        if not verdict.allowed:
            wait = max(1, math.ceil(verdict.retry_after))
            raise LoginRefused(429, f"too many attempts: try again in {wait} s", wait)
        user = self.find_user(name)
        client = address or "unknown"
        if user is None:
            self.passwords.verify(None, secret)  # the same cost as a real account
            self._failed({"reason": "unknown account", "client": client}, ANONYMOUS)
        principal = Principal(user.id, user.name, user.role)
        actor = actor_of(principal)
        unlock_token: str | None = None
        if user.role is Role.OWNER:
            try:
                token = self.unlock(secret.encode(), actor)
            except WrongPassphrase:
                self._failed(
                    {"user": user.name, "reason": "wrong passphrase", "client": client}, actor
                )
            factor = self.second_factor
            if factor is not None and factor.required() and not factor.verify(token, otp):
                factor.discard(token)
                why = "wrong code" if otp else "code missing"
                self._failed({"user": user.name, "reason": why, "client": client}, actor)
            unlock_token = token
        else:
            ok = self.passwords.verify(user.password_hash, secret)
            if not ok:
                self._failed(
                    {"user": user.name, "reason": "wrong password", "client": client}, actor
                )
            if user.disabled:
                self._failed(
                    {"user": user.name, "reason": "account disabled", "client": client}, actor
                )
            if user.password_hash is not None and self.passwords.needs_rehash(user.password_hash):
                self._rehash(user, secret)
            if user.role is Role.VIEWER and self.member_unlock is not None:
                unlock_token = self.member_unlock(user.name, secret.encode(), actor)
        self.throttle.succeeded(name, address)
        issued = self.sessions.login(principal, replacing=replacing, unlock_token=unlock_token)
        self.record("login", {"session": issued.session.key[:16], "client": client}, actor)
        return issued

    def reunlock(self, principal: Principal, passphrase: str, *, address: str | None) -> str:
        """The signed-in account types its secret again after the unlock's idle lock: the
        owner the key passphrase, a viewer with a household key their password (which is
        also their member passphrase). Throttled like a sign-in; a new unlock token, or
        ``LoginRefused(403)``. The unlock manager audits the owner's unlock or failure and
        a member's unlock; a member's wrong password is audited here."""
        if not self.can_unlock(principal):
            if principal.role is Role.VIEWER:
                raise LoginRefused(
                    403, "this account has no household key: ask the owner to make one"
                )
            raise LoginRefused(403, "only the owner and household members unlock footage")
        verdict = self.throttle.attempt(principal.name, address)
        if not verdict.allowed:
            wait = max(1, math.ceil(verdict.retry_after))
            raise LoginRefused(429, f"too many attempts: try again in {wait} s", wait)
        actor = actor_of(principal)
        if principal.role is Role.OWNER:
            try:
                token = self.unlock(passphrase.encode(), actor)
            except WrongPassphrase:
                raise LoginRefused(403, "wrong passphrase") from None
        else:
            assert self.member_unlock is not None  # can_unlock checked it
            member = self.member_unlock(principal.name, passphrase.encode(), actor)
            if member is None:
                self.record("unlock.failed", {"member": principal.name}, actor)
                raise LoginRefused(403, "wrong password")
            token = member
        self.throttle.succeeded(principal.name, address)
        return token

    def _failed(self, payload: dict[str, Any], actor: Actor) -> NoReturn:
        self.record("login.failed", payload, actor)
        raise LoginRefused(401, WRONG)

    def _rehash(self, user: UserRecord, secret: str) -> None:
        try:
            self.save_hash(user.id, self.passwords.hash(secret, context=[user.name]))
        except WeakPassphrase:
            return  # it met the rules when it was set; the next password change fixes it
        log.info("password re-hashed with the current parameters", extra={"user": user.name})


def lockout_notice(record: Record) -> Callable[[Lockout], None]:
    """The throttle's ``on_lockout`` hook: a notice in the log and an audit entry (the
    account name or client address and the wait; the throttle never sees a secret)."""

    def notice(lockout: Lockout) -> None:
        details = {
            "kind": lockout.kind,
            "key": lockout.key,
            "attempts": lockout.attempts,
            "retry_after": round(lockout.retry_after),
        }
        log.warning("sign-in lockout", extra=details)
        record("login.lockout", details, ANONYMOUS)

    return notice
