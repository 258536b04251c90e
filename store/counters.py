"""The counters ``/metrics`` shows as ``*_total``: kept in the database, raised in the transaction that
changes a run, never lowered.

A run's current state cannot give a counter: a run that ships and then is merged, or goes back to
``revising`` for a review round, would leave the ``shipped`` series, and Prometheus reads any fall as a
counter reset (``increase()`` would count it as new runs). So each change of a run's facts is compared
with what they were (``Store.update``, ``Store.create_run``) and what it adds is added to
``ns_counters``, one row per (counter, label values), in the same transaction: every worker reads the
same figures, a restart loses nothing, and a figure only grows.

What counts:

- ``nightshift_runs_started``: a run recorded, by trigger (the ticket's source).
- ``nightshift_runs_finished``: a run reaching a final status, by that status and the last
  verification's verdict, once per arrival (a run that ships, ships again after a review round and is
  then merged counts twice under ``shipped`` and once under ``merged``).
- ``nightshift_agents_ended``: an agent that stopped (submitted, model_error, ...), once per agent run.
- ``nightshift_model_tokens`` and ``nightshift_model_cost_usd``: what the agents' figures grew by, under
  the model that spent it.
"""

import json
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa

from documents.facts import RunFacts
from store.database import advisory_xact_lock, counters, insert, runs

Key = tuple[str, tuple[str, ...]]
"""A counter's name and its label values."""
Counts = defaultdict[Key, float]

RUNNING = ("pending", "running")
"""An agent's statuses before it ends."""


@dataclass(frozen=True, slots=True)
class AgentReading:
    status: str
    model: str
    input_tokens: int
    output_tokens: int
    cost_usd: float

    @property
    def ended(self) -> bool:
        return self.status not in RUNNING


@dataclass(frozen=True, slots=True)
class RunReading:
    """What the counters need of a run's facts, taken before and after a change."""

    trigger: str
    status: str
    verdict: str
    """The last verification's verdict; ``none`` when the run was never verified."""
    agents: dict[str, AgentReading]


def reading(facts: RunFacts) -> RunReading:
    return RunReading(
        trigger=facts.ticket.source,
        status=facts.status,
        verdict=facts.verification.verdict if facts.verification else "none",
        agents={
            name: AgentReading(
                agent.status,
                agent.model or "unknown",
                agent.input_tokens,
                agent.output_tokens,
                agent.cost_usd,
            )
            for name, agent in facts.agents.items()
        },
    )


def counted(before: RunReading | None, after: RunReading, *, final: Collection[str]) -> Counts:
    """What the change from ``before`` (None: a new run) to ``after`` adds to the counters; ``final``:
    the final statuses."""
    counts: Counts = defaultdict(float)
    if before is None:
        counts["nightshift_runs_started", (after.trigger,)] += 1
    if after.status in final and (before is None or before.status != after.status):
        counts["nightshift_runs_finished", (after.status, after.verdict)] += 1
    for name, agent in after.agents.items():
        was = before.agents.get(name) if before else None
        if agent.ended and (was is None or not was.ended):
            counts["nightshift_agents_ended", (name, agent.status)] += 1
        for label, now, then in (
            (("input",), agent.input_tokens, was.input_tokens if was else 0),
            (("output",), agent.output_tokens, was.output_tokens if was else 0),
        ):
            if now > then:
                counts["nightshift_model_tokens", (name, agent.model, *label)] += now - then
        spent = agent.cost_usd - (was.cost_usd if was else 0.0)
        if spent > 0:
            counts["nightshift_model_cost_usd", (name, agent.model)] += spent
    return counts


def add(db: sa.Connection, counts: Mapping[Key, float]) -> None:
    """Add ``counts`` to the stored counters, in the caller's transaction. Rows are written in one order
    (sorted), so two workers raising the same counters wait for each other and never deadlock."""
    rows = [
        {"name": name, "labels": json.dumps(labels), "value": float(amount)}
        for (name, labels), amount in sorted(counts.items())
        if amount > 0
    ]
    if not rows:
        return
    upsert = insert(db, counters).values(rows)
    db.execute(
        upsert.on_conflict_do_update(
            index_elements=["name", "labels"], set_={"value": counters.c.value + upsert.excluded.value}
        )
    )


def count_older_runs(engine: sa.Engine, *, final: Collection[str]) -> None:
    """Count the runs of a database made before the counters were (every run adds to them from its
    first transaction on, so counters empty beside runs mean an older database): once, by one worker,
    while no run is being recorded (``intake``), so a run recorded meanwhile is not counted twice."""
    with engine.begin() as db:
        advisory_xact_lock(db, "counters", "intake")
        if db.execute(sa.select(counters.c.name).limit(1)).first() is not None:
            return
        older = db.execute(sa.select(runs.c.facts).where(runs.c.facts != ""))
        facts = (RunFacts.model_validate_json(row.facts) for row in older)
        add(db, summed(counted(None, reading(run), final=final) for run in facts))


def counter_values(engine: sa.Engine) -> dict[str, list[tuple[tuple[str, ...], float]]]:
    """Every stored counter: its name, then (label values, value) per series."""
    with engine.connect() as db:
        rows = db.execute(sa.select(counters.c.name, counters.c.labels, counters.c.value)).all()
    values: defaultdict[str, list[tuple[tuple[str, ...], float]]] = defaultdict(list)
    for row in rows:
        values[row.name].append((tuple(json.loads(row.labels)), float(row.value)))
    return dict(values)


def summed(changes: Iterable[Counts]) -> Counts:
    """What several changes add together (a batch of new runs, the runs of an older database)."""
    total: Counts = defaultdict(float)
    for change in changes:
        for key, amount in change.items():
            total[key] += amount
    return total
