"""A real PostgreSQL server for the tests: Debian's ``postgresql``, a throwaway cluster in a temp directory.

The ``postgres`` fixture (session; add ``pytest_plugins = ["tests.postgres_fixtures"]``) finds the
server's programs, installs Debian's package with apt when they are missing (skipping only when apt
itself is unavailable), runs ``initdb`` in a new temporary directory and starts the cluster with
``pg_ctl`` on a free port of 127.0.0.1. PostgreSQL refuses to run as root, so under root the cluster
belongs to the ``postgres`` system user (the package creates it) and its programs run as that user.
At the end of the session the server is stopped and the directory removed.

``postgres_url`` (per test) is a fresh, empty database on that server: the tests never share state.

PYTEST_DONT_REWRITE
"""

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from demo.serving import free_port

APT_INSTALL = "apt-get update -qq && apt-get install -y -qq -o DPkg::Lock::Timeout=120 postgresql"
APT_TIMEOUT_S = 600
PG_TEST_TIMEOUT_S = APT_TIMEOUT_S + 180
"""For ``pytest.mark.timeout`` on the first PostgreSQL test of a module: apt may install the server."""
SUPERUSER = "nightshift"
SERVER_OPTIONS = (
    "-c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off "
    "-c max_connections=400 -c shared_buffers=32MB"
)
"""Durability is not what these tests measure; several workers each keep a pool of connections."""


def find_pg_bin() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``: on the PATH, or Debian's versioned directory."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    return versions[-1].parent if versions else None


def install_postgres() -> Path:
    found = find_pg_bin()
    if found:
        return found
    if shutil.which("apt-get") is None:
        pytest.skip("PostgreSQL is not installed and apt-get is not available to install it")
    try:
        done = subprocess.run(
            ["sh", "-c", APT_INSTALL], capture_output=True, text=True, timeout=APT_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"installing PostgreSQL ({APT_INSTALL}) took more than {APT_TIMEOUT_S}s", pytrace=False)
    found = find_pg_bin()
    if done.returncode != 0 or found is None:
        output = (done.stderr or done.stdout).strip()[-2000:]
        pytest.fail(
            f"PostgreSQL is missing and `{APT_INSTALL}` failed (exit {done.returncode}; it needs root):"
            f"\n{output}",
            pytrace=False,
        )
    return found


@dataclass
class PostgresServer:
    """A running throwaway cluster; ``database()`` creates a new empty database and gives its URL."""

    port: int
    root: Path
    bin_dir: Path
    user: str | None
    """The system user the cluster runs as (None: the current one)."""

    def admin_url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def database(self) -> str:
        name = f"test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.admin_url(name)

    def ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return _run_as(self.user, [str(self.bin_dir / "pg_ctl"), "-D", str(self.root / "data"), *args])


def _run_as(user: str | None, command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, user=user, capture_output=True, text=True, timeout=120, check=False)


def start_postgres(bin_dir: Path) -> PostgresServer:
    """initdb and start a cluster in a new temporary directory (see the module docstring)."""
    user = None
    root = Path(tempfile.mkdtemp(prefix="nightshift-pg-"))
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("running as root, and no 'postgres' user to run PostgreSQL as", pytrace=False)
        user = owner.pw_name
        os.chown(root, owner.pw_uid, owner.pw_gid)
    server = PostgresServer(free_port(), root, bin_dir, user)
    init = _run_as(
        user,
        [
            str(bin_dir / "initdb"),
            "-D", str(root / "data"),
            "-U", SUPERUSER,
            "--auth=trust", "--no-sync", "--encoding=UTF8", "--locale=C",
        ],
    )  # fmt: skip
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"initdb failed ({init.returncode}): {init.stderr.strip()[-2000:]}", pytrace=False)
    options = f"-p {server.port} -k {root} {SERVER_OPTIONS}"
    started = server.ctl("-o", options, "-l", str(root / "server.log"), "-w", "-t", "60", "start")
    if started.returncode != 0:
        log_file = root / "server.log"
        log = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start: {started.stderr.strip()}\n{log}", pytrace=False)
    return server


def stop_postgres(server: PostgresServer) -> None:
    with contextlib.suppress(subprocess.TimeoutExpired):
        server.ctl("-m", "immediate", "-w", "stop")
    shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole session, stopped and removed at its end."""
    server = start_postgres(install_postgres())
    try:
        yield server
    finally:
        stop_postgres(server)


@pytest.fixture
def postgres_url(postgres: PostgresServer) -> str:
    """A new, empty database for this test: ``postgresql://nightshift@127.0.0.1:PORT/test_...``."""
    return postgres.database()
