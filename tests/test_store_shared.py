"""Two workers' stores on one real PostgreSQL database: what they share must come out right for both.

Each ``Store`` + ``EventBus`` pair here stands for one worker process (its own connections, its own
buffer). SQLite cases show the single-worker default keeps the same behaviour.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from documents.facts import Ticket
from store.events import EventBus
from store.records import StoredEvent
from store.runs import QueueFull, Store
from tests.postgres_fixtures import PG_TEST_TIMEOUT_S
from tests.waiting import eventually

pytest_plugins = ["tests.postgres_fixtures"]
pytestmark = pytest.mark.timeout(PG_TEST_TIMEOUT_S)

TICKET = Ticket(title="Refunds show up as charges")


@pytest.fixture
async def workers(postgres_url: str) -> AsyncIterator[tuple[Store, Store]]:
    first, second = Store(postgres_url), Store(postgres_url)
    yield first, second
    first.close()
    second.close()


async def test_events_of_one_run_written_by_two_workers_are_numbered_without_gap_or_duplicate(
    workers: tuple[Store, Store],
) -> None:
    run, _ = await workers[0].create_run(TICKET)
    buses = [EventBus(store) for store in workers]

    async def write(bus: EventBus, who: str) -> None:
        for n in range(30):
            bus.publish(run.run_id, "tick", {"who": who, "n": n})
            await bus.flush()

    await asyncio.gather(write(buses[0], "a"), write(buses[1], "b"))

    stored = await workers[1].events_of(run.run_id)
    assert [event.id for event in stored] == list(range(1, 61))
    for who in ("a", "b"):  # each worker's own events keep their order
        assert [e.data["n"] for e in stored if e.data["who"] == who] == list(range(30))
    for bus in buses:
        await bus.close()


async def test_a_subscriber_on_one_worker_follows_events_written_by_another(
    workers: tuple[Store, Store],
) -> None:
    run, _ = await workers[0].create_run(TICKET)
    here, there = EventBus(workers[0]), EventBus(workers[1])
    await here.start()
    there.publish(run.run_id, "before", {})
    await there.flush()
    seen: list[StoredEvent] = []

    async def follow() -> None:
        async for event in here.subscribe(run.run_id):
            seen.append(event)

    following = asyncio.create_task(follow())
    await eventually(lambda: len(seen) == 1)  # the stored event, replayed
    for n in range(5):  # written elsewhere, in separate flushes, after the subscriber caught up
        there.publish(run.run_id, "live", {"n": n})
        await there.flush()
    here.publish(run.run_id, "local", {})  # and one of its own worker's
    await eventually(lambda: len(seen) == 7)  # every later one, live (NOTIFY)

    assert [event.id for event in seen] == list(range(1, 8))
    assert [event.kind for event in seen] == ["before", *["live"] * 5, "local"]
    following.cancel()
    await asyncio.gather(following, return_exceptions=True)
    await here.close()
    await there.close()


async def test_a_dedupe_key_sent_to_two_workers_at_once_starts_one_run(workers: tuple[Store, Store]) -> None:
    outcomes = await asyncio.gather(
        *(store.create_run(TICKET, dedupe_key="jira:delivery-7") for store in workers for _ in range(3))
    )

    assert len({facts.run_id for facts, _ in outcomes}) == 1
    assert sum(created for _, created in outcomes) == 1


async def test_the_queue_limit_holds_across_workers(workers: tuple[Store, Store]) -> None:
    outcomes = await asyncio.gather(
        *(store.create_run(TICKET, max_queued=4) for store in workers for _ in range(5)),
        return_exceptions=True,
    )

    assert sum(not isinstance(outcome, QueueFull) for outcome in outcomes) == 4
    assert len(await workers[0].list_runs(statuses=["queued"])) == 4


async def test_run_numbers_come_from_the_database(workers: tuple[Store, Store]) -> None:
    unnumbered = Ticket(title="Something broke")
    created = await asyncio.gather(*(store.create_run(unnumbered) for store in workers for _ in range(4)))

    assert sorted(facts.ticket.key for facts, _ in created) == sorted(f"INC-{n}" for n in range(1, 9))


async def test_a_request_accepted_by_one_worker_is_a_replay_for_another(workers: tuple[Store, Store]) -> None:
    now = time.time()
    assert await workers[0].first_sighting("slack:v0=abc", now_s=now, keep_s=300)
    assert not await workers[1].first_sighting("slack:v0=abc", now_s=now + 1, keep_s=300)
    assert await workers[1].first_sighting("slack:v0=abc", now_s=now + 301, keep_s=300)  # expired


async def test_every_worker_gets_the_same_shared_key(workers: tuple[Store, Store]) -> None:
    keys = await asyncio.gather(*(store.shared_key("run-links") for store in workers for _ in range(3)))

    assert len(set(keys)) == 1 and len(keys[0]) == 32


async def test_shipping_one_branch_from_two_workers_records_one_pull_request(
    workers: tuple[Store, Store],
) -> None:
    results = await asyncio.gather(
        *(
            store.record_pull_request("r1", "fix/INC-1-r1", "Fix", "body", "diff", draft=True, labels=[])
            for store in workers
            for _ in range(3)
        )
    )

    assert len({record.number for record, _ in results}) == 1
    assert sum(created for _, created in results) == 1


async def test_events_of_an_older_sqlite_state_are_numbered_per_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nightshift.sqlite'}"
    old = sa.create_engine(url)
    with old.begin() as db:  # the layout before runs had their own numbering: one id for all runs
        db.execute(
            sa.text(
                "CREATE TABLE ns_events (id INTEGER PRIMARY KEY, run_id VARCHAR(32) NOT NULL,"
                " ts FLOAT NOT NULL, kind VARCHAR(40) NOT NULL, agent VARCHAR(16), data TEXT NOT NULL)"
            )
        )
        for event_id, run_id in ((1, "a"), (2, "b"), (3, "a"), (5, "a"), (6, "b")):
            db.execute(
                sa.text("INSERT INTO ns_events VALUES (:id, :run, 0, 'k', NULL, :data)"),
                {"id": event_id, "run": run_id, "data": f'{{"old": {event_id}}}'},
            )
    old.dispose()

    store = Store(url)
    assert [(e.id, e.data["old"]) for e in await store.events_of("a")] == [(1, 1), (2, 3), (3, 5)]
    assert [(e.id, e.data["old"]) for e in await store.events_of("b")] == [(1, 2), (2, 6)]
    bus = EventBus(store)
    bus.publish("a", "new", {})
    await bus.close()
    assert [e.id for e in await store.events_of("a")][-1] == 4
    store.close()
