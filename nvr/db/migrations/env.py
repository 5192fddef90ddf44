"""Alembic's entry point, run by ``nvr.db.migrate`` on a connection it has opened.

There is no URL and no logging setup here on purpose: the caller owns the connection,
its transaction and locking, and the application owns logging. SQLite gets batch mode
(tables are rebuilt for ALTERs it cannot do in place); constraint names come from the
metadata's naming convention, so they match on every backend.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from nvr.db.models import Base


def _run() -> None:
    if context.is_offline_mode():
        raise RuntimeError("offline (--sql) migrations are not supported; use nvr db upgrade")
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("run migrations through nvr.db.migrate, which passes a connection")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


_run()
