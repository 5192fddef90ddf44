"""Accounts, viewers' cameras and install windows in the database, as plain functions.

Like ``nvr.db.repo``: each function takes a ``Session``, flushes but never commits (the
caller owns the transaction), takes ``now`` as a parameter and returns plain values
(``UserRecord``, ``policy.InstallWindow``) that outlive the session. Hashing passwords is
``nvr.auth.passwords``' job; these functions store what they are given.

Login names are normalized (``normalize_name``): NFKC, trimmed, lower case, 1-64 of
``a-z 0-9 . _ -`` starting with a letter or digit, so "Alex" and "alex" are one account
and no look-alike Unicode name can shadow another.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from nvr.auth.policy import InstallWindow, Role
from nvr.db.models import USER_NAME_MAX, Camera, User, ViewerCamera
from nvr.db.models import InstallWindow as InstallWindowRow
from nvr.errors import UserError

_NAME_RE = re.compile(rf"[a-z0-9][a-z0-9._-]{{0,{USER_NAME_MAX - 1}}}")
DEFAULT_WINDOW = timedelta(hours=1)
MAX_WINDOW = timedelta(hours=8)


@dataclass(frozen=True)
class UserRecord:
    id: int
    name: str
    role: Role
    password_hash: str | None
    created_at: datetime
    disabled: bool


def normalize_name(name: str) -> str:
    """The stored form of a login name; ``UserError`` if it is not an acceptable one."""
    folded = unicodedata.normalize("NFKC", name).strip().lower()
    if not _NAME_RE.fullmatch(folded):
        raise UserError(
            f"{name!r} is not a usable account name",
            hint=f"1-{USER_NAME_MAX} characters: letters a-z, digits, '.', '_' or '-'",
        )
    return folded


def _record(user: User) -> UserRecord:
    return UserRecord(
        id=user.id,
        name=user.name,
        role=Role(user.role),
        password_hash=user.password_hash,
        created_at=user.created_at,
        disabled=user.disabled,
    )


def owner_exists(session: Session) -> bool:
    return session.scalar(select(User.id).where(User.role == Role.OWNER.value)) is not None


def create_owner(session: Session, name: str, now: datetime) -> UserRecord:
    """The owner's account (first run). ``UserError`` if there already is an owner."""
    return _create(session, name, Role.OWNER, None, now)


def create_user(
    session: Session, name: str, role: Role, password_hash: str, now: datetime
) -> UserRecord:
    """A viewer or installer with an Argon2id ``password_hash``."""
    if role is Role.OWNER:
        raise ValueError("use create_owner for the owner")
    if not password_hash.startswith("$argon2id$"):
        raise ValueError("password_hash must be an Argon2id PHC string")
    return _create(session, name, role, password_hash, now)


def _create(
    session: Session, name: str, role: Role, password_hash: str | None, now: datetime
) -> UserRecord:
    normalized = normalize_name(name)
    user = User(name=normalized, role=role.value, password_hash=password_hash, created_at=now)
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError:
        if role is Role.OWNER and owner_exists(session):
            raise UserError("there already is an owner") from None
        raise UserError(f"an account named {normalized!r} already exists") from None
    return _record(user)


def get_user(session: Session, name: str) -> UserRecord | None:
    """The account for a login name as typed (normalized here), or ``None``."""
    try:
        normalized = normalize_name(name)
    except UserError:
        return None
    user = session.scalar(select(User).where(User.name == normalized))
    return None if user is None else _record(user)


def get_user_by_id(session: Session, user_id: int) -> UserRecord | None:
    user = session.get(User, user_id)
    return None if user is None else _record(user)


def list_users(session: Session) -> list[UserRecord]:
    return [_record(u) for u in session.scalars(select(User).order_by(User.id))]


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise LookupError(f"no user with id {user_id}")
    return user


def set_password_hash(session: Session, user_id: int, password_hash: str) -> None:
    user = _user(session, user_id)
    if user.role == Role.OWNER.value:
        raise ValueError("the owner signs in with the key passphrase, not a password")
    user.password_hash = password_hash
    session.flush()


def set_disabled(session: Session, user_id: int, disabled: bool) -> None:
    """Disable (or re-enable) an account; the caller also ends its sessions."""
    user = _user(session, user_id)
    if user.role == Role.OWNER.value and disabled:
        raise UserError("the owner's account cannot be disabled")
    user.disabled = disabled
    session.flush()


def set_role(session: Session, user_id: int, role: Role) -> None:
    """Make a viewer an installer or back; a viewer's camera list goes with the role.
    The owner's role never changes (``UserError``), nor does anyone become owner."""
    user = _user(session, user_id)
    if user.role == Role.OWNER.value:
        raise UserError("the owner's account cannot change role")
    if role is Role.OWNER:
        raise UserError("there is one owner: nobody else can become owner")
    if user.role != role.value:
        session.execute(delete(ViewerCamera).where(ViewerCamera.user_id == user_id))
        user.role = role.value
    session.flush()


