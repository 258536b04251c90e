"""Terminal flows behind the CLI: one incident with a live view and a decision prompt, and decisions
on runs from the command line (taken in-process, or handed to the process that executes runs).

The live view shows the run's deliveries that are not done (a Slack message that cannot be posted,
a pull request GitHub has not opened yet). When the run pauses or ends, the view waits a moment for
its deliveries to settle (each delivered or known to be failing), so the briefing is printed before the
prompt and the outcome says whether the pull request is open. The briefing is printed through the live
view's own console, which puts it above the live table: another console would write under the table,
and the table's next redraw would overwrite the end of the briefing."""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from client import Model
from config import Settings
from deliveries.deliverer import settled
from documents.facts import DeliveryFacts, RunFacts, Ticket
from documents.terminal import agents_table, undelivered_text
from integrations.local import TerminalNotifier
from store.database import is_postgres
from store.outbox import Outbox
from store.runs import FINAL_STATUSES, Store, database_url
from workflow.engine import DecisionKind, DecisionOutcome, Engine, decide, executor_lock_holder, wait_for
from workflow.errors import RunNotFound

PAUSED = ("awaiting_decision", *FINAL_STATUSES)
EXIT_PR_OPENED, EXIT_NO_PR, EXIT_ERROR = 0, 1, 2


async def run_incident(
    settings: Settings,
    model: Model,
    ticket: Ticket,
    *,
    console: Console,
    approve: bool = False,
    request_changes: str | None = None,
    ask: Callable[[str], Awaitable[str]] | None = None,
) -> int:
    """Submit ``ticket``, show the agents live, then decide (by flag, or by asking). 0 = PR opened."""
    engine = Engine(settings, model=model, notifier=TerminalNotifier(console))
    rt = await engine.start()
    try:
        facts, _ = await engine.submit(ticket)
        console.print(
            f"[bold]{facts.ticket.key}[/bold] run [cyan]{facts.run_id}[/cyan] started on {rt.repo.path}"
        )
        pending_feedback = request_changes
        facts = await live_view(engine, facts.run_id, console)
        while True:
            if facts.status != "awaiting_decision":
                return _conclude(console, facts, await _deliveries(rt.store, facts.run_id))
            if pending_feedback is not None:
                choice, feedback, pending_feedback = "r", pending_feedback, None
            elif approve:
                choice, feedback = "a", None
            elif ask is not None:
                choice, feedback = await _ask_decision(ask)
            else:
                choice, feedback = "q", None
            if choice == "q":
                console.print(
                    f"Run {facts.run_id} awaits a decision. Later: [bold]nightshift approve "
                    f"{facts.run_id}[/bold] or [bold]nightshift request-changes {facts.run_id} "
                    f'"..."[/bold]'
                )
                return EXIT_NO_PR
            kind: DecisionKind = {"a": "approve", "r": "request_changes", "c": "cancel"}[choice]  # type: ignore[assignment]
            outcome = await engine.decide(facts.run_id, kind, feedback=feedback, by="terminal")
            if outcome.result == "conflict":
                console.print(f"[red]Decision refused:[/red] {outcome.reason}")
                return EXIT_NO_PR
            facts = await live_view(engine, facts.run_id, console, next_pause_after(outcome))
    finally:
        await engine.stop()


async def _ask_decision(ask: Callable[[str], Awaitable[str]]) -> tuple[str, str | None]:
    while True:
        answer = (await ask("[a]pprove / [r]equest changes / [c]ancel / [q]uit: ")).strip().lower()[:1]
        if answer == "r":
            feedback = (await ask("What should change? ")).strip()
            if feedback:
                return "r", feedback
        elif answer in ("a", "c", "q"):
            return answer, None


def paused(facts: RunFacts) -> bool:
    return facts.status in PAUSED


