"""Schema migrations: Alembic, configured in code, scripts shipped inside the package.

``upgrade(url)`` runs at every service start and from ``nvr db upgrade``; it is a no-op on
a database already at head. Each call runs all its steps in ONE transaction, so a power
cut or a failing step leaves the database at the revision it started from:

- SQLite: ``BEGIN IMMEDIATE`` (SQLite's DDL is transactional once a transaction is open;
  the driver's legacy mode would otherwise autocommit each CREATE/ALTER). IMMEDIATE also
  takes the write lock up front, so two upgraders queue instead of racing. Foreign keys
  are switched off for the run, because batch mode rebuilds tables (copy, drop, rename)
  and enforcement mid-rebuild would cascade or fail; ``PRAGMA foreign_key_check`` must then
  come back empty before the commit.
- PostgreSQL: transactional DDL plus a transaction-scoped advisory lock for the queueing.

There is no ``alembic.ini``: ``alembic_config()`` builds the configuration, points
``script_location`` at the ``nvr.db:migrations`` package resource (works from a wheel as
well as a checkout) and hands ``env.py`` the open connection. Alembic never configures
logging here; its INFO lines go wherever the application's logging sends them.

Alembic costs ~11 MB of resident memory for as long as a process lives, and the service
only needs it when a migration is due. So ``current`` reads the ``alembic_version`` table
with plain SQL, ``HEAD`` names the newest revision (a test keeps it equal to the scripts'
head), and ``upgrade`` to head on a database already there returns without importing it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect, make_url, text

from nvr.db.engine import database_errors, make_engine
from nvr.errors import UserError
from nvr.secrets import mask_url

if TYPE_CHECKING:
    from alembic.config import Config

SCRIPT_LOCATION = "nvr.db:migrations"
HEAD = "0009"  # the newest script's revision; tests/db/test_migrate.py checks it
VERSION_TABLE = "alembic_version"

# Any constant works; it only has to be the same in every Porchlight process.
_PG_MIGRATION_LOCK = 0x6E7672_6462  # "nvr" "db"

_Step = Callable[["Config"], None]


@dataclass(frozen=True)
class Migration:
    """What an ``upgrade``/``downgrade`` call did: the revision before and after."""

    before: str | None
    after: str | None

    @property
    def changed(self) -> bool:
        return self.before != self.after


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for our scripts; ``env.py`` runs on ``connection``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision this code knows, from the scripts themselves."""
    from alembic.script import ScriptDirectory

    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if revision is None:  # pragma: no cover - the package always ships 0001
        raise RuntimeError("no migration scripts found")
    return revision


def is_known(revision: str) -> bool:
    """Whether ``revision`` is one of this code's migrations (else a newer one wrote it)."""
    from alembic.script import ScriptDirectory
    from alembic.script.revision import RevisionError
    from alembic.util import CommandError

    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except (CommandError, RevisionError):
        return False


def current(url: str) -> str | None:
    """The database's revision, or ``None`` for an empty (or not yet created) database."""
    if _is_missing_sqlite_file(url):
        return None  # do not create an empty file just to look at it
    engine = make_engine(url)
    try:
        with database_errors(url), engine.connect() as connection:
            return _revision(connection)
    finally:
        engine.dispose()


def _revision(connection: Connection) -> str | None:
    """What Alembic's version table says (one row, or none before the first migration)."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(rows) > 1:
        raise UserError(f"database has {len(rows)} schema revisions: {', '.join(rows)}")
    return str(rows[0]) if rows else None


def upgrade(url: str, revision: str = "head") -> Migration:
    """Migrate the database at ``url`` up to ``revision`` (default: head)."""
    if revision == "head":
        before = current(url)
        if before == HEAD:
            return Migration(before=before, after=before)
    from alembic import command

    return _run(url, lambda config: command.upgrade(config, revision))


def downgrade(url: str, revision: str) -> Migration:
    """Migrate the database at ``url`` down to ``revision`` (``base`` empties it)."""
    from alembic import command

    return _run(url, lambda config: command.downgrade(config, revision))


def _run(url: str, step: _Step) -> Migration:
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with database_errors(url), _alembic_errors(url), engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                # Must happen outside a transaction: inside one SQLite ignores the pragma.
                _outside_transaction(connection, "PRAGMA foreign_keys=OFF")
            try:
                with connection.begin():
                    _lock(connection)
                    migration_context = MigrationContext.configure(connection)
                    before = migration_context.get_current_revision()
                    _check_known(before, url)
                    step(alembic_config(connection))
                    after = migration_context.get_current_revision()
                    if sqlite:
                        _check_foreign_keys(connection)
            finally:
                if sqlite:
                    _outside_transaction(connection, "PRAGMA foreign_keys=ON")
        return Migration(before=before, after=after)
    finally:
        engine.dispose()


def _outside_transaction(connection: Connection, sql: str) -> None:
    # Straight to the driver: SQLAlchemy would open a transaction around the statement.
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute(sql)


def _lock(connection: Connection) -> None:
    """Serialize migrators: a second ``upgrade`` waits, then finds nothing left to do."""
    dialect = connection.dialect.name
    if dialect == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    elif dialect == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})


def _check_known(revision: str | None, url: str) -> None:
    if revision is not None and not is_known(revision):
        raise UserError(
            f"database {mask_url(url)} is at revision {revision}, which this version of "
            f"Porchlight does not know (newest known: {head()})",
            hint="it was migrated by a newer Porchlight: run that version, or restore a backup",
        )


def _check_foreign_keys(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        # A migration bug, not a user error: keep the traceback, roll everything back.
        raise RuntimeError(f"migration left rows with broken foreign keys: {broken[:5]}")


@contextmanager
def _alembic_errors(url: str) -> Iterator[None]:
    from alembic.script.revision import RevisionError
    from alembic.util import CommandError

    try:
        yield
    except (CommandError, RevisionError) as e:
        raise UserError(
            f"cannot migrate database {mask_url(url)}: {' '.join(str(e).split())}",
            hint=f"revisions are 'base', 'head', ids such as '{head()}', or relative steps "
            "('-1', '+1'); see 'nvr db current'",
        ) from None


def _is_missing_sqlite_file(url: str) -> bool:
    with database_errors(url):
        parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return False
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return False
    return not Path(database).exists()
