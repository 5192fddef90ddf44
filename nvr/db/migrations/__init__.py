"""Alembic scripts for the Porchlight database (run them through ``nvr.db.migrate``)."""
