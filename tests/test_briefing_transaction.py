"""A run's new status and the delivery it brings are one transaction, on SQLite and on PostgreSQL: the
briefing when the run awaits a decision (``brief_step``), the pull request when it is approving
(``ship_step``), the briefing again when it ends (shipped, cancelled...). A reader on another
connection (another worker, the API) never finds the status while its delivery is not on its way, and
a crash between the two writes leaves neither, so that the replayed step writes both once."""

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
import sqlalchemy as sa

from config import Settings, WorkflowSettings
from deliveries.deliverer import Deliverer
from deliveries.door import DeliveryExecutor
from documents.facts import RunFacts, Ticket
from hooks import HookRunner
from integrations.local import LocalForge, LocalTracker, TerminalNotifier
from store.database import deliveries, engine_url, runs
from store.events import EventBus
from store.outbox import Outbox
from store.runs import Store
from tests.documents_fixtures import verified_run
from tests.postgres_fixtures import PG_TEST_TIMEOUT_S
from workflow.runtime import Runtime
from workflow.steps import brief_step, finish_step, ship_step

pytest_plugins = ["tests.postgres_fixtures"]
pytestmark = pytest.mark.timeout(PG_TEST_TIMEOUT_S)


class Crash(Exception):
    """The worker stops here, between two writes."""


def crash() -> None:
    raise Crash("the worker stopped")


@dataclass
class Seen:
    status: str
    deliveries: dict[str, int]
    """The version of each of the run's deliveries, by kind (a briefing armed again counts up)."""


@dataclass
class Bot:
    store: Store
    runtime: Runtime
    reader: sa.Engine
    """A connection of its own, as another worker or the API has."""
    seen: list[Seen] = field(default_factory=list)

    def look(self, run_id: str) -> Seen:
        with self.reader.connect() as db:
            status = db.execute(sa.select(runs.c.status).where(runs.c.id == run_id)).scalar_one()
            versions = db.execute(
                sa.select(deliveries.c.kind, deliveries.c.version).where(deliveries.c.run_id == run_id)
            ).all()
        return Seen(status, {kind: version for kind, version in versions})


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'runs.sqlite'}"
    return cast(str, request.getfixturevalue("postgres_url"))


@pytest.fixture
async def bot(database_url: str, tmp_path: Path) -> AsyncIterator[Bot]:
    store = Store(database_url)
    bus = EventBus(store)
    deliverer = Deliverer(  # not started: what it records is read, not sent
        outbox=Outbox(store),
        executor=DeliveryExecutor(
            notifier=TerminalNotifier(), forge=LocalForge(store), tracker=LocalTracker(bus.publish)
        ),
        store=store,
        bus=bus,
        hooks=HookRunner([], env={}),
        settings=WorkflowSettings(),
        data_dir=tmp_path,
    )
    # The steps read the run, write its report, record, fire hooks and publish: these parts are real.
    runtime = cast(
        Runtime,
        SimpleNamespace(
            store=store, deliveries=deliverer, bus=bus, data_dir=tmp_path, settings=Settings(),
            hooks=HookRunner([], env={}), budgets={},
        ),
    )  # fmt: skip
    reader = sa.create_engine(engine_url(database_url))
    yield Bot(store, runtime, reader)
    await bus.close()
    reader.dispose()
    store.close()


async def verified(store: Store) -> str:
    facts, _ = await store.create_run(Ticket(key="PAY-42", title="Refunds show up as charges"))

    def verifying(current: RunFacts) -> None:
        run = verified_run()
        current.status, current.decisions = "verifying", []
        current.fix, current.tests, current.verification = run.fix, run.tests, run.verification

    await store.update(facts.run_id, verifying)
    return facts.run_id


async def times_noted(store: Store, run_id: str, text: str) -> int:
    """How many times the run's timeline says ``text``."""
    facts = await store.get(run_id)
    assert facts is not None
    return [entry.text for entry in facts.timeline].count(text)


async def briefed(bot: Bot) -> str:
    """A run awaiting a decision, its briefing recorded."""
    run_id = await verified(bot.store)
    await brief_step(bot.runtime, run_id, 1)
    return run_id


