"""Engines and sessions: the one place that turns a database URL into connections.

``make_engine(url)`` works for any SQLAlchemy URL; nothing outside this module and the
migration runner knows which backend is underneath. SQLite (the embedded default) gets,
on every new connection: ``busy_timeout`` (writers wait instead of failing), WAL (readers
never block the writer), ``synchronous=NORMAL`` (safe with WAL: a power cut can lose the
last commits but never corrupts the file) and ``foreign_keys=ON`` (off by default in
SQLite). PostgreSQL URLs without a driver get psycopg 3, the driver we ship.

Errors a user can cause (a malformed URL, a missing driver, a server that refuses us) come
out as ``UserError`` with the password masked, via ``database_errors``.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from sqlalchemy import URL, Engine, create_engine, event, exc, make_url
from sqlalchemy.orm import Session, sessionmaker

from nvr.errors import UserError
from nvr.secrets import MASK, mask_url, scrub

log = logging.getLogger(__name__)

SQLITE_FILENAME = "nvr.sqlite3"
SQLITE_BUSY_TIMEOUT_MS = 5000
_MIN_MASKED_PASSWORD = 4


def default_sqlite_url(data_dir: Path) -> str:
    """The embedded database inside ``data_dir``: ``sqlite:///<data_dir>/nvr.sqlite3``."""
    return f"sqlite:///{data_dir / SQLITE_FILENAME}"


def make_engine(url: str) -> Engine:
    """Create an engine for ``url``; for a SQLite file, create its directory too.

    Raises ``UserError`` for a malformed URL or a backend whose driver is not installed.
    Connecting is lazy: an unreachable server shows up on first use (see
    ``database_errors``). The caller owns the engine and must ``dispose()`` it.
    """
    with database_errors(url):
        parsed = _with_default_driver(make_url(url))
        if parsed.get_backend_name() == "sqlite":
            _make_sqlite_parent(parsed)
            engine = create_engine(parsed)
            event.listen(engine, "connect", _apply_sqlite_pragmas)
            return engine
        return create_engine(parsed, pool_pre_ping=True)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for ``engine``. Objects stay readable after commit (no lazy reload)."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def database_errors(url: str) -> Iterator[None]:
    """Turn the errors a user can cause into one-line ``UserError``s naming the masked URL."""
    shown = mask_url(url)
    try:
        yield
    except exc.NoSuchModuleError as e:
        raise UserError(
            f"unsupported database URL {shown}: {_reason(e, url)}",
            hint="use sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST/DB",
        ) from None
    except exc.ArgumentError as e:
        raise UserError(
            f"invalid database URL {shown}: {_reason(e, url)}",
            hint="use sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST/DB",
        ) from None
    except ImportError as e:
        raise UserError(
            f"no driver for database URL {shown}: {_reason(e, url)}",
            hint="supported: SQLite (built in) and PostgreSQL (postgresql+psycopg://, "
            "install Porchlight's 'postgres' extra)",
        ) from None
    except (exc.OperationalError, exc.InterfaceError) as e:
        raise UserError(
            f"cannot use database {shown}: {_reason(e.orig or e, url)}",
            hint="check that the server is running and the URL, user and password are right",
        ) from None
    except OSError as e:
        raise UserError(f"cannot use database {shown}: {_reason(e, url)}") from None


def _with_default_driver(url: URL) -> URL:
    # SQLAlchemy's default PostgreSQL driver is psycopg2, which we do not ship.
    if url.drivername == "postgresql":
        return url.set(drivername="postgresql+psycopg")
    return url


def _make_sqlite_parent(url: URL) -> None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    Path(database).parent.mkdir(parents=True, exist_ok=True)


def _apply_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        _use_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _use_wal(cursor: sqlite3.Cursor) -> None:
    """Switch the file to WAL (a persistent setting), waiting out other connections.

    The switch takes an exclusive lock and SQLite reports BUSY at once, without calling
    the busy handler, when two connections open a new file together (service start-up and
    ``nvr db`` racing). Retry within the busy timeout; skip the switch once it is done.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            busy = e.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
            if not busy or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _reason(error: BaseException, url: str) -> str:
    """One line of ``error``'s message with every trace of the URL's password removed."""
    lines = (" ".join(line.split()) for line in str(error).splitlines())
    text = scrub("; ".join(line for line in lines if line) or type(error).__name__)
    try:
        password = make_url(url).password
    except exc.ArgumentError:
        password = None
    # Belt and braces: drivers may echo parts of the DSN back. Passwords too short to mask
    # without garbling the message (a 1-3 character one) are not worth hiding anyway.
    if password is not None and len(str(password)) >= _MIN_MASKED_PASSWORD:
        for form in {str(password), quote(str(password), safe="")}:
            text = text.replace(form, MASK)
    return text


LOCKED_RETRY_SECONDS = 60.0
_T = TypeVar("_T")


def is_locked(error: exc.OperationalError) -> bool:
    orig = error.orig
    return isinstance(orig, sqlite3.OperationalError) and orig.sqlite_errorcode & 0xFF in (
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
    )


def retry_locked(
    transaction: Callable[[], _T], what: str, give_up_after: float = LOCKED_RETRY_SECONDS
) -> _T:
    """Run ``transaction`` (one whole ``sessions.begin()`` block) again while another
    process holds the SQLite database's lock past the busy timeout, for up to
    ``give_up_after`` seconds in all, then let the error out. Each wait is logged
    (docs/design/faults.md, "Database locked"). Other errors are raised at once."""
    deadline = time.monotonic() + give_up_after
    delay = 0.5
    while True:
        try:
            return transaction()
        except exc.OperationalError as e:
            if not is_locked(e) or time.monotonic() + delay > deadline:
                raise
            log.warning(
                "database is locked by another process: retrying %s",
                what,
                extra={"retry_in_s": delay},
            )
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
