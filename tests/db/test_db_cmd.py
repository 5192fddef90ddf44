"""``nvr db`` transcripts: what an installer types and sees (mirrors nvr/cli/db_cmd.py)."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path
from urllib.parse import quote

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import make_url

from nvr.cli import main
from nvr.db import default_sqlite_url, migrate

Capsys = pytest.CaptureFixture[str]


def run(capsys: Capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_upgrade_current_downgrade_in_a_data_dir(tmp_path: Path, capsys: Capsys) -> None:
    data = tmp_path / "data"
    where = default_sqlite_url(data)
    head = migrate.head()
    # What "downgrade -1" from head reaches: the revision before head, or base.
    below = ScriptDirectory.from_config(migrate.alembic_config()).get_revision(head)
    previous = below.down_revision if below is not None else None
    assert previous is None or isinstance(previous, str)
    before_head = previous or "base (empty)"

    assert run(capsys, "db", "current", "--data-dir", str(data)) == (
        0,
        f"{where}: empty (no schema); newest is {head}, run 'nvr db upgrade'\n",
        "",
    )
    assert run(capsys, "db", "upgrade", "--data-dir", str(data)) == (
        0,
        f"{where}: base (empty) -> {head}\n",
        "",
    )
    assert run(capsys, "db", "upgrade", "--data-dir", str(data)) == (
        0,
        f"{where}: already at {head}\n",
        "",
    )
    assert run(capsys, "db", "current", "--data-dir", str(data)) == (
        0,
        f"{where}: {head} (head)\n",
        "",
    )
    assert run(capsys, "db", "downgrade", "-1", "--data-dir", str(data)) == (
        0,
        f"{where}: {head} -> {before_head}\n",
        "",
    )
    assert run(capsys, "db", "upgrade", "--revision", head, "--url", where) == (
        0,
        f"{where}: {before_head} -> {head}\n",
        "",
    )


def test_a_bad_revision_is_one_line_and_a_hint(tmp_path: Path, capsys: Capsys) -> None:
    url = default_sqlite_url(tmp_path)
    run(capsys, "db", "upgrade", "--url", url)
    code, out, err = run(capsys, "db", "downgrade", "nonsense", "--url", url)
    assert (code, out) == (1, "")
    first, hint = err.splitlines()
    assert first.startswith(f"nvr: error: cannot migrate database {url}: ")
    assert hint.startswith("nvr: hint: revisions are 'base', 'head'")


def test_current_names_a_revision_from_a_newer_version(tmp_path: Path, capsys: Capsys) -> None:
    url = default_sqlite_url(tmp_path)
    migrate.upgrade(url)
    connection = sqlite3.connect(str(make_url(url).database))
    with connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999'")
    connection.close()
    code, out, _ = run(capsys, "db", "current", "--url", url)
    assert code == 0
    assert "9999, unknown to this version" in out
    code, _, err = run(capsys, "db", "upgrade", "--url", url)
    assert code == 1
    assert "is at revision 9999" in err


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.mark.parametrize("command", [["current"], ["upgrade"], ["downgrade", "base"]])
def test_unreachable_database_is_one_line_without_the_password(
    command: list[str], capsys: Capsys
) -> None:
    url = f"postgresql+psycopg://nvr:Hunter2secret@127.0.0.1:{closed_port()}/nvr"
    code, out, err = run(capsys, "db", *command, "--url", url)
    assert (code, out) == (1, "")
    lines = err.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("nvr: error: cannot use database postgresql+psycopg://nvr:***@")
    assert lines[1].startswith("nvr: hint: ")
    assert "Hunter2secret" not in err
    assert "Traceback" not in err


@pytest.mark.parametrize("url", ["not a url", "nosuchdb://nvr:Hunter2secret@host/db"])
def test_malformed_url_is_one_line_without_the_password(url: str, capsys: Capsys) -> None:
    code, out, err = run(capsys, "db", "upgrade", "--url", url)
    assert (code, out) == (1, "")
    assert err.startswith("nvr: error: ")
    assert len(err.splitlines()) == 2
    assert "Hunter2secret" not in err


def test_config_file_chooses_the_database(tmp_path: Path, capsys: Capsys) -> None:
    data = tmp_path / "from-config"
    config = tmp_path / "nvr.yaml"
    config.write_text(f"storage:\n  data_dir: {data}\n")
    code, out, _ = run(capsys, "db", "upgrade", "--config", str(config))
    assert code == 0
    assert out.startswith(default_sqlite_url(data))
    assert (data / "nvr.sqlite3").is_file()

    # --data-dir overrides storage.data_dir, as for every command.
    other = tmp_path / "override"
    code, out, _ = run(capsys, "db", "current", "--config", str(config), "--data-dir", str(other))
    assert code == 0
    assert out.startswith(f"{default_sqlite_url(other)}: empty")


@pytest.mark.postgres
def test_postgres_transcript_never_shows_the_password(
    pg_url: str, tmp_path: Path, capsys: Capsys
) -> None:
    password = make_url(pg_url).password
    assert password
    quoted = quote(password, safe="")
    assert quoted in pg_url
    secret_forms = {password, quoted}
    shown = pg_url.replace(quoted, "***")
    transcript = ""
    for argv in (["upgrade"], ["current"], ["downgrade", "base"], ["current"]):
        code, out, err = run(capsys, "db", *argv, "--url", pg_url)
        assert code == 0, err
        assert out.startswith(f"{shown}: ")
        transcript += out + err
    for form in secret_forms:
        assert form not in transcript

    # The same database named by a config file, with the password in the YAML.
    config = tmp_path / "nvr.yaml"
    config.write_text(f"database:\n  url: '{pg_url}'\n")
    code, out, err = run(capsys, "db", "upgrade", "--config", str(config))
    assert code == 0, err
    assert out == f"{shown}: base (empty) -> {migrate.head()}\n"
    assert not any(form in out + err for form in secret_forms)
