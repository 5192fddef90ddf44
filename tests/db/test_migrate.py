"""Migrations: a linear chain, atomic steps, and a schema equal to the models on both backends.

The central check (house style: upgrade from the first schema and compare with a fresh
create) is ``test_upgrade_from_empty_matches_the_models``.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import threading
import tomllib
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy import inspect, text

from nvr.db import migrate
from nvr.db.engine import make_engine
from nvr.db.models import Base
from nvr.errors import UserError

ROOT = Path(__file__).resolve().parents[2]


def scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(migrate.alembic_config())


def chain() -> list[Script]:
    """Every revision, oldest first."""
    return list(reversed(list(scripts().walk_revisions())))


def schema_diff(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": True}
            )
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_the_chain_is_linear_with_one_head() -> None:
    revisions = chain()
    assert scripts().get_heads() == [migrate.head()]
    assert len(scripts().get_bases()) == 1
    for before, after in zip([None, *revisions], revisions, strict=False):
        expected_parent = before.revision if before is not None else None
        assert after.down_revision == expected_parent, after.revision
        assert len(after.nextrev) <= 1, after.revision
        assert not after.branch_labels
        assert after.dependencies is None


def test_revisions_are_numbered_and_named_in_order() -> None:
    for number, script in enumerate(chain(), start=1):
        assert script.revision == f"{number:04d}"
        assert Path(script.path).name.startswith(f"{number:04d}_")


def test_revisions_do_not_import_the_models() -> None:
    # A migration is frozen history; the models describe only the newest schema.
    for script in chain():
        source = Path(script.path).read_text()
        assert not re.search(r"^\s*(from|import)\s+nvr\b", source, re.MULTILINE), script.path


def test_scripts_are_shipped_in_the_wheel() -> None:
    """Every file the migrations need is packaged: a .py in a package, or package data."""
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["nvr"]
    nvr_root = ROOT / "nvr"
    migrations = nvr_root / "db" / "migrations"
    assert Path(scripts().dir).resolve() == migrations.resolve()
    for path in sorted(migrations.rglob("*")):
        if "__pycache__" in path.parts or path.is_dir():
            continue
        relative = path.relative_to(nvr_root)
        if path.suffix == ".py":
            for directory in path.relative_to(ROOT).parents[:-1]:
                assert (ROOT / directory / "__init__.py").is_file(), f"{directory} not a package"
        else:
            assert any(relative.match(pattern) for pattern in package_data), relative


def test_head_and_current_on_a_missing_file_create_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nowhere' / 'nvr.sqlite3'}"
    assert migrate.head() == chain()[-1].revision
    assert migrate.current(url) is None
    assert not (tmp_path / "nowhere").exists()


def test_upgrade_from_empty_matches_the_models(db_url: str) -> None:
    result = migrate.upgrade(db_url)
    assert (result.before, result.after) == (None, migrate.head())
    assert migrate.current(db_url) == migrate.head()
    assert schema_diff(db_url) == []


def test_upgrade_twice_is_a_no_op(db_url: str) -> None:
    migrate.upgrade(db_url)
    again = migrate.upgrade(db_url)
    assert not again.changed
    assert again.after == migrate.head()


def test_head_constant_is_the_scripts_head() -> None:
    assert scripts().get_current_head() == migrate.HEAD


def test_an_up_to_date_database_does_not_load_alembic(sqlite_url: str) -> None:
    migrate.upgrade(sqlite_url)
    code = (
        "import sys\n"
        "from nvr.db import migrate\n"
        f"result = migrate.upgrade({sqlite_url!r})\n"
        "assert not result.changed, result\n"
        "print('alembic' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_round_trip_head_base_head(db_url: str) -> None:
    migrate.upgrade(db_url)
    down = migrate.downgrade(db_url, "base")
    assert (down.before, down.after) == (migrate.head(), None)
    assert table_names(db_url) <= {"alembic_version"}
    migrate.upgrade(db_url)
    assert schema_diff(db_url) == []


def test_every_revision_steps_up_and_down(db_url: str) -> None:
    revisions = [script.revision for script in chain()]
    for revision in revisions:
        assert migrate.upgrade(db_url, revision).after == revision
    for expected in [*reversed(revisions[:-1]), None]:
        assert migrate.downgrade(db_url, "-1").after == expected
        assert migrate.current(db_url) == expected
    for _ in revisions:
        migrate.upgrade(db_url, "+1")
    assert migrate.current(db_url) == migrate.head()
    assert schema_diff(db_url) == []


def test_a_failing_migration_leaves_no_trace(db_url: str) -> None:
    """All steps of one call share one transaction, DDL included (SQLite too)."""

    def upgrade_then_fail(config: Config) -> None:
        command.upgrade(config, "head")
        raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        migrate._run(db_url, upgrade_then_fail)
    assert migrate.current(db_url) is None
    assert table_names(db_url) <= {"alembic_version"}


def test_concurrent_upgrades_queue_instead_of_colliding(db_url: str) -> None:
    barrier = threading.Barrier(3)
    results: list[migrate.Migration] = []
    errors: list[BaseException] = []

    def worker() -> None:
        barrier.wait()
        try:
            results.append(migrate.upgrade(db_url))
        except BaseException as e:  # reported below, with the other thread's result
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(r.changed for r in results) == [False, False, True]
    assert migrate.current(db_url) == migrate.head()


def test_a_database_from_a_newer_version_is_refused(db_url: str) -> None:
    migrate.upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    finally:
        engine.dispose()
    assert migrate.current(db_url) == "9999"
    assert not migrate.is_known("9999")
    with pytest.raises(UserError, match=r"revision 9999, which this version") as caught:
        migrate.upgrade(db_url)
    assert caught.value.hint is not None
    assert "newer Porchlight" in caught.value.hint


def test_unknown_target_revision_is_a_user_error(sqlite_url: str) -> None:
    migrate.upgrade(sqlite_url)
    with pytest.raises(UserError, match="cannot migrate database"):
        migrate.downgrade(sqlite_url, "nonsense")
    with pytest.raises(UserError, match="cannot migrate database"):
        migrate.upgrade(sqlite_url, "nonsense")
    assert migrate.current(sqlite_url) == migrate.head()


def test_migrating_leaves_the_apps_logging_alone(sqlite_url: str) -> None:
    app_logger = logging.getLogger("nvr.test.app")
    root_handlers = list(logging.getLogger().handlers)
    root_level = logging.getLogger().level
    migrate.upgrade(sqlite_url)
    assert not app_logger.disabled
    assert logging.getLogger().handlers == root_handlers
    assert logging.getLogger().level == root_level