def next_pause_after(outcome: DecisionOutcome) -> Callable[[RunFacts], bool]:
    """After a decision: the run ended, or a later revision awaits a decision."""
    revision = outcome.facts.revision
    return lambda f: f.status in FINAL_STATUSES or (f.status == "awaiting_decision" and f.revision > revision)


async def live_view(
    engine: Engine, run_id: str, console: Console, until: Callable[[RunFacts], bool] = paused
) -> RunFacts:
    """Render the four agents (status, turn, current tool, tokens, time) and the deliveries not done
    until ``until`` holds, then let the deliveries settle."""
    rt = engine.rt
    tools: dict[str, str | None] = {}
    limits = {name: getattr(rt.settings.agents, name).max_turns for name in ("triage", "code", "test", "pr")}

    async def follow() -> None:
        async for event in rt.bus.subscribe(run_id):
            if event.kind == "tool_started" and event.agent:
                tools[event.agent] = str(event.data.get("tool"))
            elif event.kind in ("tool_finished", "finished") and event.agent:
                tools[event.agent] = None

    follower = asyncio.create_task(follow())
    try:
        with Live(console=console, refresh_per_second=4, transient=False) as live:
            while True:
                facts = await rt.store.get(run_id)
                if facts is None:
                    raise RunNotFound(run_id)
                deliveries = await _deliveries(rt.store, run_id)
                live.update(_frame(facts, tools, limits, deliveries))
                if until(facts):
                    await rt.bus.flush()
                    break
                await asyncio.sleep(0.25)
        facts = await settle(rt.store, run_id, timeout_s=2 * rt.settings.workflow.delivery_attempt_timeout_s)
        if not console.is_terminal:
            console.line()  # a live display off a terminal leaves its last line open
        return facts
    finally:
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower


async def _deliveries(store: Store, run_id: str) -> list[DeliveryFacts]:
    return [delivery.facts() for delivery in await Outbox(store).of_run(run_id)]


async def settle(store: Store, run_id: str, *, timeout_s: float, poll_s: float = 0.05) -> RunFacts:
    """The run once its deliveries are settled (each delivered, abandoned or known to be failing), or
    as it is after ``timeout_s``."""
    outbox = Outbox(store)
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        if settled(await outbox.of_run(run_id)):
            break
        await asyncio.sleep(poll_s)
    facts = await store.get(run_id)
    if facts is None:
        raise RunNotFound(run_id)
    return facts


def _frame(
    facts: RunFacts, tools: dict[str, str | None], limits: dict[str, int], deliveries: list[DeliveryFacts]
) -> Group:
    header = Text.assemble(
        (f"{facts.ticket.key} ", "bold"),
        (facts.ticket.title[:80], ""),
        (f"  [{facts.status}]", "cyan"),
        (f"  ${facts.cost_usd:.4f}", "dim"),
    )
    now = datetime.now(UTC)
    agents = agents_table(facts.agents, now=now, current_tool=tools, max_turns=limits)
    return Group(header, agents, undelivered_text(deliveries, now=now))


def _conclude(console: Console, facts: RunFacts, deliveries: list[DeliveryFacts]) -> int:
    waiting = undelivered_text(deliveries, now=datetime.now(UTC))
    if waiting:
        console.print(waiting)
    if facts.status == "shipped" and facts.pr_url:
        console.print(f"[green]Pull request opened:[/green] {facts.pr_url}  (branch {facts.branch})")
        return EXIT_PR_OPENED
    if facts.status == "shipped":
        console.print(
            f"[yellow]Run {facts.run_id} is approved; its pull request is not open yet and is retried "
            f"(branch {facts.branch}).[/yellow]"
        )
        return EXIT_NO_PR
    reason = facts.error or facts.status
    console.print(f"[yellow]Run {facts.run_id} ended: {reason}[/yellow]")
    return EXIT_NO_PR


