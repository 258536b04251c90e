"""The runs as the HTTP edge serves them: start, read, decide, follow, report.

No HTTP here: each method answers with facts or a domain outcome (``server.outcomes``: ``RunStarted``,
``Accepted``, ``AlreadyDecided``, ``NothingToShip``, ...) or raises a refusal (``RunNotFound``,
``QueueFull``, ...). The routers turn those into status codes; the webhooks use the same outcomes.
A request that names or starts a run logs the rest of its lines about that run (``telemetry.logs``).
"""

import logging
from collections.abc import AsyncGenerator
from typing import Any

from config import Settings
from documents.facts import DeliveryFacts, RunFacts, Ticket
from integrations.github_reviews import PullRequestEnded, ReviewEvent
from server.outcomes import (
    Accepted,
    AlreadyDecided,
    DecisionOutcome,
    DescriptionTooLong,
    NoReportYet,
    NoRevisionsLeft,
    NotAwaiting,
    NothingToShip,
    Refused,
    RunStarted,
)
from server.stream import follow_run
from store.events import EventBus
from store.outbox import Outbox
from store.queries import latest_run, list_runs, report_of, run_detail
from store.records import StoredEvent
from store.runs import ACTIVE_STATUSES, Store
from telemetry import logs
from workflow.engine import DecisionKind, Engine
from workflow.errors import RunNotFound

logger = logging.getLogger("nightshift.runs")

LATEST = "latest"
"""The run id that names the newest run."""


class RunService:
    def __init__(
        self, settings: Settings, engine: Engine, *, store: Store, bus: EventBus, outbox: Outbox
    ) -> None:
        self.settings, self.engine = settings, engine
        self.store, self.bus, self.outbox = store, bus, outbox

    async def start(self, ticket: Ticket, *, dedupe_key: str | None = None) -> RunStarted:
        """Record and queue a run for ``ticket`` (or find the one ``dedupe_key`` started before).
        DescriptionTooLong beyond server.max_description_chars, QueueFull beyond max_queued_runs."""
        limit = self.settings.server.max_description_chars
        if len(ticket.description) > limit:
            raise DescriptionTooLong(
                f"the description has {len(ticket.description)} characters; the limit is {limit} "
                f"(server.max_description_chars)"
            )
        facts, created = await self.engine.submit(
            ticket, dedupe_key=dedupe_key, max_queued=self.settings.server.max_queued_runs
        )
        logs.bind(run_id=facts.run_id, ticket=facts.ticket.key)  # the request's lines are about it
        if created:
            by = f" by {ticket.reporter}" if ticket.reporter else ""
            logger.info("run started from %s%s: %s", ticket.source, by, facts.ticket.title)
        return RunStarted(facts, created)

    async def review(self, event: ReviewEvent | PullRequestEnded) -> str:
        """A reviewer's words on a pull request, or its end; what became of them, in words."""
        if isinstance(event, PullRequestEnded):
            return await self.engine.pull_request_ended(event)
        return await self.engine.review(event)

    async def runs(self) -> list[dict[str, Any]]:
        """The latest 100 runs, newest first, as ``GET /runs`` lists them."""
        return await list_runs(self.store)

    async def active(self, *, limit: int) -> list[RunFacts]:
        """The runs not yet in a final status, newest first."""
        return await self.store.list_runs(limit=limit, statuses=list(ACTIVE_STATUSES))

    async def run(self, run_id: str) -> RunFacts:
        """The run's facts; ``latest`` names the newest run. RunNotFound when there is none."""
        run_id = await self._resolved(run_id)
        return self._found(run_id, await self.store.get(run_id) if run_id else None)

    async def with_deliveries(self, run_id: str) -> tuple[RunFacts, list[DeliveryFacts]]:
        """The run's facts and its deliveries, one snapshot of both (``Outbox.run_and_deliveries`` says
        why), as ``run`` finds the run."""
        run_id = await self._resolved(run_id)
        facts, deliveries = await self.outbox.run_and_deliveries(run_id) if run_id else (None, [])
        return self._found(run_id, facts), [delivery.facts() for delivery in deliveries]

    async def detail(self, run_id: str) -> dict[str, Any]:
        """Everything about the run, its deliveries included, as ``GET /runs/{id}`` shows it."""
        return run_detail(*await self.with_deliveries(run_id))

    async def _resolved(self, run_id: str) -> str:
        """``run_id``, or the newest run's for ``latest`` (empty when there is none)."""
        if run_id != LATEST:
            return run_id
        newest = await latest_run(self.store)
        return newest["id"] if newest else ""

    @staticmethod
    def _found(run_id: str, facts: RunFacts | None) -> RunFacts:
        if facts is None:
            raise RunNotFound(f"no run with id {run_id!r}")
        logs.bind(run_id=facts.run_id, ticket=facts.ticket.key)  # the request's lines are about it
        return facts

    async def decide(
        self,
        run_id: str,
        kind: DecisionKind,
        *,
        feedback: str | None = None,
        by: str | None = None,
        ship_revision: int | None = None,
    ) -> DecisionOutcome:
        """Send a decision to the run; ``ship_revision``: approve that earlier revision as it was briefed
        (NothingToShip when it has nothing to ship). RunNotFound, or DecisionRefused for changes without
        feedback."""
        facts = await self.run(run_id)
        outcome = await self.engine.decide(
            facts.run_id, kind, feedback=feedback, by=by, ship_revision=ship_revision
        )
        if outcome.result == "accepted":
            return Accepted(outcome.facts, kind)
        if outcome.result == "already":
            return AlreadyDecided(outcome.facts, outcome.reason)
        return _refusal(kind, outcome.facts, outcome.reason)

    async def events(self, run_id: str, *, after: int = 0) -> AsyncGenerator[StoredEvent, None]:
        """The run's events after number ``after``, then new ones until it is settled
        (``server.stream``). RunNotFound at once, before the first event is asked for."""
        facts = await self.run(run_id)
        return follow_run(self.bus, self.outbox, facts.run_id, status=facts.status, after=after)

    async def report(self, run_id: str) -> str:
        """The incident report, rendered from the run's facts in the database (any worker has them)."""
        facts = await self.run(run_id)
        text = report_of(facts)
        if text is None:
            raise NoReportYet(f"run {facts.run_id} has no report yet (it is {facts.status})")
        return text


def _refusal(kind: DecisionKind, facts: RunFacts, reason: str) -> Refused:
    """Why the engine refused: the run does not await a decision, or it does and this one cannot be
    taken (an approval with nothing to ship, or an earlier revision that cannot be shipped; changes with
    no revision left)."""
    if facts.status != "awaiting_decision":
        return NotAwaiting(facts, reason)
    if kind == "request_changes":
        return NoRevisionsLeft(facts, reason)
    return NothingToShip(facts, reason)