@pytest.fixture
def when_a_delivery_is_recorded(bot: Bot) -> Iterator[list[Any]]:
    """Calls to make at the moment a delivery row is written or armed again (before it is committed)."""
    calls: list[Any] = []

    def at_the_outbox(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO NS_DELIVERIES"):
            for call in calls:
                call()

    sa.event.listen(bot.store.engine, "before_cursor_execute", at_the_outbox)
    yield calls
    sa.event.remove(bot.store.engine, "before_cursor_execute", at_the_outbox)


async def test_another_reader_never_sees_the_status_before_the_briefing(
    bot: Bot, when_a_delivery_is_recorded: list[Any]
) -> None:
    run_id = await verified(bot.store)
    when_a_delivery_is_recorded.append(lambda: bot.seen.append(bot.look(run_id)))

    await brief_step(bot.runtime, run_id, 1)

    assert bot.seen == [Seen("verifying", {})], "while the briefing was being recorded, the old status"
    assert bot.look(run_id) == Seen("awaiting_decision", {"briefing": 1})


async def test_a_crash_between_the_two_writes_leaves_neither_and_the_replay_writes_both_once(
    bot: Bot, when_a_delivery_is_recorded: list[Any]
) -> None:
    run_id = await verified(bot.store)
    when_a_delivery_is_recorded.append(crash)
    with pytest.raises(Crash):
        await brief_step(bot.runtime, run_id, 1)
    assert bot.look(run_id) == Seen("verifying", {})

    when_a_delivery_is_recorded.clear()
    await brief_step(bot.runtime, run_id, 1)  # DBOS replays the step that was running

    assert bot.look(run_id) == Seen("awaiting_decision", {"briefing": 1})
    assert await times_noted(bot.store, run_id, "briefing for revision 1") == 1


async def test_another_reader_never_sees_approving_or_shipped_before_its_delivery(
    bot: Bot, when_a_delivery_is_recorded: list[Any]
) -> None:
    run_id = await briefed(bot)
    when_a_delivery_is_recorded.append(lambda: bot.seen.append(bot.look(run_id)))

    await ship_step(bot.runtime, run_id)

    assert bot.seen == [
        Seen("awaiting_decision", {"briefing": 1}),  # while the pull request was being recorded
        Seen("approving", {"briefing": 1, "pull_request": 1}),  # while the briefing was armed again
    ]
    assert bot.look(run_id) == Seen("shipped", {"briefing": 2, "pull_request": 1})


async def test_a_crash_while_the_pull_request_is_recorded_leaves_the_run_awaiting_its_decision(
    bot: Bot, when_a_delivery_is_recorded: list[Any]
) -> None:
    run_id = await briefed(bot)
    when_a_delivery_is_recorded.append(crash)

    with pytest.raises(Crash):
        await ship_step(bot.runtime, run_id)
    assert bot.look(run_id) == Seen("awaiting_decision", {"briefing": 1})

    when_a_delivery_is_recorded.clear()
    await ship_step(bot.runtime, run_id)  # DBOS replays the step that was running

    assert bot.look(run_id) == Seen("shipped", {"briefing": 2, "pull_request": 1})
    assert await times_noted(bot.store, run_id, "approved; the pull request is being opened") == 1


async def test_a_run_ends_with_its_briefing_armed_in_the_same_transaction(
    bot: Bot, when_a_delivery_is_recorded: list[Any]
) -> None:
    run_id = await briefed(bot)
    when_a_delivery_is_recorded.append(lambda: bot.seen.append(bot.look(run_id)))
    when_a_delivery_is_recorded.append(crash)

    with pytest.raises(Crash):
        await finish_step(bot.runtime, run_id, "cancelled", "cancelled by sam")
    assert bot.seen == [Seen("awaiting_decision", {"briefing": 1})], "while the briefing was armed"
    assert bot.look(run_id) == Seen("awaiting_decision", {"briefing": 1}), "the crash left neither"

    when_a_delivery_is_recorded.clear()
    await finish_step(bot.runtime, run_id, "cancelled", "cancelled by sam")

    assert bot.look(run_id) == Seen("cancelled", {"briefing": 2})
    assert await times_noted(bot.store, run_id, "cancelled: cancelled by sam") == 1
