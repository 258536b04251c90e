"""What ``/metrics`` reads from the database at scrape time, as every worker sees it: the runs in each
status now and the delivery outbox (the counters are ``store.counters``). Blocking: call it from a thread
(the collector runs in one)."""

import time
from collections import Counter
from dataclasses import dataclass

import sqlalchemy as sa

from store.database import deliveries, runs


@dataclass(frozen=True, slots=True)
class ServiceBacklog:
    """The deliveries to one service (``slack``, ``github``, ``jira``, or a local default)."""

    pending: int
    failing: int
    """Pending deliveries whose attempts have failed so far."""
    abandoned: int
    oldest_pending_s: float
    """How long the oldest pending delivery has been due (0 when none waits)."""
    failing_for_s: float
    """How long the longest-failing pending delivery has been failing (0 when none fails)."""


def runs_by_status(engine: sa.Engine) -> Counter[str]:
    """How many runs are in each status now."""
    query = sa.select(runs.c.status, sa.func.count()).group_by(runs.c.status)
    with engine.connect() as db:
        return Counter({status: int(count) for status, count in db.execute(query).all()})


def delivery_backlog(engine: sa.Engine, *, now: float | None = None) -> dict[str, ServiceBacklog]:
    """Per service: the deliveries waiting, failing and abandoned, and how long the oldest has waited."""
    now = time.time() if now is None else now
    pending = deliveries.c.state == "pending"
    query = sa.select(
        deliveries.c.service,
        sa.func.sum(sa.case((pending, 1), else_=0)).label("pending"),
        sa.func.sum(sa.case((sa.and_(pending, deliveries.c.failing_since.is_not(None)), 1), else_=0)).label(
            "failing"
        ),
        sa.func.sum(sa.case((deliveries.c.state == "abandoned", 1), else_=0)).label("abandoned"),
        sa.func.min(sa.case((pending, deliveries.c.due_since), else_=None)).label("oldest"),
        sa.func.min(sa.case((pending, deliveries.c.failing_since), else_=None)).label("failing_since"),
    ).group_by(deliveries.c.service)
    with engine.connect() as db:
        rows = db.execute(query).all()
    return {
        row.service: ServiceBacklog(
            pending=int(row.pending or 0),
            failing=int(row.failing or 0),
            abandoned=int(row.abandoned or 0),
            oldest_pending_s=max(0.0, now - row.oldest) if row.oldest is not None else 0.0,
            failing_for_s=max(0.0, now - row.failing_since) if row.failing_since is not None else 0.0,
        )
        for row in rows
    }