async def decide_from_cli(
    settings: Settings,
    model: Model,
    run_ref: str,
    kind: DecisionKind,
    *,
    feedback: str | None,
    console: Console,
    timeout_s: float = 600,
) -> int:
    """Decide on a run. With SQLite and no live Nightshift process, this one starts the engine (which
    resumes the run where it waited) and follows the run to its next pause. Otherwise the workers do the
    work (the live process, or with PostgreSQL whichever worker holds the run) and this one watches the
    database."""
    data_dir = settings.data_dir.resolve()
    holder = executor_lock_holder(data_dir)
    url = database_url(data_dir, settings.database_url)
    if holder is None and not is_postgres(url):
        engine = Engine(settings, model=model, notifier=TerminalNotifier(console))
        rt = await engine.start()
        try:
            run_id = await resolve_run(rt.store, run_ref)
            outcome = await engine.decide(run_id, kind, feedback=feedback, by="cli")
            return await _follow_decision(
                console,
                rt.store,
                outcome,
                lambda: live_view(engine, run_id, console, next_pause_after(outcome)),
            )
        finally:
            await engine.stop()
    store = Store(url)
    try:
        run_id = await resolve_run(store, run_ref)
        outcome = await decide(
            store,
            settings,
            run_id,
            kind,
            feedback=feedback,
            by="cli",
            send=_client_sender(settings, data_dir),
        )
        console.print(
            f"Handed to the running Nightshift process (pid {holder})."
            if holder is not None
            else "Handed to the Nightshift workers on the shared database."
        )
        attempt_s = settings.workflow.delivery_attempt_timeout_s

        async def follow() -> RunFacts:
            await wait_for(store, run_id, next_pause_after(outcome), timeout_s=timeout_s)
            return await settle(store, run_id, timeout_s=2 * attempt_s)

        return await _follow_decision(console, store, outcome, follow)
    finally:
        store.close()


async def _follow_decision(
    console: Console, store: Store, outcome: DecisionOutcome, follow: Callable[[], Awaitable[RunFacts]]
) -> int:
    run_id = outcome.facts.run_id
    if outcome.result == "conflict":
        console.print(f"[red]Refused:[/red] {outcome.reason}")
        return EXIT_ERROR
    if outcome.result == "already":
        console.print(f"Run {run_id} was {outcome.reason}.")
        if outcome.facts.status != "shipped":
            return EXIT_NO_PR
        return _conclude(console, outcome.facts, await _deliveries(store, run_id))
    facts = await follow()
    if facts.status == "awaiting_decision":
        console.print(f"Revision {facts.revision} of run {facts.run_id} awaits a decision.")
        return EXIT_NO_PR
    return _conclude(console, facts, await _deliveries(store, run_id))


def _client_sender(
    settings: Settings, data_dir: Any
) -> Callable[[str, dict[str, object], str], Awaitable[None]]:
    from dbos import DBOSClient

    from workflow.engine import dbos_url
    from workflow.pipeline import DECISION_TOPIC

    async def send(run_id: str, message: dict[str, object], key: str) -> None:
        def deliver() -> None:
            client = DBOSClient(system_database_url=dbos_url(settings, data_dir))
            try:
                client.send(run_id, message, DECISION_TOPIC, idempotency_key=key)
            finally:
                client.destroy()

        await asyncio.to_thread(deliver)

    return send


async def known_run(settings: Settings, ref: str) -> str:
    """The run ``ref`` names, read from the database without starting anything; RunNotFound if none."""
    store = Store(database_url(settings.data_dir.resolve(), settings.database_url))
    try:
        return await resolve_run(store, ref)
    finally:
        store.close()


async def resolve_run(store: Store, ref: str) -> str:
    """A run id, or ``latest`` (the newest run)."""
    if ref == "latest":
        runs = await store.list_runs(limit=1)
        if not runs:
            raise RunNotFound("there are no runs yet")
        return runs[0].run_id
    if await store.get(ref) is None:
        raise RunNotFound(f"no run with id {ref!r} (see: nightshift runs)")
    return ref
