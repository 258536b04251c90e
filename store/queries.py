"""Read-only views of runs, shaped as the CLI prints them and the HTTP API will return them."""

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from config import Settings
from documents.facts import AgentFacts, DeliveryFacts, RunFacts
from documents.phrases import delivery_line
from documents.report import render_report
from store.outbox import Outbox
from store.runs import FINAL_STATUSES, Store, database_url

AGENT_ORDER = ("triage", "code", "test", "pr")


def run_summary(facts: RunFacts) -> dict[str, Any]:
    """One line of a run list."""
    verdict = facts.verification.verdict if facts.verification else None
    return {
        "id": facts.run_id,
        "status": facts.status,
        "key": facts.ticket.key,
        "title": facts.ticket.title,
        "source": facts.ticket.source,
        "revision": facts.revision,
        "verdict": verdict,
        "shipped_revision": facts.shipped_revision,
        "shipped_verdict": facts.shipped_verdict,
        "pr_url": facts.pr_url,
        "cost_usd": round(facts.cost_usd, 6),
        "created_at": facts.created_at.isoformat() if facts.created_at else None,
    }


def run_detail(facts: RunFacts, deliveries: Sequence[DeliveryFacts] = ()) -> dict[str, Any]:
    """Everything about a run: ticket, agents keyed by name, triage, fix, tests, verification, decisions,
    and its deliveries (each with its state and, while it is not done, its last error and next try)."""
    data = facts.model_dump(mode="json")
    agents: dict[str, dict[str, Any]] = {}
    for name in AGENT_ORDER:
        agent = facts.agents.get(name) or AgentFacts(name=name)  # type: ignore[arg-type]
        agents[name] = {**agent.model_dump(mode="json"), "tokens": agent.input_tokens + agent.output_tokens}
    data.update(
        {
            "id": facts.run_id,
            "agents": agents,
            "cost": round(facts.cost_usd, 6),
            "deliveries": [
                {**d.model_dump(mode="json"), "summary": delivery_line(d, now=datetime.now(UTC))}
                for d in deliveries
            ],
        }
    )
    return data


async def list_runs(store: Store, *, limit: int = 100) -> list[dict[str, Any]]:
    return [run_summary(facts) for facts in await store.list_runs(limit=limit)]


async def deliveries_of(store: Store, run_id: str) -> list[DeliveryFacts]:
    return [delivery.facts() for delivery in await Outbox(store).of_run(run_id)]


async def latest_run(store: Store) -> dict[str, Any] | None:
    runs = await store.list_runs(limit=1)
    return run_detail(runs[0]) if runs else None


def report_of(facts: RunFacts) -> str | None:
    """The run's incident report as of now, once it has been briefed (or has ended); None before.

    Rendered from the facts in the database, so every worker (and the CLI) gives the same report,
    whichever worker ran the run."""
    briefed = facts.status == "awaiting_decision" or bool(facts.decisions) or facts.status in FINAL_STATUSES
    return render_report(facts) if briefed else None


async def print_runs(settings: Settings) -> int:
    store = Store(database_url(settings.data_dir.resolve(), settings.database_url))
    try:
        runs = await list_runs(store)
    finally:
        store.close()
    table = Table("id", "key", "status", "verdict", "title", "pr", "cost")
    for run in runs:
        table.add_row(
            run["id"],
            run["key"],
            run["status"],
            run["verdict"] or "",
            run["title"][:50],
            run["pr_url"] or "",
            f"${run['cost_usd']:.4f}",
        )
    Console().print(table if runs else "no runs yet")
    return 0


async def print_run(settings: Settings, ref: str, *, report: bool) -> int:
    from cli.console import resolve_run

    store = Store(database_url(settings.data_dir.resolve(), settings.database_url))
    try:
        run_id = await resolve_run(store, ref)
        facts = await store.get(run_id)
        assert facts is not None, "resolve_run found it"
        detail = run_detail(facts, await deliveries_of(store, run_id))
    finally:
        store.close()
    if report:
        print(report_of(facts) or f"run {run_id} has no report yet (it is {facts.status})")
    else:
        print(json.dumps(detail, indent=2))
    return 0
