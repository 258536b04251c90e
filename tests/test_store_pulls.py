"""A review webhook finds the run of its pull request by an index (``store.pulls``), however many runs
came after it, and a database made before the index existed gets it, filled from the runs' facts."""

import asyncio
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from documents.facts import RunFacts, Ticket
from store.database import runs
from store.pulls import run_for_pull
from store.runs import Store


def shipped_with(number: int) -> Callable[[RunFacts], None]:
    def change(facts: RunFacts) -> None:
        facts.status, facts.pr_number, facts.branch = "shipped", number, f"fix/{facts.ticket.key}"

    return change


async def test_the_run_of_a_pull_request_is_found_behind_a_thousand_later_runs(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    try:
        first, _ = await store.create_run(Ticket(title="Completing a todo twice reopens it"))
        await store.update(first.run_id, shipped_with(7))
        later = await asyncio.gather(*(store.create_run(Ticket(title=f"later {n}")) for n in range(1100)))
        with store.engine.begin() as db:  # shipped too, each with a pull request of its own
            db.execute(
                runs.update().where(runs.c.id != first.run_id).values(status="shipped", pr_number=None)
            )
        found = await run_for_pull(store, 7)
        assert found is not None and found.run_id == first.run_id and len(later) == 1100
        assert await run_for_pull(store, 8) is None
    finally:
        store.close()


async def test_a_database_made_before_the_index_gets_it_filled_from_the_facts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runs.sqlite'}"
    store = Store(url)
    facts, _ = await store.create_run(Ticket(title="Completing a todo twice reopens it"))
    await store.update(facts.run_id, shipped_with(12))
    with store.engine.begin() as db:  # the layout of before: no pr_number column, no index
        db.execute(sa.text("DROP INDEX ix_ns_runs_pr_number"))
        db.execute(sa.text("ALTER TABLE ns_runs DROP COLUMN pr_number"))
    store.close()

    reopened = Store(url)
    try:
        columns = {c["name"] for c in sa.inspect(reopened.engine).get_columns("ns_runs")}
        indexes = {i["name"] for i in sa.inspect(reopened.engine).get_indexes("ns_runs")}
        assert "pr_number" in columns and "ix_ns_runs_pr_number" in indexes
        found = await run_for_pull(reopened, 12)
        assert found is not None and found.run_id == facts.run_id
    finally:
        reopened.close()
