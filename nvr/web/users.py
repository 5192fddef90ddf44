"""Accounts and install windows over the API (the settings page; docs/design/settings.md).

Users (``users.manage``, owner only; every change audited, never with a password):
- ``GET /api/v1/users``: every account, a viewer's cameras, the number of live sessions,
  whether a viewer has a household key of the same name (``has_key``: it signs in with it).
- ``POST /api/v1/users`` ``{name, role, password, cameras?}`` (role ``viewer`` or
  ``installer``): 201. The password is checked for strength (422 with zxcvbn's reason)
  and stored as an Argon2id hash; a taken name is 409.
- ``PATCH /api/v1/users/{name}`` ``{role?, password?, enabled?}``: any change that alters
  what the account can do or how it signs in (role, password, disabling) ends its sessions,
  so no session keeps an old role. The owner's account is 409 here: the owner signs in with
  the key passphrase and is never demoted or disabled.
- ``DELETE /api/v1/users/{name}``: 204, its sessions ended; the owner's account is 409.
- ``PUT /api/v1/users/{name}/cameras`` ``{cameras}``: a viewer's cameras (422 for an
  unknown camera, 409 for an account that is not a viewer).

Install windows (``install_window.open``, owner only; audited):
- ``GET /api/v1/install-windows``: the open window (with ``seconds_left``) and the latest.
- ``POST /api/v1/install-windows`` ``{minutes}`` (1 to 480): opens one now (closing any
  open one), 201.
- ``DELETE /api/v1/install-windows/{window_id}``: close it now (204; 404 if not open).

No ``from __future__ import annotations``: the handlers are built inside the router factory
and their ``Annotated[..., Depends(...)]`` names local dependencies (see ``nvr.auth.deps``).
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Response
from pydantic import BaseModel, Field, SecretStr
from sqlalchemy.orm import Session, sessionmaker

from nvr.audit.entry import Actor
from nvr.auth import users
from nvr.auth.deps import Caller
from nvr.auth.login import actor_of
from nvr.auth.policy import InstallWindow, Permission, Role
from nvr.auth.users import MAX_WINDOW, UserRecord
from nvr.clock import Clock
from nvr.errors import UserError
from nvr.keys.passphrase import WeakPassphrase
from nvr.web.session import Accounts

Record = Callable[[str, dict[str, Any], Actor], object]
MAX_WINDOW_MINUTES = int(MAX_WINDOW.total_seconds() // 60)


class UserOut(BaseModel):
    name: str
    role: str
    enabled: bool
    created_at: datetime
    cameras: list[str] | None  # a viewer's cameras; None for other roles
    sessions: int
    household_key: bool  # a viewer linked to a household key of the same name


class NewUser(BaseModel):
    model_config = {"extra": "forbid", "strict": True}
    name: str = Field(min_length=1, max_length=64)
    role: Literal["viewer", "installer"]
    password: SecretStr = Field(min_length=1, max_length=1024)
    cameras: list[str] = Field(default_factory=list, max_length=64)


class UserChange(BaseModel):
    model_config = {"extra": "forbid", "strict": True}
    role: Literal["viewer", "installer"] | None = None
    password: SecretStr | None = Field(default=None, min_length=1, max_length=1024)
    enabled: bool | None = None


class CameraList(BaseModel):
    model_config = {"extra": "forbid", "strict": True}
    cameras: list[str] = Field(max_length=64)


class WindowOut(BaseModel):
    id: int
    opened_by: str
    opened_at: datetime
    expires_at: datetime
    closed_at: datetime | None
    open: bool
    seconds_left: int


class Windows(BaseModel):
    current: WindowOut | None
    recent: list[WindowOut]
    max_minutes: int


class NewWindow(BaseModel):
    model_config = {"extra": "forbid", "strict": True}
    minutes: int = Field(ge=1, le=MAX_WINDOW_MINUTES)


class ErrorBody(BaseModel):
    """Every refusal: ``{"error": reason}`` (validation errors add ``reasons``)."""

    error: str
    reasons: list[str] | None = None


# The refusals these routers answer, in the OpenAPI schema (schemathesis checks them).
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (400, "a body that is not JSON"),
        (401, "signed out (or footage locked)"),
        (403, "refused by the role x permission table, CSRF, or a wrong passphrase or code"),
        (404, "no such account, window or member"),
        (409, "conflicts with the current state (the owner's account, a taken name ...)"),
        (422, "bad input, with the reason (a weak password, an unknown camera ...)"),
        (429, "too many attempts: see Retry-After"),
    )
}


def explain(exc: UserError, word: str = "passphrase") -> str:
    """A refused passphrase or password as one sentence with its hint."""
    message = exc.message.replace("passphrase", word)
    return f"{message} ({exc.hint})" if exc.hint else message


def window_out(window: InstallWindow, now: datetime) -> WindowOut:
    is_open = window.is_open(now)
    left = int((window.expires_at - now).total_seconds()) if is_open else 0
    return WindowOut(
        id=window.id,
        opened_by=window.opened_by,
        opened_at=window.opened_at,
        expires_at=window.expires_at,
        closed_at=window.closed_at,
        open=is_open,
        seconds_left=max(0, left),
    )


def users_router(
    accounts: Accounts,
    db: sessionmaker[Session],
    record: Record,
    clock: Clock,
    *,
    has_key: Callable[[str], bool] = lambda name: False,
) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["users"], responses=ERRORS)
    auth = accounts.authorizer
    sessions = accounts.sessions
    passwords = accounts.sign_in.passwords
    Manager = Annotated[Caller, Depends(auth.require(Permission.USERS_MANAGE))]
    Opener = Annotated[Caller, Depends(auth.require(Permission.INSTALL_WINDOW_OPEN))]

    def find(session: Session, name: str) -> UserRecord:
        user = users.get_user(session, name)
        if user is None:
            raise HTTPException(404, f"no account named {name!r}")
        return user

    def out(session: Session, user: UserRecord) -> UserOut:
        cameras = (
            sorted(users.viewer_cameras(session, user.id)) if user.role is Role.VIEWER else None
        )
        return UserOut(
            name=user.name,
            role=user.role.value,
            enabled=not user.disabled,
            created_at=user.created_at,
            cameras=cameras,
            sessions=sessions.count(user.id),
            household_key=user.role is Role.VIEWER and has_key(user.name),
        )

    def hashed(password: SecretStr, name: str) -> str:
        try:
            return passwords.hash(password.get_secret_value(), context=[name])
        except WeakPassphrase as exc:
            raise HTTPException(422, explain(exc, "password")) from None

    @router.get("/users", summary="Every account")
    def list_users(_: Manager) -> list[UserOut]:
        with db() as session:
            return [out(session, user) for user in users.list_users(session)]

    @router.post("/users", summary="Add a viewer or an installer", status_code=201)
    def create_user(body: NewUser, caller: Manager) -> UserOut:
        try:
            name = users.normalize_name(body.name)
        except UserError as exc:
            raise HTTPException(422, f"{exc.message} ({exc.hint})") from None
        password_hash = hashed(body.password, name)
        role = Role(body.role)
        if body.cameras and role is not Role.VIEWER:
            raise HTTPException(422, "only a viewer has a camera list")
        with db.begin() as session:
            # Checked before the account is made: nothing to undo (on SQLite the savepoint
            # create_user uses does not roll back with the outer transaction).
            unknown = users.unknown_cameras(session, body.cameras)
            if unknown:
                raise HTTPException(422, f"unknown camera: {', '.join(unknown)}")
            try:
                created = users.create_user(session, name, role, password_hash, clock.wall())
            except UserError as exc:
                raise HTTPException(409, exc.message) from None
            if body.cameras:
                users.set_viewer_cameras(session, created.id, body.cameras)
            result = out(session, created)
        record(
            "users.create",
            {"name": name, "role": role.value, "cameras": result.cameras},
            actor_of(caller.principal),
        )
        return result

    @router.patch("/users/{name}", summary="Change role, reset password, enable or disable")
    def change_user(name: str, body: UserChange, caller: Manager) -> UserOut:
        if body.role is None and body.password is None and body.enabled is None:
            raise HTTPException(422, "nothing to change: give role, password or enabled")
        with db() as session:
            user = find(session, name)
        if user.role is Role.OWNER:
            raise HTTPException(
                409,
                "the owner's account cannot be changed here: the owner signs in with the key "
                "passphrase (change it under Passphrase) and is never demoted or disabled",
            )
        password_hash = hashed(body.password, user.name) if body.password is not None else None
        changes: list[str] = []
        with db.begin() as session:
            if body.role is not None and body.role != user.role.value:
                users.set_role(session, user.id, Role(body.role))
                changes.append(f"role {body.role}")
            if password_hash is not None:
                users.set_password_hash(session, user.id, password_hash)
                changes.append("password reset")
            if body.enabled is not None and body.enabled == user.disabled:
                users.set_disabled(session, user.id, not body.enabled)
                changes.append("enabled" if body.enabled else "disabled")
        ended = 0
        if any(c != "enabled" for c in changes):
            ended = sessions.logout_everywhere(user.id, reason="account changed")
        if changes:
            record(
                "users.update",
                {"name": user.name, "changes": changes, "sessions_ended": ended},
                actor_of(caller.principal),
            )
        with db() as session:
            return out(session, find(session, user.name))

    @router.delete("/users/{name}", summary="Delete an account", status_code=204)
    def delete_user(name: str, caller: Manager) -> Response:
        with db.begin() as session:
            user = find(session, name)
            try:
                users.delete_user(session, user.id)
            except UserError as exc:
                raise HTTPException(409, exc.message) from None
        ended = sessions.logout_everywhere(user.id, reason="account deleted")
        record(
            "users.delete",
            {"name": user.name, "role": user.role.value, "sessions_ended": ended},
            actor_of(caller.principal),
        )
        return Response(status_code=204)

    @router.put("/users/{name}/cameras", summary="The cameras a viewer may watch")
    def set_cameras(name: str, body: CameraList, caller: Manager) -> UserOut:
        with db.begin() as session:
            user = find(session, name)
            if user.role is not Role.VIEWER:
                raise HTTPException(
                    409, f"{user.name!r} is not a viewer: only viewers have cameras"
                )
            try:
                users.set_viewer_cameras(session, user.id, body.cameras)
            except UserError as exc:
                raise HTTPException(422, exc.message) from None
            result = out(session, user)
        record(
            "users.cameras",
            {"name": user.name, "cameras": result.cameras},
            actor_of(caller.principal),
        )
        return result

    @router.get("/install-windows", summary="The open install window and the latest ones")
    def list_windows(_: Opener) -> Windows:
        now = clock.wall()
        with db() as session:
            current = users.current_install_window(session, now)
            recent = users.recent_install_windows(session)
        return Windows(
            current=window_out(current, now) if current is not None else None,
            recent=[window_out(w, now) for w in recent],
            max_minutes=MAX_WINDOW_MINUTES,
        )

    @router.post("/install-windows", summary="Open an install window now", status_code=201)
    def open_window(body: NewWindow, caller: Opener) -> WindowOut:
        now = clock.wall()
        with db.begin() as session:
            window = users.open_install_window(
                session, caller.principal.user_id, now, timedelta(minutes=body.minutes)
            )
        record(
            "install_window.open",
            {
                "id": window.id,
                "minutes": body.minutes,
                "expires_at": window.expires_at.isoformat(),
            },
            actor_of(caller.principal),
        )
        return window_out(window, now)

    @router.delete(
        "/install-windows/{window_id}", summary="Close an install window now", status_code=204
    )
    def close_window(
        window_id: Annotated[int, Path(ge=1, le=2**53 - 1)], caller: Opener
    ) -> Response:
        with db.begin() as session:
            closed = users.close_install_window_by_id(session, window_id, clock.wall())
        if not closed:
            raise HTTPException(404, f"install window {window_id} is not open")
        record("install_window.close", {"id": window_id}, actor_of(caller.principal))
        return Response(status_code=204)

    return router
