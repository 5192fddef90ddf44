"""The database fixtures of tests/db (a SQLite file, a real PostgreSQL server) for the
account repository tests."""

from tests.db.conftest import db_url, pg_server, pg_url, sqlite_url

__all__ = ["db_url", "pg_server", "pg_url", "sqlite_url"]
