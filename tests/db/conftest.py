"""Database fixtures: a SQLite file per test, and a real PostgreSQL server per session.

``pg_server`` runs Debian's PostgreSQL binaries (``initdb``, ``pg_ctl``) in a temporary
directory, listening on 127.0.0.1 at a free port and on a unix socket beside its data.
PostgreSQL refuses to run as root, so under root (CI) the server runs as the ``postgres``
system user the Debian package creates. The application connects as a password-
authenticated role, so URLs carry a password (the masking tests need one). Each test gets
its own fresh database (``pg_url``). Without the binaries the PostgreSQL tests skip and say
why (in CI, `CI=true`, they fail instead); with them, a server that fails to start is an
error, not a skip.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql

from nvr.db import default_sqlite_url
from tests.support.procs import require

PG_USER = "nvr"
# Characters that need escaping in a URL, so quoting bugs show up here first.
PG_PASSWORD = f"Pw-{secrets.token_hex(6)}@:/%"


@dataclass(frozen=True)
class PgServer:
    bindir: Path
    socket_dir: Path
    port: int
    _names = count(1)

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        """The superuser over the unix socket (trust auth: local to the test run only)."""
        return psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user="postgres",
            dbname="postgres",
            autocommit=True,
        )

    def url(self, database: str) -> str:
        return (
            f"postgresql+psycopg://{PG_USER}:{quote(PG_PASSWORD, safe='')}"
            f"@127.0.0.1:{self.port}/{database}"
        )

    def create_database(self) -> str:
        name = f"nvr_test_{next(self._names)}"
        with self.admin() as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE template0").format(
                    sql.Identifier(name), sql.Identifier(PG_USER)
                )
            )
        return name

    def drop_database(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def find_pg_bindir() -> Path | None:
    """Where ``initdb`` and ``pg_ctl`` live: ``pg_config --bindir``, else Debian's layout."""
    candidates: list[Path] = []
    if shutil.which("pg_config"):
        out = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=False, timeout=30
        )
        if out.returncode == 0:
            candidates.append(Path(out.stdout.strip()))
    debian = Path("/usr/lib/postgresql")
    if debian.is_dir():
        versions = [p for p in debian.glob("*/bin") if p.parent.name.isdigit()]
        candidates += sorted(versions, key=lambda p: int(p.parent.name), reverse=True)
    for bindir in candidates:
        if all((bindir / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return bindir
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    bindir = find_pg_bindir()
    require(
        None
        if bindir is not None
        else (
            "PostgreSQL server binaries not found (initdb/pg_ctl via `pg_config --bindir` or "
            "/usr/lib/postgresql/*/bin): install Debian's `postgresql` package"
        )
    )
    assert bindir is not None
    as_user: list[str] = []
    run_as: pwd.struct_passwd | None = None
    if os.geteuid() == 0:
        try:
            run_as = pwd.getpwnam("postgres")
        except KeyError:
            run_as = None
        runuser = shutil.which("runuser")
        require(
            None
            if run_as is not None
            else "running as root and there is no `postgres` user to run PostgreSQL as"
        )
        require(
            None
            if runuser is not None
            else "running as root and `runuser` is missing: cannot drop to `postgres`"
        )
        assert runuser is not None
        as_user = [runuser, "-u", "postgres", "--"]

    base = Path(tempfile.mkdtemp(prefix="nvr-pg-"))
    data, sockets, log = base / "data", base / "sock", base / "server.log"
    sockets.mkdir()
    if run_as is not None:
        for path in (base, sockets):
            os.chown(path, run_as.pw_uid, run_as.pw_gid)

    def run(*args: str) -> None:
        done = subprocess.run(
            [*as_user, *args], cwd=base, capture_output=True, text=True, check=False, timeout=120
        )
        if done.returncode != 0:
            server_log = log.read_text() if log.exists() else ""
            raise RuntimeError(
                f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
                f"\n{server_log}"
            )

    started = False
    try:
        run(
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--no-sync",
            "--no-instructions",
        )
        port = _free_port()
        # Durability off: a test server dies with its data anyway; this keeps it fast.
        server_options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={sockets}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        run(
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(log),
            "-o",
            server_options,
            "-w",
            "-t",
            "60",
            "start",
        )
        started = True
        server = PgServer(bindir=bindir, socket_dir=sockets, port=port)
        with server.admin() as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(PG_USER), sql.Literal(PG_PASSWORD)
                )
            )
        yield server
    finally:
        if started:
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """A fresh, empty PostgreSQL database owned by the password-authenticated role."""
    name = pg_server.create_database()
    try:
        yield pg_server.url(name)
    finally:
        pg_server.drop_database(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return default_sqlite_url(tmp_path / "data")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """The same test on both backends: a fresh SQLite file, a fresh PostgreSQL database."""
    fixture = "sqlite_url" if request.param == "sqlite" else "pg_url"
    url: str = request.getfixturevalue(fixture)
    return url
