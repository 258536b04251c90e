"""Which run opened a pull request: the indexed ``ns_runs.pr_number`` (``store.database``), so a review
webhook finds its run in one lookup however many runs the database holds."""

import asyncio

import sqlalchemy as sa

from documents.facts import RunFacts
from store.database import runs
from store.runs import Store


async def run_for_pull(store: Store, number: int) -> RunFacts | None:
    """The run whose pull request is ``number`` (the newest, should two ever share it), or None: only
    pull requests Nightshift opened have one."""
    return await asyncio.to_thread(_run_for_pull, store.engine, number)


def _run_for_pull(engine: sa.Engine, number: int) -> RunFacts | None:
    query = sa.select(runs.c.facts).where(runs.c.pr_number == number).order_by(runs.c.number.desc()).limit(1)
    with engine.connect() as db:
        row = db.execute(query).first()
    return RunFacts.model_validate_json(row.facts) if row else None
