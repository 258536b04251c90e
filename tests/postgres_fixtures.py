"""A real PostgreSQL server for the tests (``demo/postgres.py``), started once per session, then stopped.

Use with ``pytest_plugins = ["tests.postgres_fixtures"]``. ``postgres`` (session) installs Debian's
``postgresql`` when it is missing (skipping only when apt itself is unavailable) and starts a throwaway
cluster; ``postgres_url`` (per test) is a fresh, empty database on it, so tests never share state.
Mark the module's tests ``pytest.mark.timeout(PG_TEST_TIMEOUT_S)``: the first may wait for apt.

PYTEST_DONT_REWRITE
"""

from collections.abc import Iterator

import pytest

from demo.apt import APT_TIMEOUT_S, AptUnavailable
from demo.postgres import PostgresUnavailable, TemporaryPostgres, install_postgres

PG_TEST_TIMEOUT_S = APT_TIMEOUT_S + 180


@pytest.fixture(scope="session")
def postgres() -> Iterator[TemporaryPostgres]:
    """A PostgreSQL server for the whole session, stopped and removed at its end."""
    try:
        server = TemporaryPostgres(install_postgres()).start()
    except AptUnavailable as exc:
        pytest.skip(str(exc))
    except PostgresUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres: TemporaryPostgres) -> str:
    """A new, empty database for this test: ``postgresql://nightshift@127.0.0.1:PORT/nightshift_...``."""
    return postgres.database()
