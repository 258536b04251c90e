"""The delivery outbox: every effect on the outside world, recorded before it is tried.

A row (table ``ns_deliveries`` in ``store.database``) is one delivery: a run's briefing message (one row
per run, armed again each time the briefing changes), its pull request, a ticket transition, a ticket
comment, a review round's push of its commit. The rows live in the runs' database, so every worker sees
them; ids come from the database and ``key`` is unique, so recording the same delivery twice, from any
worker, makes one row.

A worker claims a due row by a compare-and-set on its lease (``lease_until``), which holds on SQLite and
on PostgreSQL alike: one worker at a time tries a delivery, and when a worker dies mid-attempt its lease
runs out and any worker tries again. ``attempts`` is counted when a row is claimed, so the next attempt
knows an earlier one may have landed and looks for its effect before making it again. The rows of one
run and service are tried in the order they were recorded (the ticket goes to In Progress before In
Review, even when Jira comes back with both waiting).

    pending ──attempt ok──────────────► delivered   (the briefing row goes back to pending
       └────refused, or out of time───► abandoned    each time the run's briefing changes)
"""

import asyncio
import functools
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from documents.facts import DeliveryFacts, DeliveryKind, DeliveryState, RunFacts
from store.database import deliveries, insert, runs
from store.runs import Store

BRIEFING_KEY = "{run_id}:briefing"


@dataclass(frozen=True, slots=True)
class Delivery:
    """A row of the outbox, as a worker claimed it or a reader found it."""

    id: int
    key: str
    run_id: str
    kind: DeliveryKind
    service: str
    payload: dict[str, Any]
    state: DeliveryState
    version: int
    attempts: int
    created_at: float
    due_since: float
    next_attempt_at: float
    last_attempt_at: float | None
    failing_since: float | None
    last_error: str | None
    last_status: int | None
    delivered_at: float | None
    result: str | None

    @property
    def what(self) -> str:
        """The delivery in words, as the run's pages show it."""
        if self.kind == "transition":
            return f"ticket to {self.payload.get('status')}"
        if self.kind == "push":
            return f"push of {str(self.payload.get('commit'))[:12]} to {self.payload.get('branch')}"
        return {
            "briefing": "briefing message",
            "pull_request": "pull request",
            "comment": "ticket comment",
            "incident_note": "incident note",
            "review_reply": "reply on a review thread",
            "pr_comment": "pull request comment",
        }[self.kind]

    def facts(self) -> DeliveryFacts:
        return DeliveryFacts(
            kind=self.kind,
            service=self.service,
            what=self.what,
            state=self.state,
            attempts=self.attempts,
            last_error=self.last_error,
            last_status=self.last_status,
            failing_since=_when(self.failing_since),
            next_attempt_at=_when(self.next_attempt_at) if self.state == "pending" else None,
            delivered_at=_when(self.delivered_at),
            result=self.result,
        )


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """A delivery to record: its kind, its key (one row per key) and its payload."""

    kind: DeliveryKind
    key: str
    payload: Mapping[str, Any]

    def as_follow_up(self) -> dict[str, Any]:
        """As a push's payload carries it (``then``/``otherwise``): recorded when the push lands or not."""
        return {"kind": self.kind, "key": self.key, "payload": dict(self.payload)}


@dataclass(frozen=True, slots=True)
class ServiceHealth:
    """How deliveries to one service stand: how many wait, and the last failure while it is failing."""

    pending: int
    degraded: bool
    last_error: str | None
    last_error_at: datetime | None


def _when(epoch: float | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch is not None else None


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=row.id,
        key=row.key,
        run_id=row.run_id,
        kind=row.kind,
        service=row.service,
        payload=json.loads(row.payload),
        state=row.state,
        version=row.version,
        attempts=row.attempts,
        created_at=row.created_at,
        due_since=row.due_since,
        next_attempt_at=row.next_attempt_at,
        last_attempt_at=row.last_attempt_at,
        failing_since=row.failing_since,
        last_error=row.last_error,
        last_status=row.last_status,
        delivered_at=row.delivered_at,
        result=row.result,
    )


