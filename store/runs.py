"""Run state in the database: runs (their facts as JSON), events, agents' diffs, local pull requests,
and the delivery outbox (its rows are read and written by ``store.outbox``; the tables are in
``store.database``, the records read from them in ``store.records``).

SQLAlchemy Core, so the same code runs on SQLite (the default, in the state directory) and PostgreSQL
(``NIGHTSHIFT_DATABASE_URL``, shared by several workers; see ``store.database``). Methods are async;
the blocking database work runs in a thread so the event loop stays responsive. Facts of a run are
changed only through ``update``, which reads, applies and writes in one transaction under a per-run lock
(and ``SELECT ... FOR UPDATE`` on PostgreSQL, where another worker may change the same run). Run
numbers, event numbers, dedupe keys and the queue limit come from the database, never from one
process's memory.
"""

import asyncio
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from documents.facts import UNNUMBERED_KEY, RunFacts, RunStatus, Ticket
from store import counters
from store.batching import GroupCommit, Outcome
from store.database import (
    EVENTS_CHANNEL,
    advisory_xact_lock,
    agent_diffs,
    create_engine,
    events,
    insert,
    is_postgres,
    keys,
    notify,
    pull_requests,
    runs,
)
from store.records import NewEvent, PullRequestRecord, StoredEvent
from store.seen import Sighting, record_sightings

ACTIVE_STATUSES: tuple[RunStatus, ...] = (
    "queued",
    "running",
    "verifying",
    "awaiting_decision",
    "revising",
    "approving",
)
FINAL_STATUSES: tuple[RunStatus, ...] = ("shipped", "merged", "closed", "cancelled", "expired", "failed")


def now() -> datetime:
    return datetime.now(UTC)


def database_url(data_dir: Path, configured: str | None) -> str:
    """The app database: the configured URL, else SQLite in the state directory."""
    if configured:
        return configured
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(data_dir / 'nightshift.sqlite').resolve()}"


class QueueFull(Exception):
    """``max_queued`` runs already wait; ``queued`` says how many."""

    def __init__(self, queued: int) -> None:
        super().__init__(f"{queued} runs are already waiting")
        self.queued = queued


@dataclass(frozen=True)
class NewRun:
    """A run to record: the arguments of ``Store.create_run``."""

    ticket: Ticket
    dedupe_key: str | None
    web_link: Callable[[str], str] | None
    max_queued: int | None


