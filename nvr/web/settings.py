"""The owner's settings: pages, keys, second factor, retention and the audit log viewer.

``settings_router(accounts, settings)`` is included by ``create_app`` when the service
passes ``settings=Settings(...)`` (with ``add_settings_pages`` for the two pages); it also
includes ``nvr.web.users`` (accounts and install windows). Every route goes through the
one ``Authorizer`` and the table; every change is an audit entry (never with a passphrase,
password or code).

Pages (HTML shells; data through the API below, ``web/static/settings.js``, ``audit.js``):
- ``GET /settings`` (``users.manage``): users and roles, install windows, household
  members, passphrase, two-factor, retention and quota, browser notifications.
- ``GET /settings/audit`` (``audit.view``): the audit log viewer.

Keys (``keys.manage``, owner only; passphrases throttled like a sign-in, 429):
- ``POST /api/v1/keys/passphrase`` ``{old, new}``: strength check (422), rewrap the owner
  identity (``KeyStore.change_passphrase``, in the thread pool); wrong ``old``: 403. The
  owner's OTHER sessions end (a passphrase is changed when it may be known to someone);
  this one and its unlock go on (the identity itself did not change).
- ``GET /api/v1/keys/members``; ``POST /api/v1/keys/members``
  ``{name, owner_passphrase, member_passphrase}``; ``DELETE /api/v1/keys/members/{member}``
  ``{owner_passphrase}``: household identities (``KeyStore.add_member`` /
  ``remove_member``: new footage is encrypted to them too, or no longer). A viewer whose
  account name is a member's key name and whose password opens that key signs in with
  it unlocked (``nvr.auth.login``): removing the key ends that viewer's sessions.

Second factor (``keys.manage``; ``nvr.auth.totp``):
- ``GET /api/v1/totp``: ``{enabled}``; ``POST /api/v1/totp/enrol``: a new secret and its
  ``otpauth://`` URI (409 when already on); ``POST /api/v1/totp/confirm`` ``{code}``: turns
  it on (422 for a wrong code); ``DELETE /api/v1/totp`` ``{passphrase, code}``: turns it off.

Retention (``settings.manage``): ``GET``/``PUT /api/v1/settings/retention``
``{continuous_days, event_days, quota}`` (``nvr.service.settings.RetentionEditor``:
the config file keeps its comments; 422 with the reason for a value it refuses; 409 when
the service runs without a config file).

Audit log (``audit.view``): ``GET /api/v1/audit?before=SEQ&limit=N`` (newest first) and
``POST /api/v1/audit/verify`` (the whole chain and its signed checkpoints, in the thread
pool; the same check as ``nvr audit verify``).

No ``from __future__ import annotations`` (see ``nvr.web.users``).
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field, SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from nvr.audit.entry import Actor
from nvr.audit.log import AuditLog
from nvr.auth import users
from nvr.auth.deps import Caller
from nvr.auth.login import actor_of
from nvr.auth.policy import Permission, Role
from nvr.auth.totp import OwnerTotp
from nvr.clock import Clock
from nvr.db.models import AuditEntry
from nvr.errors import UserError
from nvr.keys.passphrase import WeakPassphrase, calibrate_log_n, check_strength, wipe
from nvr.keys.store import KeyError_, KeyStore
from nvr.service.settings import RetentionEditor, RetentionView
from nvr.web.pages import Pages
from nvr.web.session import Accounts
from nvr.web.users import ERRORS, explain, users_router

Record = Callable[[str, dict[str, Any], Actor], object]
WRONG_PASSPHRASE = "wrong passphrase"  # noqa: S105 (KeyStore's message, not a secret)
SUMMARY_CHARS = 240
AUDIT_PAGE_MAX = 200
MAX_SEQ = 2**53 - 1  # what an audit entry's seq can be (and a database integer holds)


@dataclass(frozen=True)
class Settings:
    """What the settings routes work on; the service builds it from its box."""

    db: sessionmaker[Session]
    keys: KeyStore
    audit: AuditLog
    record: Record
    clock: Clock
    retention: RetentionEditor
    work_factor: int | None = None  # scrypt log2(N) for rewrapped keys; None: calibrate


class PassphraseChange(BaseModel):
    model_config = {"extra": "forbid", "strict": True}
    old: SecretStr = Field(min_length=1, max_length=1024)
    new: SecretStr = Field(min_length=1, max_length=1024)


class PassphraseChanged(BaseModel):
    sessions_ended: int


class Members(BaseModel):
    members: list[str]


class NewMember(BaseModel):
    model_config = {"extra": "forbid", "strict": True}
    name: str = Field(min_length=1, max_length=32)
    owner_passphrase: SecretStr = Field(min_length=1, max_length=1024)
    member_passphrase: SecretStr = Field(min_length=1, max_length=1024)


class OwnerPassphrase(BaseModel):
    model_config = {"extra": "forbid", "strict": True}
    owner_passphrase: SecretStr = Field(min_length=1, max_length=1024)


class TotpState(BaseModel):
    enabled: bool


class TotpEnrolment(BaseModel):
    secret: str
    uri: str


class TotpCode(BaseModel):
    model_config = {"extra": "forbid", "strict": True}
    code: str = Field(min_length=1, max_length=16)


class TotpOff(BaseModel):
    model_config = {"extra": "forbid", "strict": True}
    passphrase: SecretStr = Field(min_length=1, max_length=1024)
    code: str = Field(min_length=1, max_length=16)


class RetentionIn(BaseModel):
    model_config = {"extra": "forbid", "strict": True}
    continuous_days: int = Field(ge=0, le=3650)
    event_days: int = Field(ge=0, le=3650)
    quota: str | None = Field(default=None, max_length=32)


class AuditActor(BaseModel):
    role: str
    user: str | None


class AuditRow(BaseModel):
    seq: int
    time: datetime
    kind: str
    actor: AuditActor
    summary: str


class AuditPage(BaseModel):
    entries: list[AuditRow]
    total: int
    next_before: int | None  # pass as ``before`` for the next (older) page


class Verified(BaseModel):
    ok: bool
    entries: int
    checkpoints: int
    reason: str
    bad_seq: int | None
    bad_checkpoint: int | None


def summary(payload: object) -> str:
    """A payload as one short line of JSON (the page shows it; the full entry is in the log)."""
    text = json.dumps(payload, separators=(", ", ": "), ensure_ascii=False)
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def add_settings_pages(app: FastAPI, accounts: Accounts, pages: Pages) -> None:
    """The two pages, on the app itself (pages stay out of the OpenAPI schema, and the
    route matrix test finds the app's own routes)."""
    auth = accounts.authorizer
    UsersManager = Annotated[Caller, Depends(auth.require(Permission.USERS_MANAGE))]
    Auditor = Annotated[Caller, Depends(auth.require(Permission.AUDIT_VIEW))]

    @app.get("/settings", response_class=HTMLResponse, include_in_schema=False)
    def settings_page(request: Request, caller: UsersManager) -> HTMLResponse:
        return pages.render(request, "settings.html", caller, title="Settings")

    @app.get("/settings/audit", response_class=HTMLResponse, include_in_schema=False)
    def audit_page(request: Request, caller: Auditor) -> HTMLResponse:
        return pages.render(request, "audit.html", caller, title="Audit log")


def settings_router(accounts: Accounts, settings: Settings) -> APIRouter:
    router = APIRouter(responses=ERRORS)
    auth = accounts.authorizer
    throttle = accounts.sign_in.throttle
    keys = settings.keys
    record = settings.record
    totp = accounts.totp
    KeysManager = Annotated[Caller, Depends(auth.require(Permission.KEYS_MANAGE))]
    SettingsManager = Annotated[Caller, Depends(auth.require(Permission.SETTINGS_MANAGE))]
    Auditor = Annotated[Caller, Depends(auth.require(Permission.AUDIT_VIEW))]

    router.include_router(
        users_router(accounts, settings.db, record, settings.clock, has_key=keys.has_member)
    )

    # -- passphrases, throttled like a sign-in -------------------------------------------------
    def throttled(caller: Caller, request: Request) -> None:
        verdict = throttle.attempt(caller.principal.name, _client(request))
        if not verdict.allowed:
            wait = max(1, int(verdict.retry_after + 0.999))
            raise HTTPException(
                429, f"too many attempts: try again in {wait} s", headers={"Retry-After": str(wait)}
            )

    def strong(passphrase: SecretStr, caller: Caller) -> bytes:
        data = passphrase.get_secret_value().encode()
        try:
            check_strength(data, [caller.principal.name])
        except WeakPassphrase as exc:
            raise HTTPException(422, explain(exc)) from None
        return data

    def key_refusal(exc: KeyError_) -> HTTPException:
        if exc.message == WRONG_PASSPHRASE:
            return HTTPException(403, "wrong owner passphrase")
        if exc.message.startswith("member name"):
            return HTTPException(422, exc.message)
        return HTTPException(409, exc.message)

    calibrated: list[int] = []

    def work_factor() -> int:
        """The scrypt work factor for rewrapped keys: given, or measured once (~1 s here)."""
        if settings.work_factor is not None:
            return settings.work_factor
        if not calibrated:
            calibrated.append(calibrate_log_n())
        return calibrated[0]

    @router.post("/api/v1/keys/passphrase", tags=["keys"], summary="Change the key passphrase")
    def change_passphrase(
        body: PassphraseChange, request: Request, caller: KeysManager
    ) -> PassphraseChanged:
        new = strong(body.new, caller)
        throttled(caller, request)
        try:
            keys.change_passphrase(body.old.get_secret_value().encode(), new, log_n=work_factor())
        except KeyError_ as exc:
            record("keys.passphrase.failed", {"reason": exc.message}, actor_of(caller.principal))
            raise key_refusal(exc) from None
        throttle.succeeded(caller.principal.name, _client(request))
        ended = accounts.sessions.logout_everywhere(
            caller.principal.user_id, reason="passphrase changed", keep=caller.session.key
        )
        record("keys.passphrase", {"sessions_ended": ended}, actor_of(caller.principal))
        return PassphraseChanged(sessions_ended=ended)

    @router.get("/api/v1/keys/members", tags=["keys"], summary="Household members")
    def list_members(_: KeysManager) -> Members:
        try:
            return Members(members=keys.members())
        except KeyError_ as exc:
            raise HTTPException(409, exc.message) from None

    @router.post(
        "/api/v1/keys/members", tags=["keys"], summary="Add a household member", status_code=201
    )
    def add_member(body: NewMember, request: Request, caller: KeysManager) -> Members:
        member_passphrase = strong(body.member_passphrase, caller)
        throttled(caller, request)
        try:
            recipient = keys.add_member(
                body.owner_passphrase.get_secret_value().encode(),
                body.name,
                member_passphrase,
                log_n=work_factor(),
                now=settings.clock.wall(),
            )
        except KeyError_ as exc:
            raise key_refusal(exc) from None
        throttle.succeeded(caller.principal.name, _client(request))
        record(
            "keys.member.add",
            {"name": body.name, "recipient": str(recipient)},
            actor_of(caller.principal),
        )
        return Members(members=keys.members())

    @router.delete(
        "/api/v1/keys/members/{member}", tags=["keys"], summary="Remove a household member"
    )
    def remove_member(
        member: str, body: OwnerPassphrase, request: Request, caller: KeysManager
    ) -> Members:
        throttled(caller, request)
        try:
            keys.remove_member(
                body.owner_passphrase.get_secret_value().encode(),
                member,
                now=settings.clock.wall(),
            )
        except KeyError_ as exc:
            if exc.message.startswith("no member"):
                raise HTTPException(404, exc.message) from None
            raise key_refusal(exc) from None
        throttle.succeeded(caller.principal.name, _client(request))
        # A viewer linked to this key (same name) holds it unlocked: end those sessions.
        with settings.db() as session:
            linked = users.get_user(session, member)
        ended = 0
        if linked is not None and linked.role is Role.VIEWER:
            ended = accounts.sessions.logout_everywhere(linked.id, reason="household key removed")
        record(
            "keys.member.remove",
            {"name": member, "sessions_ended": ended},
            actor_of(caller.principal),
        )
        return Members(members=keys.members())

    # -- the owner's second factor ------------------------------------------------------------
    def owner_totp() -> OwnerTotp:
        if totp is None:
            raise HTTPException(404, "two-factor sign-in is not available on this service")
        return totp

    @router.get("/api/v1/totp", tags=["keys"], summary="Whether two-factor sign-in is on")
    def totp_state(_: KeysManager) -> TotpState:
        return TotpState(enabled=owner_totp().enabled())

    @router.post("/api/v1/totp/enrol", tags=["keys"], summary="Start two-factor enrolment")
    def totp_enrol(caller: KeysManager) -> TotpEnrolment:
        factor = owner_totp()
        if factor.enabled():
            raise HTTPException(409, "two-factor sign-in is already on: turn it off first")
        enrolment = factor.begin(caller.principal.name)
        record("totp.enrol", {}, actor_of(caller.principal))
        return TotpEnrolment(secret=enrolment.secret, uri=enrolment.uri)

    @router.post("/api/v1/totp/confirm", tags=["keys"], summary="Turn two-factor sign-in on")
    def totp_confirm(body: TotpCode, caller: KeysManager) -> TotpState:
        factor = owner_totp()
        try:
            recipient = keys.recipient_list()["owner"]
        except (KeyError_, KeyError):
            raise HTTPException(409, "the owner keys cannot be read") from None
        if not factor.confirm(body.code.strip(), recipient):
            raise HTTPException(
                422, "wrong code (or the enrolment is over 10 minutes old: start again)"
            )
        record("totp.enable", {}, actor_of(caller.principal))
        return TotpState(enabled=True)

    @router.delete("/api/v1/totp", tags=["keys"], summary="Turn two-factor sign-in off")
    def totp_off(body: TotpOff, request: Request, caller: KeysManager) -> TotpState:
        factor = owner_totp()
        if not factor.enabled():
            raise HTTPException(409, "two-factor sign-in is not on")
        throttled(caller, request)
        try:
            unlocked = keys.unlock(body.passphrase.get_secret_value().encode())
        except KeyError_ as exc:
            raise key_refusal(exc) from None
        try:
            ok = factor.verify(unlocked.identities, body.code.strip())
        finally:
            wipe(unlocked.secret)
        if not ok:
            raise HTTPException(403, "wrong code")
        throttle.succeeded(caller.principal.name, _client(request))
        factor.disable()
        record("totp.disable", {}, actor_of(caller.principal))
        return TotpState(enabled=False)

    # -- retention and quota --------------------------------------------------------------------
    @router.get("/api/v1/settings/retention", tags=["settings"], summary="Retention and quota")
    def retention(_: SettingsManager) -> RetentionView:
        return settings.retention.view()

    @router.put("/api/v1/settings/retention", tags=["settings"], summary="Change retention")
    def set_retention(body: RetentionIn, caller: SettingsManager) -> RetentionView:
        if body.continuous_days > body.event_days and body.event_days != 0:
            raise HTTPException(
                422, "event recordings must be kept at least as long as continuous ones"
            )
        quota = body.quota.strip() if body.quota and body.quota.strip() else None
        editor = settings.retention
        if not editor.view().editable:
            raise HTTPException(409, "the service runs without a config file: nowhere to save")
        try:
            view = editor.update(
                continuous_days=body.continuous_days, event_days=body.event_days, quota=quota
            )
        except UserError as exc:
            raise HTTPException(422, exc.message) from None
        record(
            "settings.retention",
            {
                "continuous_days": view.continuous_days,
                "event_days": view.event_days,
                "quota": view.quota,
            },
            actor_of(caller.principal),
        )
        return view

    # -- the audit log --------------------------------------------------------------------------
    @router.get("/api/v1/audit", tags=["audit"], summary="Audit log entries, newest first")
    def audit_entries(
        _: Auditor,
        before: Annotated[int | None, Query(ge=0, le=MAX_SEQ)] = None,
        limit: Annotated[int, Query(ge=1, le=AUDIT_PAGE_MAX)] = 50,
    ) -> AuditPage:
        with settings.db() as session:
            total = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
            query = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
            if before is not None:
                query = query.where(AuditEntry.seq < before)
            rows = list(session.scalars(query))
        entries = []
        for row in rows:
            try:
                data = json.loads(row.entry_json)
                actor = AuditActor(role=str(data["actor"]["role"]), user=data["actor"]["user"])
                text = summary(data.get("payload", {}))
            except (ValueError, KeyError, TypeError):
                actor, text = AuditActor(role="?", user=None), "(unreadable: run verify)"
            entries.append(
                AuditRow(seq=row.seq, time=row.time, kind=row.kind, actor=actor, summary=text)
            )
        last = entries[-1].seq if entries else None
        return AuditPage(
            entries=entries, total=total, next_before=last if last not in (None, 0) else None
        )

    @router.post("/api/v1/audit/verify", tags=["audit"], summary="Verify the audit log chain")
    def audit_verify(caller: Auditor) -> Verified:
        result = settings.audit.verify()
        return Verified(
            ok=result.ok,
            entries=result.entries,
            checkpoints=result.checkpoints,
            reason=result.reason,
            bad_seq=result.bad_seq,
            bad_checkpoint=result.bad_checkpoint,
        )

    return router
