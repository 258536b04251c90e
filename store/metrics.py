"""What ``/metrics`` reads from the database: the runs and the delivery outbox, as every worker sees them.

Counts that must be the same on every worker (runs by trigger, status and verdict, the queue, tokens and
cost, the deliveries waiting) are read here at scrape time, never kept in one process's memory, so two
workers scraped at the same moment say the same thing, and a restart loses nothing.

The runs' figures live in each run's facts (JSON). ``RunReadings`` keeps a small summary per run and
reads a run's facts again only when its row changed since the last scrape (``updated_at``, or its
status), so a scrape reads the facts of the runs that moved, not of every run ever made. Blocking:
call it from a thread (the collector runs in one).
"""

import json
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from store.database import deliveries, runs
from store.runs import ACTIVE_STATUSES, FINAL_STATUSES

FACTS_PER_READ = 200
"""Runs whose facts one statement reads (the first scrape reads every run's, in batches)."""


@dataclass(frozen=True, slots=True)
class AgentSummary:
    name: str
    model: str
    status: str
    input_tokens: int
    output_tokens: int
    cost_usd: float


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What the metrics need of one run's facts."""

    trigger: str
    status: str
    verdict: str
    """The last verification's verdict; ``none`` when the run was never verified."""
    agents: tuple[AgentSummary, ...]


@dataclass
class RunTotals:
    """Every run in the database, counted."""

    started: Counter[str] = field(default_factory=Counter)
    """Runs by trigger (the ticket's source: slack, jira, github, api, cli)."""
    finished: Counter[tuple[str, str]] = field(default_factory=Counter)
    """Runs in a final status, by (status, verdict)."""
    current: Counter[str] = field(default_factory=Counter)
    """Runs in each active status now."""
    tokens: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    """Model tokens by (agent, model, direction: input or output)."""
    cost_usd: defaultdict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    """Model cost in USD by (agent, model)."""
    agents_ended: Counter[tuple[str, str]] = field(default_factory=Counter)
    """Agents of runs by (agent, how it last ended: submitted, model_error, ...)."""


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


class RunReadings:
    """Summaries of every run, kept current scrape after scrape (see the module docstring)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[datetime, str, RunSummary]] = {}

    def totals(self) -> RunTotals:
        with self._lock:
            self._refresh()
            summaries = [summary for _, _, summary in self._seen.values()]
        totals = RunTotals()
        for run in summaries:
            totals.started[run.trigger] += 1
            if run.status in FINAL_STATUSES:
                totals.finished[(run.status, run.verdict)] += 1
            elif run.status in ACTIVE_STATUSES:
                totals.current[run.status] += 1
            for agent in run.agents:
                totals.tokens[(agent.name, agent.model, "input")] += agent.input_tokens
                totals.tokens[(agent.name, agent.model, "output")] += agent.output_tokens
                totals.cost_usd[(agent.name, agent.model)] += agent.cost_usd
                if agent.status not in ("pending", "running"):
                    totals.agents_ended[(agent.name, agent.status)] += 1
        return totals

    def _refresh(self) -> None:
        with self._engine.connect() as db:
            rows = db.execute(sa.select(runs.c.id, runs.c.updated_at, runs.c.status)).all()
            moved = [
                row.id
                for row in rows
                if (seen := self._seen.get(row.id)) is None or seen[:2] != (row.updated_at, row.status)
            ]
            for start in range(0, len(moved), FACTS_PER_READ):
                batch = moved[start : start + FACTS_PER_READ]
                query = sa.select(runs.c.id, runs.c.updated_at, runs.c.status, runs.c.facts).where(
                    runs.c.id.in_(batch)
                )
                for row in db.execute(query):
                    if row.facts:  # empty for an instant while a new run is numbered
                        self._seen[row.id] = (row.updated_at, row.status, _summary(row.status, row.facts))


def _summary(status: str, text: str) -> RunSummary:
    facts: dict[str, Any] = json.loads(text)
    verification = facts.get("verification") or {}
    agents = tuple(
        AgentSummary(
            name=str(agent.get("name") or name),
            model=str(agent.get("model") or "unknown"),
            status=str(agent.get("status") or "pending"),
            input_tokens=int(agent.get("input_tokens") or 0),
            output_tokens=int(agent.get("output_tokens") or 0),
            cost_usd=float(agent.get("cost_usd") or 0.0),
        )
        for name, agent in (facts.get("agents") or {}).items()
    )
    return RunSummary(
        trigger=str((facts.get("ticket") or {}).get("source") or "unknown"),
        status=status,
        verdict=str(verification.get("verdict") or "none"),
        agents=agents,
    )


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
