"""The database: schema (``models``), connections (``engine``), migrations (``migrate``)
and the queries the service runs (``repo``).

SQLite in the data directory by default; any SQLAlchemy URL (PostgreSQL via psycopg 3)
works through the same code. The schema only ever changes through a migration.
"""

from nvr.db.engine import default_sqlite_url, make_engine, session_factory
from nvr.db.migrate import current, downgrade, head, upgrade
from nvr.db.repo import (
    RunRecord,
    ensure_cameras,
    finish_run,
    start_run,
    unclean_previous_runs,
)

__all__ = [
    "RunRecord",
    "current",
    "default_sqlite_url",
    "downgrade",
    "ensure_cameras",
    "finish_run",
    "head",
    "make_engine",
    "session_factory",
    "start_run",
    "unclean_previous_runs",
    "upgrade",
]