class Outbox:
    """Async access to the outbox rows; the blocking database work runs in a thread."""

    def __init__(self, store: Store) -> None:
        self._store, self._engine = store, store.engine

    # -- recording ---------------------------------------------------------------------------------

    async def record(
        self,
        run_id: str,
        kind: DeliveryKind,
        key: str,
        service: str,
        payload: Mapping[str, Any],
        *,
        change: Callable[[RunFacts], None] | None = None,
    ) -> None:
        """Record a delivery to try now, unless one with ``key`` was recorded before; with ``change``
        (the status that brings it), in the same transaction as the run's facts change."""
        row = functools.partial(
            _record, run_id=run_id, kind=kind, key=key, service=service, payload=dict(payload)
        )
        await self._write(run_id, row, change)

    async def arm_briefing(
        self, run_id: str, service: str, *, change: Callable[[RunFacts], None] | None = None
    ) -> None:
        """The run's briefing changed: its message is to be shown (posted, or updated in place) again.

        A briefing still waiting keeps its place and its deadline; one delivered or abandoned is due now.
        With ``change`` (a new status), the run's facts change in the same transaction: no reader, on
        any worker, sees the run awaiting a decision before its briefing is on its way, and a crash
        between the two leaves neither.
        """
        await self._write(run_id, functools.partial(_arm_briefing, run_id=run_id, service=service), change)

    async def _write(
        self, run_id: str, write: Callable[[sa.Connection], None], change: Callable[[RunFacts], None] | None
    ) -> None:
        """``write`` in a transaction of its own, or in the one that applies ``change`` to the run."""
        if change is not None:
            await self._store.update(run_id, change, then=write)
        else:
            await asyncio.to_thread(self._in_transaction, write)

    async def change_run(
        self,
        run_id: str,
        change: Callable[[RunFacts], list[NewDelivery]],
        service_of: Callable[[str], str],
        *,
        brief: bool,
    ) -> RunFacts:
        """Change the run's facts and record the deliveries ``change`` returns (and, with ``brief``,
        arm the briefing) in one transaction: a crash leaves both or neither, and ``change`` decides
        on the facts as they are in that transaction."""
        recorded: list[NewDelivery] = []

        def apply(facts: RunFacts) -> None:
            recorded[:] = change(facts)

        def write(db: sa.Connection) -> None:
            for new in recorded:
                _record(
                    db,
                    run_id=run_id,
                    kind=new.kind,
                    key=new.key,
                    service=service_of(new.kind),
                    payload=dict(new.payload),
                )
            if brief:
                _arm_briefing(db, run_id=run_id, service=service_of("briefing"))

        return await self._store.update(run_id, apply, then=write)

    def _in_transaction(self, write: Callable[[sa.Connection], None]) -> None:
        with self._engine.begin() as db:
            write(db)

    # -- working -----------------------------------------------------------------------------------

    async def claim(self, owner: str, *, lease_s: float, limit: int, skip: set[int]) -> list[Delivery]:
        """Due deliveries, each now leased to ``owner`` for ``lease_s`` and its attempt counted."""
        return await asyncio.to_thread(self._claim, owner, lease_s, limit, skip)

    def _claim(self, owner: str, lease_s: float, limit: int, skip: set[int]) -> list[Delivery]:
        now = time.time()
        earlier = deliveries.alias("earlier")
        free = sa.or_(deliveries.c.lease_until.is_(None), deliveries.c.lease_until < now)
        due = (
            sa.select(deliveries.c.id)
            .where(
                deliveries.c.state == "pending",
                deliveries.c.next_attempt_at <= now,
                free,
                ~sa.exists().where(
                    earlier.c.run_id == deliveries.c.run_id,
                    earlier.c.service == deliveries.c.service,
                    earlier.c.state == "pending",
                    earlier.c.id < deliveries.c.id,
                ),
            )
            .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
            .limit(limit + len(skip))
        )
        claimed: list[Delivery] = []
        with self._engine.begin() as db:
            candidates = [row.id for row in db.execute(due) if row.id not in skip][:limit]
        for delivery_id in candidates:
            with self._engine.begin() as db:
                taken = db.execute(
                    deliveries.update()
                    .where(
                        deliveries.c.id == delivery_id,
                        deliveries.c.state == "pending",
                        deliveries.c.next_attempt_at <= now,
                        free,
                    )
                    .values(
                        lease_owner=owner,
                        lease_until=now + lease_s,
                        attempts=deliveries.c.attempts + 1,
                        last_attempt_at=now,
                    )
                ).rowcount
                if taken:
                    row = db.execute(sa.select(deliveries).where(deliveries.c.id == delivery_id)).one()
                    claimed.append(_delivery(row))
        return claimed

    async def delivered(self, delivery: Delivery, owner: str, result: str | None) -> bool:
        """Record the attempt's success; False when the lease was lost meanwhile (nothing is written).

        A briefing armed again during the attempt stays pending, due at once, to show the newer one.
        """
        return await asyncio.to_thread(self._delivered, delivery, owner, result)

    def _delivered(self, delivery: Delivery, owner: str, result: str | None) -> bool:
        now = time.time()
        same = deliveries.c.version == delivery.version
        with self._engine.begin() as db:
            return bool(
                db.execute(
                    deliveries.update()
                    .where(deliveries.c.id == delivery.id, deliveries.c.lease_owner == owner)
                    .values(
                        state=sa.case((same, "delivered"), else_="pending"),
                        due_since=sa.case((same, deliveries.c.due_since), else_=now),
                        next_attempt_at=now,
                        delivered_at=now,
                        failing_since=None,
                        result=result,
                        lease_owner=None,
                        lease_until=None,
                    )
                ).rowcount
            )

    async def failed(
        self, delivery: Delivery, owner: str, *, error: str, status: int | None, retry_at: float | None
    ) -> bool:
        """Record a failed attempt: tried again at ``retry_at``, or abandoned when it is None. False when
        the lease was lost meanwhile."""
        return await asyncio.to_thread(self._failed, delivery, owner, error, status, retry_at)

    def _failed(
        self, delivery: Delivery, owner: str, error: str, status: int | None, retry_at: float | None
    ) -> bool:
        now = time.time()
        with self._engine.begin() as db:
            return bool(
                db.execute(
                    deliveries.update()
                    .where(deliveries.c.id == delivery.id, deliveries.c.lease_owner == owner)
                    .values(
                        state="pending" if retry_at is not None else "abandoned",
                        next_attempt_at=retry_at if retry_at is not None else now,
                        failing_since=sa.func.coalesce(deliveries.c.failing_since, now),
                        last_error=error,
                        last_status=status,
                        lease_owner=None,
                        lease_until=None,
                    )
                ).rowcount
            )

    async def release(self, owner: str, *, prefix: bool = False) -> None:
        """Give up the leases of ``owner`` (or of every owner starting with it): their deliveries are
        due again at once. A worker stopping gives up its own; a worker starting, those of its earlier
        life."""
        await asyncio.to_thread(self._release, owner, prefix)

    def _release(self, owner: str, prefix: bool) -> None:
        held = (
            sa.func.substr(deliveries.c.lease_owner, 1, len(owner)) == owner
            if prefix
            else deliveries.c.lease_owner == owner
        )
        with self._engine.begin() as db:
            db.execute(
                deliveries.update()
                .where(held, deliveries.c.state == "pending")
                .values(lease_owner=None, lease_until=None, next_attempt_at=time.time())
            )

    async def next_due(self) -> float | None:
        """When the next pending delivery is due (epoch seconds), or None when nothing waits."""
        return await asyncio.to_thread(self._next_due)

    def _next_due(self) -> float | None:
        query = sa.select(sa.func.min(deliveries.c.next_attempt_at)).where(deliveries.c.state == "pending")
        with self._engine.connect() as db:
            value = db.execute(query).scalar()
        return float(value) if value is not None else None

    # -- reading -----------------------------------------------------------------------------------

    async def get(self, delivery_id: int) -> Delivery | None:
        return await asyncio.to_thread(self._get, delivery_id)

    def _get(self, delivery_id: int) -> Delivery | None:
        with self._engine.connect() as db:
            row = db.execute(sa.select(deliveries).where(deliveries.c.id == delivery_id)).first()
        return _delivery(row) if row is not None else None

    async def of_run(self, run_id: str) -> list[Delivery]:
        """The run's deliveries in the order they were recorded."""
        return await asyncio.to_thread(self._of_run, run_id)

    def _of_run(self, run_id: str) -> list[Delivery]:
        query = sa.select(deliveries).where(deliveries.c.run_id == run_id).order_by(deliveries.c.id)
        with self._engine.connect() as db:
            return [_delivery(row) for row in db.execute(query)]

    async def run_and_deliveries(self, run_id: str) -> tuple[RunFacts | None, list[Delivery]]:
        """The run's facts and its deliveries, read in one statement: one snapshot of both.

        Read apart, neither order is safe. A status change records its deliveries in its own transaction
        (facts read first, then deliveries, is right for that); the deliverer writes what a delivery made
        into the run and then, in a second transaction, marks it delivered (deliveries first is right for
        that). One statement sees the database at one moment, on SQLite and PostgreSQL alike; the price
        is the facts repeated on each delivery's row."""
        return await asyncio.to_thread(self._run_and_deliveries, run_id)

    def _run_and_deliveries(self, run_id: str) -> tuple[RunFacts | None, list[Delivery]]:
        query = (
            sa.select(runs.c.facts.label("run_facts"), deliveries)
            .select_from(runs.outerjoin(deliveries, deliveries.c.run_id == runs.c.id))
            .where(runs.c.id == run_id)
            .order_by(deliveries.c.id)
        )
        with self._engine.connect() as db:
            rows = db.execute(query).all()
        if not rows:
            return None, []
        facts = RunFacts.model_validate_json(rows[0].run_facts)
        return facts, [_delivery(row) for row in rows if row.id is not None]

    async def health(self) -> dict[str, ServiceHealth]:
        """Per service: the deliveries waiting, and whether its latest attempt failed (and how)."""
        return await asyncio.to_thread(self._health)

    def _health(self) -> dict[str, ServiceHealth]:
        pending = (
            sa.select(deliveries.c.service, sa.func.count())
            .where(deliveries.c.state == "pending")
            .group_by(deliveries.c.service)
        )
        latest = (
            sa.select(deliveries.c.service, sa.func.max(deliveries.c.last_attempt_at).label("at"))
            .group_by(deliveries.c.service)
            .subquery()
        )
        last = sa.select(
            deliveries.c.service,
            deliveries.c.failing_since,
            deliveries.c.last_error,
            deliveries.c.last_attempt_at,
        ).join(
            latest,
            sa.and_(latest.c.service == deliveries.c.service, latest.c.at == deliveries.c.last_attempt_at),
        )
        with self._engine.connect() as db:
            waiting = {row[0]: int(row[1]) for row in db.execute(pending)}
            attempts = {row.service: row for row in db.execute(last)}
        health: dict[str, ServiceHealth] = {}
        for service in waiting.keys() | attempts.keys():
            row = attempts.get(service)
            failing = row is not None and row.failing_since is not None
            health[service] = ServiceHealth(
                pending=waiting.get(service, 0),
                degraded=failing,
                last_error=row.last_error if failing and row is not None else None,
                last_error_at=_when(row.last_attempt_at) if failing and row is not None else None,
            )
        return health


