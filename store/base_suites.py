"""The kept results of base-commit suites (``ns_base_suites``), shared by every worker of the database.

The rows are written and read as text by ``verify.cache``, which says what they hold and when one is
kept. A second worker that ran the same suite at the same time writes the same result: the first write
stays.
"""

import asyncio
from datetime import UTC, datetime

import sqlalchemy as sa

from store.database import base_suites, insert


class BaseSuites:
    """Async access to ``ns_base_suites``."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    async def get(self, key: str) -> str | None:
        return await asyncio.to_thread(self._get, key)

    def _get(self, key: str) -> str | None:
        with self.engine.connect() as db:
            row = db.execute(sa.select(base_suites.c.result).where(base_suites.c.key == key)).first()
        return row[0] if row else None

    async def put(
        self, key: str, *, repo: str, base: str, environment: str, command: str, result: str
    ) -> None:
        await asyncio.to_thread(self._put, key, repo, base, environment, command, result)

    def _put(self, key: str, repo: str, base: str, environment: str, command: str, result: str) -> None:
        with self.engine.begin() as db:
            row = dict(
                key=key, repo=repo, base=base, environment=environment, command=command,
                created_at=datetime.now(UTC), result=result,
            )  # fmt: skip
            db.execute(insert(db, base_suites).values(**row).on_conflict_do_nothing(index_elements=["key"]))
