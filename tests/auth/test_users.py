"""Accounts in the database (SQLite and PostgreSQL): names, one owner, viewers' cameras,
install windows; and the 0006 migration's tables going up and down."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, inspect
from sqlalchemy.orm import Session, sessionmaker

from nvr.auth import users
from nvr.auth.policy import Permission, Role, decide
from nvr.db import migrate
from nvr.db.engine import make_engine
from nvr.db.repo import ensure_cameras
from nvr.errors import UserError

NOW = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)
HASH = "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    migrate.upgrade(db_url)
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def test_migration_0006_adds_and_removes_the_account_tables(db_url: str) -> None:
    new = {"users", "viewer_cameras", "install_windows"}
    migrate.upgrade(db_url, "0005")
    engine = make_engine(db_url)
    try:
        assert not new & set(inspect(engine).get_table_names())
        migrate.upgrade(db_url, "0006")
        assert new <= set(inspect(engine).get_table_names())
        migrate.downgrade(db_url, "0005")
        assert not new & set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("alex", "alex"),
        ("  Alex ", "alex"),
        ("\uff21\uff2c\uff25\uff38", "alex"),  # full-width letters
        ("sam.o-k_1", "sam.o-k_1"),
    ],
)
def test_names_are_normalized(typed: str, stored: str) -> None:
    assert users.normalize_name(typed) == stored


@pytest.mark.parametrize("bad", ["", " ", "-alex", "al ex", "a" * 65, "al\tex", "\u00e5lex", "a/b"])
def test_unusable_names_are_refused(bad: str) -> None:
    with pytest.raises(UserError, match="not a usable account name"):
        users.normalize_name(bad)


def test_owner_and_users(factory: sessionmaker[Session]) -> None:
    with factory.begin() as session:
        assert not users.owner_exists(session)
        owner = users.create_owner(session, "Alex", NOW)
        viewer = users.create_user(session, "sam", Role.VIEWER, HASH, NOW)
        users.create_user(session, "ines", Role.INSTALLER, HASH, NOW)
    assert owner.password_hash is None
    assert owner.role is Role.OWNER
    with factory.begin() as session:
        assert users.owner_exists(session)
        found = users.get_user(session, " ALEX")
        assert found == owner
        assert users.get_user(session, "nobody") is None
        assert users.get_user(session, "not a name!") is None
        assert users.get_user_by_id(session, viewer.id) == viewer
        assert [u.name for u in users.list_users(session)] == ["alex", "sam", "ines"]
        assert found.created_at == NOW


def test_one_owner_only_even_bypassing_the_check(factory: sessionmaker[Session]) -> None:
    with factory.begin() as session:
        users.create_owner(session, "alex", NOW)
    with factory.begin() as session, pytest.raises(UserError, match="already is an owner"):
        users.create_owner(session, "sam", NOW)
    # The database itself refuses a second owner row (the unique partial index).
    from sqlalchemy.exc import IntegrityError

    from nvr.db.models import User

    with pytest.raises(IntegrityError), factory.begin() as session:
        session.add(User(name="eve", role="owner", created_at=NOW))


def test_names_are_unique_and_roles_checked(factory: sessionmaker[Session]) -> None:
    with factory.begin() as session:
        users.create_user(session, "sam", Role.VIEWER, HASH, NOW)
    with factory.begin() as session, pytest.raises(UserError, match="already exists"):
        users.create_user(session, "SAM", Role.INSTALLER, HASH, NOW)
    with factory.begin() as session:
        with pytest.raises(ValueError, match="create_owner"):
            users.create_user(session, "x", Role.OWNER, HASH, NOW)
        with pytest.raises(ValueError, match="Argon2id"):
            users.create_user(session, "x", Role.VIEWER, "plaintext", NOW)
    from sqlalchemy.exc import IntegrityError

    from nvr.db.models import User

    with pytest.raises(IntegrityError), factory.begin() as session:
        session.add(User(name="root", role="admin", created_at=NOW))


def test_password_and_disabled(factory: sessionmaker[Session]) -> None:
    with factory.begin() as session:
        owner = users.create_owner(session, "alex", NOW)
        sam = users.create_user(session, "sam", Role.VIEWER, HASH, NOW)
        users.set_password_hash(session, sam.id, HASH.replace("t=1", "t=2"))
        users.set_disabled(session, sam.id, True)
        with pytest.raises(ValueError, match="passphrase"):
            users.set_password_hash(session, owner.id, HASH)
        with pytest.raises(UserError, match="cannot be disabled"):
            users.set_disabled(session, owner.id, True)
        with pytest.raises(LookupError):
            users.set_disabled(session, 999, True)
    with factory.begin() as session:
        again = users.get_user(session, "sam")
        assert again is not None
        assert again.disabled
        assert again.password_hash is not None
        assert "t=2" in again.password_hash


def test_viewer_cameras(factory: sessionmaker[Session]) -> None:
    with factory.begin() as session:
        ensure_cameras(session, ["porch", "garage", "gate"], NOW)
        sam = users.create_user(session, "sam", Role.VIEWER, HASH, NOW)
        ines = users.create_user(session, "ines", Role.INSTALLER, HASH, NOW)
        assert users.viewer_cameras(session, sam.id) == frozenset()
        users.set_viewer_cameras(session, sam.id, ["porch", "gate", "porch"])
    with factory.begin() as session:
        allowed = users.viewer_cameras(session, sam.id)
        assert allowed == {"porch", "gate"}
        users.set_viewer_cameras(session, sam.id, ["garage"])
        with pytest.raises(UserError, match="unknown camera: nope"):
            users.set_viewer_cameras(session, sam.id, ["nope"])
        with pytest.raises(ValueError, match="only viewers"):
            users.set_viewer_cameras(session, ines.id, ["porch"])
    with factory.begin() as session:
        allowed = users.viewer_cameras(session, sam.id)
    assert allowed == {"garage"}
    assert decide(
        Role.VIEWER,
        Permission.LIVE_VIEW,
        install_window=None,
        now=NOW,
        viewer_cameras=allowed,
        camera="garage",
    ).allowed


def test_install_windows(factory: sessionmaker[Session]) -> None:
    with factory.begin() as session:
        owner = users.create_owner(session, "alex", NOW)
        sam = users.create_user(session, "sam", Role.VIEWER, HASH, NOW)
        assert users.current_install_window(session, NOW) is None
        window = users.open_install_window(session, owner.id, NOW, timedelta(minutes=30))
        with pytest.raises(UserError, match="at most"):
            users.open_install_window(session, owner.id, NOW, timedelta(hours=9))
        with pytest.raises(ValueError, match="only the owner"):
            users.open_install_window(session, sam.id, NOW)
    assert window.opened_by == "alex"
    assert window.expires_at == NOW + timedelta(minutes=30)
    with factory.begin() as session:
        assert users.current_install_window(session, NOW + timedelta(minutes=29)) == window
        assert users.current_install_window(session, NOW + timedelta(minutes=30)) is None
        later = NOW + timedelta(minutes=10)
        # Opening a new window closes the open one.
        second = users.open_install_window(session, owner.id, later)
        assert users.current_install_window(session, later) == second
    with factory.begin() as session:
        assert users.close_install_window(session, later + timedelta(minutes=1))
        assert not users.close_install_window(session, later + timedelta(minutes=2))
        assert users.current_install_window(session, later + timedelta(minutes=2)) is None


def test_roles_change_and_accounts_are_deleted(factory: sessionmaker[Session]) -> None:
    with factory.begin() as session:
        ensure_cameras(session, ["porch"], NOW)
        owner = users.create_owner(session, "alex", NOW)
        sam = users.create_user(session, "sam", Role.VIEWER, HASH, NOW)
        users.set_viewer_cameras(session, sam.id, ["porch"])
        assert users.unknown_cameras(session, ["porch", "attic", "attic"]) == ["attic"]
    with factory.begin() as session:
        users.set_role(session, sam.id, Role.INSTALLER)
        # The camera list belongs to the viewer role: gone with it.
        assert users.viewer_cameras(session, sam.id) == frozenset()
        assert users.get_user(session, "sam").role is Role.INSTALLER  # type: ignore[union-attr]
        for role in (Role.VIEWER, Role.OWNER):
            with pytest.raises(UserError):
                users.set_role(session, owner.id, role)
        with pytest.raises(UserError, match="one owner"):
            users.set_role(session, sam.id, Role.OWNER)
    with factory.begin() as session:
        users.set_role(session, sam.id, Role.VIEWER)
        users.set_viewer_cameras(session, sam.id, ["porch"])
        users.delete_user(session, sam.id)
        with pytest.raises(UserError, match="cannot be deleted"):
            users.delete_user(session, owner.id)
    with factory() as session:
        assert [u.name for u in users.list_users(session)] == ["alex"]


def test_install_windows_close_by_id_and_recent(factory: sessionmaker[Session]) -> None:
    with factory.begin() as session:
        owner = users.create_owner(session, "alex", NOW)
        first = users.open_install_window(session, owner.id, NOW, timedelta(minutes=10))
        later = NOW + timedelta(minutes=20)
        second = users.open_install_window(session, owner.id, later, timedelta(minutes=10))
        assert not users.close_install_window_by_id(session, first.id, later)  # expired
        assert users.close_install_window_by_id(session, second.id, later)
        assert not users.close_install_window_by_id(session, second.id, later)  # closed
        assert not users.close_install_window_by_id(session, 999, later)
        recent = users.recent_install_windows(session)
        assert [(w.id, w.closed_at) for w in recent] == [(second.id, later), (first.id, None)]
        assert users.current_install_window(session, later) is None
