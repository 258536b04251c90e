"""A throwaway PostgreSQL server: Debian's ``postgresql``, one cluster in a new temporary directory.

For the tests (``tests/postgres_fixtures.py``) and ``bench/scale.py``. ``find_pg_bin`` looks for the
server's programs; ``install_postgres`` installs Debian's package with apt when they are missing (it needs
root, as CI has). ``TemporaryPostgres`` runs ``initdb`` in a new temporary directory and starts the
cluster with ``pg_ctl`` on a free port of 127.0.0.1, and stops it and removes the directory on exit.
PostgreSQL refuses to run as root, so under root the cluster belongs to the ``postgres`` system user
(the package creates it) and its programs run as that user. ``database()`` creates a new, empty
database and gives its URL.
"""

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from types import TracebackType
from typing import Self

import psycopg

from demo.apt import AptFailed, apt_install
from demo.serving import free_port

SUPERUSER = "nightshift"
SERVER_OPTIONS = (
    "-c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off "
    "-c max_connections=400 -c shared_buffers=32MB"
)
"""Durability is not what the tests and benchmarks measure; several workers each keep a pool of
connections (DBOS alone keeps up to 20 per worker)."""


class PostgresUnavailable(Exception):
    """PostgreSQL is not installed and could not be installed, or its cluster would not start."""


def find_pg_bin() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``: on the PATH, or Debian's versioned directory."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    return versions[-1].parent if versions else None


def install_postgres() -> Path:
    """The programs' directory, installing Debian's ``postgresql`` first when they are missing
    (``AptUnavailable`` when there is no apt-get to install it with)."""
    try:
        return apt_install("postgresql", find_pg_bin)
    except AptFailed as exc:
        raise PostgresUnavailable(str(exc)) from None


class TemporaryPostgres:
    """``with TemporaryPostgres(bin_dir) as pg: pg.database()`` (see the module docstring)."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="nightshift-pg-"))
        self.user: str | None = None
        """The system user the cluster runs as (None: the current one)."""

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def database(self) -> str:
        """A new, empty database; its URL."""
        name = f"nightshift_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def start(self) -> Self:
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                self._remove()
                raise PostgresUnavailable("running as root, with no 'postgres' user to run it as") from None
            self.user = owner.pw_name
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        data = str(self.root / "data")
        init = self._run(
            str(self.bin_dir / "initdb"), "-D", data, "-U", SUPERUSER,
            "--auth=trust", "--no-sync", "--encoding=UTF8", "--locale=C",
        )  # fmt: skip
        if init.returncode != 0:
            self._remove()
            raise PostgresUnavailable(f"initdb failed ({init.returncode}): {init.stderr.strip()[-2000:]}")
        log = self.root / "server.log"
        options = f"-p {self.port} -k {self.root} {SERVER_OPTIONS}"
        started = self._ctl("-o", options, "-l", str(log), "-w", "-t", "60", "start")
        if started.returncode != 0:
            text = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            self._remove()
            raise PostgresUnavailable(f"PostgreSQL did not start: {started.stderr.strip()}\n{text}")
        return self

    def stop(self) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._ctl("-m", "immediate", "-w", "stop")
        self._remove()

    def _ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.root / "data"), *args)

    def _run(self, *command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command, user=self.user, capture_output=True, text=True, timeout=120, check=False
        )

    def _remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
