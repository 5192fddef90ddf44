"""Engines: SQLite pragmas really applied, URLs resolved, user errors masked."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table, exc, insert, make_url, text

from nvr.db.engine import default_sqlite_url, make_engine, session_factory
from nvr.db.migrate import current
from nvr.errors import UserError


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # closed again on leaving the block: nothing listens there


def test_default_sqlite_url_is_in_the_data_dir() -> None:
    assert default_sqlite_url(Path("/var/lib/nvr")) == "sqlite:////var/lib/nvr/nvr.sqlite3"


def test_sqlite_pragmas_on_every_connection(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "nvr.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    try:
        assert path.parent.is_dir()  # created for the engine
        with engine.connect() as first, engine.connect() as second:
            for connection in (first, second):
                pragma = connection.exec_driver_sql
                assert pragma("PRAGMA journal_mode").scalar() == "wal"
                assert pragma("PRAGMA foreign_keys").scalar() == 1
                assert pragma("PRAGMA synchronous").scalar() == 1  # NORMAL
                assert pragma("PRAGMA busy_timeout").scalar() == 5000
            first.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            first.commit()
        assert path.with_name("nvr.sqlite3-wal").exists()
    finally:
        engine.dispose()


def test_sqlite_enforces_foreign_keys(sqlite_url: str) -> None:
    metadata = MetaData()
    parent = Table("parent", metadata, Column("id", Integer, primary_key=True))
    child = Table(
        "child", metadata, Column("parent_id", Integer, ForeignKey("parent.id"), nullable=False)
    )
    engine = make_engine(sqlite_url)
    try:
        metadata.create_all(engine)
        with engine.begin() as connection:
            connection.execute(insert(parent).values(id=1))
            connection.execute(insert(child).values(parent_id=1))
        with pytest.raises(exc.IntegrityError), engine.begin() as connection:
            connection.execute(insert(child).values(parent_id=2))
    finally:
        engine.dispose()


def test_session_factory_keeps_objects_readable_after_commit(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        with session_factory(engine).begin() as session:
            assert session.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()


def test_plain_postgresql_urls_get_psycopg() -> None:
    engine = make_engine("postgresql://user:pw@127.0.0.1/db")
    try:
        assert engine.dialect.driver == "psycopg"
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "invalid database URL"),
        ("nosuchdb://user:Hunter2secret@host/db", "unsupported database URL"),
        ("mysql://user:Hunter2secret@host/db", "no driver for database URL"),
    ],
)
def test_bad_urls_are_user_errors_without_the_password(url: str, message: str) -> None:
    with pytest.raises(UserError, match=message) as caught:
        make_engine(url)
    shown = f"{caught.value.message} {caught.value.hint}"
    assert "Hunter2secret" not in shown
    assert "\n" not in shown


def test_unreachable_server_is_a_user_error_without_the_password() -> None:
    url = f"postgresql+psycopg://nvr:Hunter2secret@127.0.0.1:{closed_port()}/nvr"
    with pytest.raises(UserError, match="cannot use database") as caught:
        current(url)
    assert "nvr:***@127.0.0.1" in caught.value.message
    assert "Hunter2secret" not in f"{caught.value.message} {caught.value.hint}"


def test_unopenable_sqlite_file_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "nvr.sqlite3").mkdir()  # a directory where the file should be
    with pytest.raises(UserError, match="cannot use database"):
        current(default_sqlite_url(tmp_path))


@pytest.mark.postgres
def test_wrong_password_is_a_user_error_without_either_password(pg_url: str) -> None:
    right = make_url(pg_url).password
    wrong = "Wrong-Hunter2secret"
    url = make_url(pg_url).set(password=wrong).render_as_string(hide_password=False)
    with pytest.raises(UserError, match="password authentication failed") as caught:
        current(url)
    shown = f"{caught.value.message} {caught.value.hint}"
    assert right
    assert right not in shown
    assert wrong not in shown
    assert "\n" not in shown