def delete_user(session: Session, user_id: int) -> None:
    """Remove a viewer's or installer's account and its camera list (the caller ends its
    sessions). The owner's account cannot be deleted (``UserError``). Audit entries keep
    the name: a later account with the same name is told apart by time."""
    user = _user(session, user_id)
    if user.role == Role.OWNER.value:
        raise UserError("the owner's account cannot be deleted")
    session.execute(delete(ViewerCamera).where(ViewerCamera.user_id == user_id))
    session.delete(user)
    session.flush()


def unknown_cameras(session: Session, names: Iterable[str]) -> list[str]:
    """Those of ``names`` that name no known camera, sorted."""
    wanted = sorted(set(names))
    known = set(session.scalars(select(Camera.name).where(Camera.name.in_(wanted))))
    return [name for name in wanted if name not in known]


def set_viewer_cameras(session: Session, user_id: int, cameras: Iterable[str]) -> None:
    """Replace the cameras a viewer may watch; every name must be a known camera."""
    user = _user(session, user_id)
    if user.role != Role.VIEWER.value:
        raise ValueError("only viewers have a camera list")
    wanted = sorted(set(cameras))
    rows = session.execute(select(Camera.name, Camera.id).where(Camera.name.in_(wanted)))
    ids = {row.name: row.id for row in rows}
    unknown = [name for name in wanted if name not in ids]
    if unknown:
        raise UserError(f"unknown camera: {', '.join(unknown)}")
    session.execute(delete(ViewerCamera).where(ViewerCamera.user_id == user_id))
    session.add_all(ViewerCamera(user_id=user_id, camera_id=ids[name]) for name in wanted)
    session.flush()


def viewer_cameras(session: Session, user_id: int) -> frozenset[str]:
    rows = session.scalars(
        select(Camera.name)
        .join(ViewerCamera, ViewerCamera.camera_id == Camera.id)
        .where(ViewerCamera.user_id == user_id)
    )
    return frozenset(rows)


def _window(row: InstallWindowRow, opened_by: str) -> InstallWindow:
    return InstallWindow(
        id=row.id,
        opened_by=opened_by,
        opened_at=row.opened_at,
        expires_at=row.expires_at,
        closed_at=row.closed_at,
    )


def open_install_window(
    session: Session, owner_id: int, now: datetime, duration: timedelta = DEFAULT_WINDOW
) -> InstallWindow:
    """Open a window for ``duration`` (at most ``MAX_WINDOW``), closing any open one."""
    if not timedelta(0) < duration <= MAX_WINDOW:
        raise UserError(f"an install window lasts more than 0 and at most {MAX_WINDOW}")
    owner = _user(session, owner_id)
    if owner.role != Role.OWNER.value:
        raise ValueError("only the owner opens install windows")
    close_install_window(session, now)
    row = InstallWindowRow(opened_by=owner_id, opened_at=now, expires_at=now + duration)
    session.add(row)
    session.flush()
    return _window(row, owner.name)


def close_install_window(session: Session, now: datetime) -> bool:
    """Close every window still open at ``now``; whether there was one."""
    rows = session.scalars(
        select(InstallWindowRow).where(
            InstallWindowRow.closed_at.is_(None), InstallWindowRow.expires_at > now
        )
    ).all()
    for row in rows:
        row.closed_at = now
    session.flush()
    return bool(rows)


def close_install_window_by_id(session: Session, window_id: int, now: datetime) -> bool:
    """Close window ``window_id`` now if it is still open; whether it was."""
    row = session.get(InstallWindowRow, window_id)
    if row is None or row.closed_at is not None or row.expires_at <= now:
        return False
    row.closed_at = now
    session.flush()
    return True


def recent_install_windows(session: Session, limit: int = 10) -> list[InstallWindow]:
    """The latest ``limit`` windows, newest first (open, expired and closed alike)."""
    rows = session.execute(
        select(InstallWindowRow, User.name)
        .join(User, User.id == InstallWindowRow.opened_by)
        .order_by(InstallWindowRow.id.desc())
        .limit(limit)
    ).all()
    return [_window(row, name) for row, name in rows]


def current_install_window(session: Session, now: datetime) -> InstallWindow | None:
    """The window open at ``now``, or ``None`` (``decide`` checks it again)."""
    found = session.execute(
        select(InstallWindowRow, User.name)
        .join(User, User.id == InstallWindowRow.opened_by)
        .where(
            InstallWindowRow.closed_at.is_(None),
            InstallWindowRow.opened_at <= now,
            InstallWindowRow.expires_at > now,
        )
        .order_by(InstallWindowRow.id.desc())
        .limit(1)
    ).first()
    return None if found is None else _window(found[0], found[1])
