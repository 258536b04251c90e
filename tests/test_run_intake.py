"""Recording runs in bursts: group commit (store/batching.py) on the real SQLite store, and the
deferred workflow starts (workflow/starter.py) that keep a burst of acknowledgements fast."""

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from documents.facts import UNNUMBERED_KEY, Ticket
from store.batching import GroupCommit, Outcome
from store.runs import QueueFull, Store, database_url
from tests.waiting import eventually
from workflow.starter import WorkflowStarter

TICKET = Ticket(key=UNNUMBERED_KEY, title="Checkout times out")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(database_url(tmp_path, None))
    yield opened
    opened.close()


# -- GroupCommit ---------------------------------------------------------------------------------------


class Doubler:
    """A write that records its batches; negative numbers are refused one by one, 13 fails a batch."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    async def write(self, batch: list[int]) -> list[Outcome[int]]:
        self.batches.append(batch)
        await asyncio.sleep(0.01)  # a transaction takes a while: requests pile up meanwhile
        if 13 in batch:
            raise RuntimeError("the transaction failed")
        return [ValueError(f"{n} is negative") if n < 0 else n * 2 for n in batch]


async def test_requests_that_arrive_together_share_one_write() -> None:
    doubler = Doubler()
    commit = GroupCommit(doubler.write)
    numbers = range(100, 150)
    assert await asyncio.gather(*(commit.submit(n) for n in numbers)) == [n * 2 for n in numbers]
    assert sorted(n for batch in doubler.batches for n in batch) == list(numbers)
    assert len(doubler.batches) <= 2


async def test_requests_during_a_write_go_in_the_next_one() -> None:
    doubler = Doubler()
    commit = GroupCommit(doubler.write)
    first = asyncio.create_task(commit.submit(1))
    await asyncio.sleep(0.005)  # the first write is in progress
    later = [asyncio.create_task(commit.submit(n)) for n in (2, 3, 4)]
    assert await asyncio.gather(first, *later) == [2, 4, 6, 8]
    assert doubler.batches == [[1], [2, 3, 4]]


async def test_a_refused_request_fails_alone_and_a_failed_write_fails_its_batch_only() -> None:
    doubler = Doubler()
    commit = GroupCommit(doubler.write)
    outcomes = await asyncio.gather(
        commit.submit(1), commit.submit(-1), commit.submit(2), return_exceptions=True
    )
    assert outcomes[0] == 2 and outcomes[2] == 4
    assert isinstance(outcomes[1], ValueError) and str(outcomes[1]) == "-1 is negative"

    failed = await asyncio.gather(commit.submit(5), commit.submit(13), return_exceptions=True)
    assert all(isinstance(outcome, RuntimeError) for outcome in failed)
    assert await commit.submit(6) == 12  # the next batch is written as usual


async def test_a_caller_that_stops_waiting_does_not_disturb_the_others() -> None:
    doubler = Doubler()
    commit = GroupCommit(doubler.write)
    impatient = asyncio.create_task(commit.submit(1))
    patient = asyncio.create_task(commit.submit(2))
    await asyncio.sleep(0)
    impatient.cancel()
    assert await patient == 4
    assert doubler.batches == [[1, 2]]  # the write stands: it was one transaction


# -- the store under a burst -------------------------------------------------------------------------


async def test_a_burst_of_new_runs_gets_distinct_ids_and_incident_numbers(store: Store) -> None:
    created = await asyncio.gather(*(store.create_run(TICKET) for _ in range(40)))
    assert all(new for _, new in created)
    assert len({facts.run_id for facts, _ in created}) == 40
    assert sorted(facts.ticket.key for facts, _ in created) == sorted(f"INC-{n}" for n in range(1, 41))
    stored = await store.list_runs(limit=100)
    assert {facts.run_id for facts in stored} == {facts.run_id for facts, _ in created}


async def test_the_queue_limit_holds_within_a_burst(store: Store) -> None:
    outcomes = await asyncio.gather(
        *(store.create_run(TICKET, max_queued=10) for _ in range(30)), return_exceptions=True
    )
    refused = [outcome for outcome in outcomes if isinstance(outcome, QueueFull)]
    assert len(refused) == 20 and {full.queued for full in refused} == {10}
    assert len(await store.list_runs(limit=100, statuses=["queued"])) == 10


async def test_one_dedupe_key_in_a_burst_makes_one_run(store: Store) -> None:
    created = await asyncio.gather(*(store.create_run(TICKET, dedupe_key="slack:retry-1") for _ in range(5)))
    assert [new for _, new in created].count(True) == 1
    assert len({facts.run_id for facts, _ in created}) == 1
    assert len(await store.list_runs()) == 1


async def test_a_dedupe_key_seen_before_returns_the_stored_run_in_a_later_burst(store: Store) -> None:
    first, created = await store.create_run(TICKET, dedupe_key="jira:PAY-1")
    assert created
    later = await asyncio.gather(
        store.create_run(TICKET, dedupe_key="jira:PAY-1"), store.create_run(TICKET, dedupe_key="jira:PAY-2")
    )
    assert later[0] == (first, False)
    assert later[1][1] and later[1][0].run_id != first.run_id
    assert len(await store.list_runs()) == 2


# -- WorkflowStarter -------------------------------------------------------------------------------------


class Starts:
    def __init__(self, failing: str | None = None, duration_s: float = 0.0) -> None:
        self.started: list[tuple[str, float]] = []
        self.failing, self.duration_s = failing, duration_s

    async def __call__(self, run_id: str) -> None:
        await asyncio.sleep(self.duration_s)
        if run_id == self.failing:
            raise RuntimeError("DBOS is down")
        self.started.append((run_id, asyncio.get_running_loop().time()))

    @property
    def ids(self) -> list[str]:
        return [run_id for run_id, _ in self.started]


async def test_starts_wait_for_the_burst_to_end_then_go_in_order() -> None:
    starts = Starts()
    starter = WorkflowStarter(starts, quiet_s=0.1, max_defer_s=5)
    for n in range(5):
        starter.add(f"run-{n}")
        await asyncio.sleep(0.02)  # a burst: each addition well within the quiet time of the last
        assert starts.started == []
    burst_ended = asyncio.get_running_loop().time()
    await eventually(lambda: len(starts.started) == 5)
    assert starts.ids == [f"run-{n}" for n in range(5)]
    assert starts.started[0][1] >= burst_ended + 0.05


async def test_a_steady_stream_still_starts_each_run_within_the_deferral_limit() -> None:
    starts = Starts()
    starter = WorkflowStarter(starts, quiet_s=0.1, max_defer_s=0.3)
    loop = asyncio.get_running_loop()
    first_added = loop.time()
    for n in range(60):  # 1.2 s of additions, never quiet for 0.1 s
        starter.add(f"run-{n}")
        await asyncio.sleep(0.02)
    assert starts.started, "no run started during the stream"
    assert starts.started[0][1] - first_added < 0.3 + 0.2
    await eventually(lambda: len(starts.started) == 60)


async def test_a_start_that_fails_is_logged_and_the_next_one_starts(caplog: pytest.LogCaptureFixture) -> None:
    starts = Starts(failing="run-1")
    starter = WorkflowStarter(starts, quiet_s=0.01)
    with caplog.at_level(logging.ERROR, logger="nightshift.engine"):
        for run_id in ("run-1", "run-2"):
            starter.add(run_id)
        await eventually(lambda: starts.ids == ["run-2"])
    assert "run run-1: its workflow did not start; it starts with the next engine" in caplog.text


async def test_close_finishes_the_start_in_progress_and_leaves_the_rest_to_the_next_engine() -> None:
    starts = Starts(duration_s=0.2)
    starter = WorkflowStarter(starts, quiet_s=0.01)
    for run_id in ("run-1", "run-2", "run-3"):
        starter.add(run_id)
    await asyncio.sleep(0.1)  # run-1's start is in progress
    await starter.close()
    starter.add("run-4")
    await asyncio.sleep(0.3)
    assert starts.ids == ["run-1"]
