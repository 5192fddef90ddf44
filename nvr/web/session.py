"""Sign-in over the API: ``/api/v1/session`` and the owner's re-unlock (docs/design/auth.md).

- ``POST /api/v1/session`` ``{name, password, otp?}``: ``SignIn.sign_in`` (throttle first,
  429 with ``Retry-After``; 401 ``wrong name or password`` for every failure, a missing or
  wrong code of the owner's second factor included); on success the
  ``__Host-porchlight`` cookie (a new id: any presented one ends) and
  ``{name, role, csrf_token, idle_timeout_seconds, unlocked}``. A cross-site ``Origin``
  is refused (403): nobody can sign a browser in to an account of their choosing.
- ``GET /api/v1/session``: who am I, the CSRF token (for a reloaded page), unlocked?
- ``DELETE /api/v1/session`` (CSRF): sign out, cookie cleared.
- ``POST /api/v1/session/logout-everywhere`` (CSRF): end every session of this account.
- ``POST /api/v1/unlock`` ``{passphrase}`` (CSRF): the unlock locked after idle
  (10 min) while the session (30 min) goes on; the owner's key passphrase, or a household
  viewer's password (their member passphrase), attaches a new unlock to this session
  (``can_unlock`` in the session info says who may; anyone else gets 403).
  ``POST /api/v1/lock`` (any account, CSRF): lock this session's footage now, stay signed
  in (a household viewer's too; without an unlock it changes nothing).
No bearer tokens: the session cookie is the only credential.

No ``from __future__ import annotations``: the handlers are built inside the router
factory and their ``Annotated[..., Depends(...)]`` names local dependencies.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field, SecretStr

from nvr.auth.deps import Authorizer, same_origin
from nvr.auth.login import LoginRefused, SignIn
from nvr.auth.sessions import (
    COOKIE_NAME,
    ActiveSession,
    SessionStore,
    clear_session_cookie,
    set_session_cookie,
)
from nvr.auth.totp import OwnerTotp
from nvr.service.unlock import UnlockManager
from nvr.web.errors import THROTTLED


@dataclass(frozen=True)
class Accounts:
    """Everything the app needs to sign people in and authorize them; built by the service
    (``nvr.service.accounts``) or a test."""

    authorizer: Authorizer
    sessions: SessionStore
    sign_in: SignIn
    unlocks: UnlockManager
    owner_exists: Callable[[], bool]
    totp: OwnerTotp | None = None  # the owner's optional second factor (nvr.auth.totp)


class LoginRequest(BaseModel):
    model_config = {"extra": "forbid"}
    name: str = Field(min_length=1, max_length=128)
    password: SecretStr = Field(min_length=1, max_length=1024)
    otp: SecretStr | None = Field(default=None, max_length=16)  # the owner's TOTP code


class UnlockRequest(BaseModel):
    model_config = {"extra": "forbid"}
    passphrase: SecretStr = Field(min_length=1, max_length=1024)


class SessionInfo(BaseModel):
    name: str
    role: str
    csrf_token: str
    idle_timeout_seconds: int
    unlocked: bool
    # The owner, or a viewer with a household key: may POST /api/v1/unlock after the lock.
    can_unlock: bool = False


class UnlockState(BaseModel):
    unlocked: bool
    idle_timeout_seconds: int


class Ended(BaseModel):
    ended: int


def _refused(exc: LoginRefused) -> HTTPException:
    headers = {"Retry-After": str(exc.retry_after)} if exc.status == 429 else None
    return HTTPException(exc.status, exc.reason, headers=headers)


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def session_router(accounts: Accounts) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["session"])
    sessions = accounts.sessions
    SignedIn = Annotated[ActiveSession, Depends(accounts.authorizer.signed_in())]

    def info(session: ActiveSession) -> SessionInfo:
        return SessionInfo(
            name=session.principal.name,
            role=session.principal.role.value,
            csrf_token=session.csrf_token,
            idle_timeout_seconds=int(sessions.idle_timeout.total_seconds()),
            unlocked=sessions.is_unlocked(session),
            can_unlock=accounts.sign_in.can_unlock(session.principal),
        )

    @router.post(
        "/session",
        summary="Sign in (the owner with the key passphrase)",
        responses={429: THROTTLED},
    )
    def login(body: LoginRequest, request: Request, response: Response) -> SessionInfo:
        if not same_origin(request):
            raise HTTPException(403, "cross-site request refused")
        try:
            issued = accounts.sign_in.sign_in(
                body.name,
                body.password.get_secret_value(),
                address=_client(request),
                replacing=request.cookies.get(COOKIE_NAME),
                otp=body.otp.get_secret_value().strip() if body.otp else None,
            )
        except LoginRefused as exc:
            raise _refused(exc) from None
        set_session_cookie(response, issued.token, sessions.max_age)
        return info(issued.session)

    @router.get("/session", summary="Who is signed in, the CSRF token, unlocked or not")
    def whoami(session: SignedIn) -> SessionInfo:
        return info(session)

    @router.delete("/session", summary="Sign out", status_code=204)
    def logout(request: Request, _: SignedIn) -> Response:
        sessions.logout(request.cookies[COOKIE_NAME])
        response = Response(status_code=204)
        clear_session_cookie(response)
        return response

    @router.post("/session/logout-everywhere", summary="End every session of this account")
    def logout_everywhere(session: SignedIn, response: Response) -> Ended:
        ended = sessions.logout_everywhere(session.principal.user_id)
        clear_session_cookie(response)
        return Ended(ended=ended)

    @router.post(
        "/unlock",
        summary="Unlock footage again (the owner's passphrase, a household member's password)",
        responses={429: THROTTLED},
    )
    def unlock(body: UnlockRequest, request: Request, session: SignedIn) -> UnlockState:
        try:
            token = accounts.sign_in.reunlock(
                session.principal, body.passphrase.get_secret_value(), address=_client(request)
            )
        except LoginRefused as exc:
            raise _refused(exc) from None
        if not sessions.attach_unlock(request.cookies[COOKIE_NAME], token):
            accounts.unlocks.lock(token, "session ended")
            raise HTTPException(401, "your session has ended: sign in again")
        return UnlockState(
            unlocked=True,
            idle_timeout_seconds=int(accounts.unlocks.idle_timeout.total_seconds()),
        )

    @router.post("/lock", summary="Lock footage now (stay signed in)", status_code=204)
    def lock(session: SignedIn) -> Response:
        token = session.unlock_token
        if token is not None:
            accounts.unlocks.lock(token, "lock")
        return Response(status_code=204)

    return router