def _record(
    db: sa.Connection, *, run_id: str, kind: str, key: str, service: str, payload: dict[str, Any]
) -> None:
    """One row per key, also when two workers record it at once."""
    row = _new_row(run_id, kind, key, service, payload, time.time())
    db.execute(insert(db, deliveries).values(**row).on_conflict_do_nothing(index_elements=["key"]))


def _arm_briefing(db: sa.Connection, *, run_id: str, service: str) -> None:
    """The briefing row: recorded the first time, armed again (in one statement) after."""
    now = time.time()
    row = _new_row(run_id, "briefing", BRIEFING_KEY.format(run_id=run_id), service, {}, now)
    waiting = deliveries.c.state == "pending"
    db.execute(
        insert(db, deliveries)
        .values(**row)
        .on_conflict_do_update(
            index_elements=["key"],
            set_={
                "version": deliveries.c.version + 1,
                "state": "pending",
                "due_since": sa.case((waiting, deliveries.c.due_since), else_=now),
                "next_attempt_at": sa.case((waiting, deliveries.c.next_attempt_at), else_=now),
                "failing_since": sa.case((waiting, deliveries.c.failing_since), else_=None),
            },
        )
    )


def _new_row(
    run_id: str, kind: str, key: str, service: str, payload: dict[str, Any], now: float
) -> dict[str, Any]:
    return {
        "key": key,
        "run_id": run_id,
        "kind": kind,
        "service": service,
        "payload": json.dumps(payload, ensure_ascii=False),
        "state": "pending",
        "version": 1,
        "attempts": 0,
        "created_at": now,
        "due_since": now,
        "next_attempt_at": now,
    }