class Store:
    """Async access to the run tables."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.shared = is_postgres(url)
        """Whether other workers may use the same database at the same time (PostgreSQL)."""
        self._engine = create_engine(url)
        counters.count_older_runs(self._engine, final=FINAL_STATUSES)
        self._locks: dict[str, asyncio.Lock] = {}
        self._new_runs = GroupCommit(self._create_runs)
        self._sightings = GroupCommit(self._record_sightings)

    @property
    def engine(self) -> sa.Engine:
        """The SQLAlchemy engine, for the modules that own other tables here (``store.outbox``)."""
        return self._engine

    def close(self) -> None:
        self._engine.dispose()

    # -- runs --------------------------------------------------------------------------------------

    async def create_run(
        self,
        ticket: Ticket,
        *,
        dedupe_key: str | None = None,
        web_link: Callable[[str], str] | None = None,
        max_queued: int | None = None,
    ) -> tuple[RunFacts, bool]:
        """Insert a queued run; ``(facts, False)`` when ``dedupe_key`` already named a run. A ticket keyed
        ``UNNUMBERED_KEY`` (a local incident with no tracker key) is numbered ``INC-<n>``; ``web_link``
        gives the run's web page URL from its id. ``QueueFull`` when ``max_queued`` runs already wait
        (checked in the transaction that inserts, so the limit holds). Runs submitted at the same time
        share one transaction (``GroupCommit``)."""
        return await self._new_runs.submit(NewRun(ticket, dedupe_key, web_link, max_queued))

    async def _create_runs(self, batch: list["NewRun"]) -> list[Outcome[tuple[RunFacts, bool]]]:
        return await asyncio.to_thread(self._insert_runs, batch)

    def _insert_runs(self, batch: list["NewRun"]) -> list[Outcome[tuple[RunFacts, bool]]]:
        """The whole batch in one transaction, with a few statements for all of its new runs."""
        with self._engine.begin() as db:
            advisory_xact_lock(db, "intake")  # the queue limit and dedupe keys hold across workers
            queued = db.execute(
                sa.select(sa.func.count()).select_from(runs).where(runs.c.status == "queued")
            ).scalar_one()
            stored = self._facts_by_dedupe_key(db, {new.dedupe_key for new in batch if new.dedupe_key})
            fresh: list[NewRun] = []
            fresh_by_key: dict[str, int] = {}
            # Per request: the run its dedupe key named, the index of its new run in `fresh`, or a refusal.
            plan: list[RunFacts | int | QueueFull] = []
            for new in batch:
                if new.dedupe_key in stored:
                    plan.append(stored[new.dedupe_key])
                elif new.dedupe_key in fresh_by_key:
                    plan.append(fresh_by_key[new.dedupe_key])
                elif new.max_queued is not None and queued >= new.max_queued:
                    plan.append(QueueFull(int(queued)))
                else:
                    if new.dedupe_key:
                        fresh_by_key[new.dedupe_key] = len(fresh)
                    plan.append(len(fresh))
                    fresh.append(new)
                    queued += 1
            created = self._insert_fresh(db, fresh)
        outcomes: list[Outcome[tuple[RunFacts, bool]]] = []
        first_of: set[int] = set()
        for step in plan:
            if isinstance(step, int):
                outcomes.append((created[step], step not in first_of))
                first_of.add(step)
            elif isinstance(step, RunFacts):
                outcomes.append((step, False))
            else:
                outcomes.append(step)
        return outcomes

    @staticmethod
    def _facts_by_dedupe_key(db: sa.Connection, keys: set[str | None]) -> dict[str | None, RunFacts]:
        if not keys:
            return {}
        rows = db.execute(sa.select(runs.c.dedupe_key, runs.c.facts).where(runs.c.dedupe_key.in_(keys)))
        return {row.dedupe_key: RunFacts.model_validate_json(row.facts) for row in rows}

    @staticmethod
    def _insert_fresh(db: sa.Connection, fresh: list["NewRun"]) -> list[RunFacts]:
        """Insert the runs, then write their facts, which need the numbers the database gave them."""
        if not fresh:
            return []
        stamp = now()
        ids = [secrets.token_hex(4) for _ in fresh]
        db.execute(
            runs.insert(),
            [
                {
                    "id": run_id,
                    "created_at": stamp,
                    "updated_at": stamp,
                    "status": "queued",
                    "dedupe_key": new.dedupe_key,
                    "facts": "",
                }
                for run_id, new in zip(ids, fresh, strict=True)
            ],
        )
        numbers = {
            row.id: row.number
            for row in db.execute(sa.select(runs.c.id, runs.c.number).where(runs.c.id.in_(ids)))
        }
        created = [
            _queued_facts(run_id, numbers[run_id], new, stamp) for run_id, new in zip(ids, fresh, strict=True)
        ]
        db.execute(
            runs.update().where(runs.c.id == sa.bindparam("b_id")).values(facts=sa.bindparam("b_facts")),
            [{"b_id": facts.run_id, "b_facts": facts.model_dump_json()} for facts in created],
        )
        started = (counters.counted(None, counters.reading(facts), final=FINAL_STATUSES) for facts in created)
        counters.add(db, counters.summed(started))
        return created

    async def get(self, run_id: str) -> RunFacts | None:
        return await asyncio.to_thread(self._get, run_id)

    def _get(self, run_id: str) -> RunFacts | None:
        with self._engine.connect() as db:
            row = db.execute(sa.select(runs.c.facts).where(runs.c.id == run_id)).first()
        return RunFacts.model_validate_json(row.facts) if row else None

    async def update(
        self,
        run_id: str,
        change: Callable[[RunFacts], None],
        *,
        then: Callable[[sa.Connection], None] | None = None,
    ) -> RunFacts:
        """Apply ``change`` to the run's facts and store them; returns the new facts. ``then`` writes
        what goes with the change in the same transaction (``store.outbox``: the deliveries a new
        status brings), so that no reader sees one without the other. The metrics' counters grow by what
        the change adds, in that transaction too (``store.counters``)."""
        lock = self._locks.setdefault(run_id, asyncio.Lock())
        async with lock:
            return await asyncio.to_thread(self._update, run_id, change, then)

    def _update(
        self, run_id: str, change: Callable[[RunFacts], None], then: Callable[[sa.Connection], None] | None
    ) -> RunFacts:
        with self._engine.begin() as db:
            row = db.execute(sa.select(runs.c.facts).where(runs.c.id == run_id).with_for_update()).first()
            if row is None:
                raise KeyError(run_id)
            facts = RunFacts.model_validate_json(row.facts)
            before = counters.reading(facts)
            change(facts)
            db.execute(
                runs.update()
                .where(runs.c.id == run_id)
                .values(
                    facts=facts.model_dump_json(),
                    status=facts.status,
                    pr_number=facts.pr_number,
                    updated_at=now(),
                )
            )
            if then is not None:
                then(db)
            # Last: a transaction holds the counters' rows only while it commits (no lock waits behind them).
            counters.add(db, counters.counted(before, counters.reading(facts), final=FINAL_STATUSES))
            return facts

    async def list_runs(self, *, limit: int = 100, statuses: Sequence[str] | None = None) -> list[RunFacts]:
        """Newest first."""
        return await asyncio.to_thread(self._list_runs, limit, statuses)

    def _list_runs(self, limit: int, statuses: Sequence[str] | None) -> list[RunFacts]:
        query = sa.select(runs.c.facts).order_by(runs.c.number.desc()).limit(limit)
        if statuses is not None:
            query = query.where(runs.c.status.in_(list(statuses)))
        with self._engine.connect() as db:
            return [RunFacts.model_validate_json(row.facts) for row in db.execute(query)]

    # -- events ------------------------------------------------------------------------------------

    async def append_events(self, batch: Sequence[NewEvent], *, writer: str = "") -> list[str]:
        """Store ``batch`` in order, numbering each event within its run; the runs that got events.

        On PostgreSQL each run's numbering is serialised across workers (an advisory lock per run, held
        until commit), so a reader that has seen event n of a run never later finds a new event below n.
        Listeners are told which runs got events (``NOTIFY``, payload ``<run id> <writer>``).
        """
        if not batch:
            return []
        return await asyncio.to_thread(self._append_events, batch, writer)

    def _append_events(self, batch: Sequence[NewEvent], writer: str) -> list[str]:
        run_ids = list(dict.fromkeys(event.run_id for event in batch))
        with self._engine.begin() as db:
            advisory_xact_lock(db, *(f"events:{run_id}" for run_id in run_ids))
            last = dict(
                db.execute(
                    sa.select(events.c.run_id, sa.func.max(events.c.seq))
                    .where(events.c.run_id.in_(run_ids))
                    .group_by(events.c.run_id)
                ).all()
            )
            rows = []
            for event in batch:
                last[event.run_id] = seq = (last.get(event.run_id) or 0) + 1
                rows.append(
                    {
                        "run_id": event.run_id,
                        "seq": seq,
                        "ts": event.ts,
                        "kind": event.kind,
                        "agent": event.agent,
                        "data": json.dumps(event.data, default=str),
                    }
                )
            db.execute(events.insert(), rows)
            if self.shared:
                notify(db, EVENTS_CHANNEL, [f"{run_id} {writer}" for run_id in run_ids])
        return run_ids

    async def events_of(self, run_id: str, *, after: int = 0) -> list[StoredEvent]:
        return await asyncio.to_thread(self._events_of, run_id, after)

    def _events_of(self, run_id: str, after: int) -> list[StoredEvent]:
        query = (
            sa.select(events).where(events.c.run_id == run_id, events.c.seq > after).order_by(events.c.seq)
        )
        with self._engine.connect() as db:
            return [
                StoredEvent(r.seq, r.run_id, r.ts, r.kind, r.agent, json.loads(r.data))
                for r in db.execute(query)
            ]

    async def last_event(self, run_id: str) -> int:
        """The number of the run's latest stored event (0 when it has none)."""
        return await asyncio.to_thread(self._last_event, run_id)

    def _last_event(self, run_id: str) -> int:
        with self._engine.connect() as db:
            query = sa.select(sa.func.max(events.c.seq)).where(events.c.run_id == run_id)
            return int(db.execute(query).scalar() or 0)

    # -- what agents changed -----------------------------------------------------------------------

    async def save_agent_diff(self, run_id: str, agent: str, diff: str) -> None:
        """Record what ``agent`` changed (a patch from the run's base commit), replacing what it had."""
        await asyncio.to_thread(self._save_agent_diff, run_id, agent, diff)

    def _save_agent_diff(self, run_id: str, agent: str, diff: str) -> None:
        with self._engine.begin() as db:
            stamp = now()
            row = {"run_id": run_id, "agent": agent, "diff": diff, "updated_at": stamp}
            db.execute(
                insert(db, agent_diffs)
                .values(**row)
                .on_conflict_do_update(
                    index_elements=["run_id", "agent"], set_={"diff": diff, "updated_at": stamp}
                )
            )

    async def agent_diff(self, run_id: str, agent: str) -> str | None:
        """What ``agent`` changed when it last finished; None when it has not finished yet."""
        return await asyncio.to_thread(self._agent_diff, run_id, agent)

    def _agent_diff(self, run_id: str, agent: str) -> str | None:
        query = sa.select(agent_diffs.c.diff).where(
            agent_diffs.c.run_id == run_id, agent_diffs.c.agent == agent
        )
        with self._engine.connect() as db:
            return db.execute(query).scalar()

    # -- shared keys and seen requests -------------------------------------------------------------

    async def shared_key(self, name: str, *, initial: bytes | None = None) -> bytes:
        """The key ``name`` every worker uses; the first to ask makes it (``initial``, else 32 random
        bytes) and the others get the same one."""
        return await asyncio.to_thread(self._shared_key, name, initial or secrets.token_bytes(32))

    def _shared_key(self, name: str, initial: bytes) -> bytes:
        with self._engine.begin() as db:
            db.execute(insert(db, keys).values(name=name, value=initial.hex()).on_conflict_do_nothing())
            return bytes.fromhex(db.execute(sa.select(keys.c.value).where(keys.c.name == name)).scalar_one())

    async def first_sighting(self, key: str, *, now_s: float, keep_s: float) -> bool:
        """Remember ``key`` for ``keep_s`` seconds; False when it was already remembered (a replay).
        Sightings at the same time share one transaction (``store.seen``)."""
        return await self._sightings.submit(Sighting(key, now_s, now_s + keep_s))

    async def _record_sightings(self, batch: list[Sighting]) -> list[Outcome[bool]]:
        def write() -> list[Outcome[bool]]:
            with self._engine.begin() as db:
                return list(record_sightings(db, batch))

        return await asyncio.to_thread(write)

    # -- locally recorded pull requests ------------------------------------------------------------

    async def record_pull_request(
        self,
        run_id: str,
        branch: str,
        title: str,
        body: str,
        diff: str,
        *,
        draft: bool,
        labels: Sequence[str],
    ) -> tuple[PullRequestRecord, bool]:
        """Insert a PR for ``branch`` unless one exists; ``(record, created)``."""
        return await asyncio.to_thread(
            self._record_pull_request, run_id, branch, title, body, diff, draft, list(labels)
        )

    def _record_pull_request(
        self, run_id: str, branch: str, title: str, body: str, diff: str, draft: bool, labels: list[str]
    ) -> tuple[PullRequestRecord, bool]:
        with self._engine.begin() as db:
            # One per branch even when two workers ship the same run at once: the second insert is a no-op.
            done = db.execute(
                insert(db, pull_requests)
                .values(
                    run_id=run_id,
                    branch=branch,
                    title=title,
                    body=body,
                    diff=diff,
                    draft=draft,
                    labels=json.dumps(labels),
                    created_at=now(),
                )
                .on_conflict_do_nothing(index_elements=["branch"])
                .returning(pull_requests.c.number)
            ).first()
            record = self._pull_request(db, branch)
            assert record is not None
            return record, done is not None

    async def pull_requests(self, *, run_id: str | None = None) -> list[PullRequestRecord]:
        return await asyncio.to_thread(self._pull_requests, run_id)

    def _pull_requests(self, run_id: str | None) -> list[PullRequestRecord]:
        query = sa.select(pull_requests).order_by(pull_requests.c.number)
        if run_id is not None:
            query = query.where(pull_requests.c.run_id == run_id)
        with self._engine.connect() as db:
            return [_pr(row) for row in db.execute(query)]

    @staticmethod
    def _pull_request(db: sa.Connection, branch: str) -> PullRequestRecord | None:
        row = db.execute(sa.select(pull_requests).where(pull_requests.c.branch == branch)).first()
        return _pr(row) if row else None


def _pr(row: sa.Row[Any]) -> PullRequestRecord:
    return PullRequestRecord(
        row.number,
        row.run_id,
        row.branch,
        row.title,
        row.body,
        row.diff,
        row.draft,
        json.loads(row.labels),
        row.created_at,
    )


def _queued_facts(run_id: str, number: int, new: NewRun, stamp: datetime) -> RunFacts:
    """A new run's facts. A ticket keyed ``UNNUMBERED_KEY`` is numbered ``INC-<number>``."""
    ticket = new.ticket
    if ticket.key == UNNUMBERED_KEY:
        ticket = ticket.model_copy(update={"key": f"INC-{number}"})
    return RunFacts(
        run_id=run_id,
        ticket=ticket,
        status="queued",
        created_at=stamp,
        web_url=new.web_link(run_id) if new.web_link else None,
    )
