"""Deliveries: effects on Slack, GitHub and Jira that are recorded, retried, and never hold a run.

The workflow records what should happen (``record``, ``arm_briefing``) in the outbox and moves on; the
``Deliverer`` of every worker tries the due deliveries in the background, each attempt through the one
outbound door (``deliveries.door``) and bounded by ``[workflow] delivery_attempt_timeout_s``:

- a success is recorded with what it made: the briefing's message reference and the pull request's URL
  go into the run's facts, and an opened pull request records its follow-ups (the ticket to In Review,
  the ticket comment, a note on the PagerDuty incident that started the run, the briefing redrawn with
  the link); a push records the deliveries it carries as ``then`` (a review round's replies, which name
  its commit), and, abandoned, those it carries as ``otherwise`` (the replies saying it did not land);
- a failure worth retrying (no answer, a timeout, 429, 5xx) is tried again after the wait of the one
  retry policy (``retries.Backoff``): doubling from ``delivery_backoff_s`` up to
  ``delivery_backoff_max_s``, with jitter, or what the service's ``Retry-After`` asks for, until
  ``delivery_timeout_s`` has passed since the delivery became due; then it is abandoned and the run's
  timeline says why. The next attempt's time is stored in the outbox, so any worker makes it. A
  refusal (a bad token, a missing channel) is abandoned at once: the same request cannot succeed
  without a change.

Every attempt and its outcome is an event of the run; the run's pages and ``/health`` read the outbox.
"""

import asyncio
import contextlib
import functools
import logging
import os
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from config import WorkflowSettings
from deliveries.door import Delivered, DeliveryExecutor
from documents.briefing import build_briefing
from documents.facts import DeliveryKind, RunFacts, TimelineEntry
from documents.phrases import delivery_line, format_duration
from hooks import HookRunner
from integrations.base import IntegrationError
from retries import Backoff
from safety.errors import SecretFound
from store.events import EventBus
from store.outbox import Delivery, NewDelivery, Outbox
from store.reports import write_report
from store.runs import Store
from telemetry import logs

logger = logging.getLogger("nightshift.deliveries")

POLL_S = 1.0
"""How often a worker looks for deliveries another worker recorded or left due."""
BATCH = 8
"""Deliveries claimed at once; each attempt runs as a task of its own."""


async def woken(wake: asyncio.Event, *, within_s: float) -> None:
    """Wait until ``wake`` is set or ``within_s`` has passed. A cancellation always ends the wait, even one
    that arrives with the wake-up: Python 3.11's ``asyncio.wait_for`` returns then instead, and the
    deliverer's loop went on after ``stop`` had cancelled it, holding the worker's shutdown forever."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(within_s):
            await wake.wait()


def settled(deliveries: list[Delivery]) -> bool:
    """Each delivery is delivered, abandoned, or has failed at least once (its outcome is not in doubt)."""
    return all(d.state != "pending" or d.failing_since is not None for d in deliveries)


def lease_s(settings: WorkflowSettings) -> float:
    """How long a claimed delivery stays with its worker: an attempt and its recording, with room."""
    return 2 * settings.delivery_attempt_timeout_s + 10


def backoff(settings: WorkflowSettings) -> Backoff:
    """The waits between a delivery's attempts. A Retry-After is obeyed however long: nothing waits on a
    delivery, and ``delivery_timeout_s`` bounds it."""
    return Backoff(first_s=settings.delivery_backoff_s, max_s=settings.delivery_backoff_max_s)


class Deliverer:
    """Records deliveries and tries them; one per engine, started and stopped with it."""

    def __init__(
        self,
        *,
        outbox: Outbox,
        executor: DeliveryExecutor,
        store: Store,
        bus: EventBus,
        hooks: HookRunner,
        settings: WorkflowSettings,
        data_dir: Path,
    ) -> None:
        self.outbox, self.executor = outbox, executor
        self._store, self._bus, self._hooks, self._settings = store, bus, hooks, settings
        self._data_dir = data_dir
        self._backoff = backoff(settings)
        self.owner = ""
        """Who holds this process's leases (``<worker>/<process>``), from ``start``."""
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._attempts: dict[int, asyncio.Task[None]] = {}

    # -- what the workflow records ------------------------------------------------------------------

    async def record(
        self,
        run_id: str,
        kind: DeliveryKind,
        key: str,
        payload: Mapping[str, Any],
        *,
        change: Callable[[RunFacts], None] | None = None,
    ) -> None:
        """Record a delivery (once per ``key``) and have it tried at once. With ``change`` (the run's
        new status), the facts change in the same transaction as the delivery is recorded."""
        await self.outbox.record(run_id, kind, key, self.executor.service_of(kind), payload, change=change)
        self._wake.set()

    async def arm_briefing(self, run_id: str, *, change: Callable[[RunFacts], None] | None = None) -> None:
        """Show the run's briefing as it is now: posted the first time, then updated in place. With
        ``change`` (the run's new status), the facts change in the same transaction as the briefing is
        armed: a reader sees both or neither."""
        await self.outbox.arm_briefing(run_id, self.executor.service_of("briefing"), change=change)
        self._wake.set()

    async def change_run(
        self, run_id: str, change: Callable[[RunFacts], list[NewDelivery]], *, brief: bool = True
    ) -> RunFacts:
        """Change the run's facts and record the deliveries ``change`` returns, with the briefing armed
        (``brief``), in one transaction (``Outbox.change_run``); they are tried at once."""
        facts = await self.outbox.change_run(run_id, change, self.executor.service_of, brief=brief)
        self._wake.set()
        return facts

    async def settled(self, run_id: str) -> bool:
        """Whether each of the run's deliveries is done, abandoned, or known to be failing (tried once at
        least): what a terminal waits for before it shows the outcome."""
        return settled(await self.outbox.of_run(run_id))

    # -- running ------------------------------------------------------------------------------------

    async def start(self, *, worker: str) -> None:
        """Take back the leases of ``worker``'s earlier life (they died with it), then start trying.

        ``worker`` names this worker among those sharing the database (its DBOS executor id).
        """
        self.owner = f"{worker}/{os.getpid()}-{secrets.token_hex(3)}"
        await self.outbox.release(f"{worker}/", prefix=True)
        self._loop_task = asyncio.get_running_loop().create_task(self._run(), name="nightshift deliveries")

    async def stop(self) -> None:
        """Stop trying; the attempts in flight are cancelled and their deliveries left due for the next
        worker (or the next start)."""
        tasks = [t for t in (self._loop_task, *self._attempts.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._loop_task = None
        await self.outbox.release(self.owner)

    async def _run(self) -> None:
        while True:
            try:
                await self._claim_due()
                next_due = await self.outbox.next_due()
            except Exception:  # a database hiccup: log it, keep the loop alive
                logger.exception("looking for due deliveries failed; trying again in %gs", POLL_S)
                next_due = None
            wait = POLL_S if next_due is None else min(POLL_S, max(0.05, next_due - time.time()))
            self._wake.clear()
            await woken(self._wake, within_s=wait)

    async def _claim_due(self) -> None:
        claimed = await self.outbox.claim(
            self.owner, lease_s=lease_s(self._settings), limit=BATCH, skip=set(self._attempts)
        )
        for delivery in claimed:
            task = asyncio.get_running_loop().create_task(self._guarded(delivery))
            self._attempts[delivery.id] = task
            task.add_done_callback(functools.partial(self._finished, delivery.id))

    def _finished(self, delivery_id: int, _task: "asyncio.Task[None]") -> None:
        self._attempts.pop(delivery_id, None)
        self._wake.set()  # the run's next delivery (or a briefing armed meanwhile) may be due now

    async def _guarded(self, delivery: Delivery) -> None:
        """An attempt whose bookkeeping failed too (the database is away) is logged; its lease runs
        out and it is tried again, by this worker or another."""
        try:
            with logs.about(run_id=delivery.run_id, delivery=delivery.key):
                await self._attempt(delivery)
        except Exception:
            logger.exception(
                "delivery %s of run %s: recording the attempt failed", delivery.key, delivery.run_id
            )

    async def _attempt(self, delivery: Delivery) -> None:
        facts = await self._store.get(delivery.run_id)
        if facts is None:
            await self.outbox.failed(
                delivery, self.owner, error="the run is gone", status=None, retry_at=None
            )
            return
        logs.bind(ticket=facts.ticket.key)
        timeout = self._settings.delivery_attempt_timeout_s
        try:
            async with asyncio.timeout(timeout):
                outcome = await self.executor.deliver(delivery, facts)
        except TimeoutError:
            error = IntegrationError(
                f"{delivery.service} did not answer within {timeout:g}s",
                service=delivery.service,
                retryable=True,
            )
        except IntegrationError as exc:
            error = exc
        except SecretFound as exc:  # the same payload would be stopped again: abandoned, said on the run
            await self._withhold(delivery.run_id, str(exc))
            error = IntegrationError(str(exc), service=delivery.service, retryable=False)
        except Exception as exc:  # a bug or a surprise: retried like an outage, and logged whole
            logger.exception("delivery %s of run %s failed unexpectedly", delivery.key, delivery.run_id)
            error = IntegrationError(f"{type(exc).__name__}: {exc}", service=delivery.service, retryable=True)
        else:
            await self._succeeded(delivery, facts, outcome)  # repeatable, should it fail half-way
            return
        await self._failed(delivery, error)

    # -- outcomes -----------------------------------------------------------------------------------

    async def _succeeded(self, delivery: Delivery, facts: RunFacts, outcome: Delivered) -> None:
        """Write what the delivery made into the run, record its follow-ups, then mark it delivered
        (in that order: a crash in between leaves it due, and every step here can be repeated)."""
        if delivery.kind == "briefing":
            await self._briefing_shown(facts, outcome.result)
        elif delivery.kind == "pull_request" and outcome.pull_request is not None:
            await self._pull_request_opened(facts, outcome)
        await self._follow_ups(delivery, "then")
        if delivery.attempts > 1 and delivery.failing_since is not None:
            await self._note(
                facts.run_id,
                f"{delivery.service} {delivery.what} delivered after {delivery.attempts} attempts",
            )
        if not await self.outbox.delivered(delivery, self.owner, outcome.result):
            logger.warning("delivery %s: its lease was lost during the attempt", delivery.key)
            return
        logger.info("run %s: %s %s delivered", delivery.run_id, delivery.service, delivery.what)
        await self._publish(delivery)

    async def _briefing_shown(self, facts: RunFacts, ref: str | None) -> None:
        if ref is not None and ref != facts.message_ref:
            await self._store.update(facts.run_id, lambda f: setattr(f, "message_ref", ref))
        if facts.status == "awaiting_decision":
            briefing = build_briefing(facts)
            await self._hooks.fire(
                "briefing_posted",
                {"run_id": facts.run_id, "revision": facts.revision, "verdict": briefing.verdict},
            )

    async def _pull_request_opened(self, facts: RunFacts, outcome: Delivered) -> None:
        pull = outcome.pull_request
        assert pull is not None
        if facts.pr_url != pull.url:

            def change(current: RunFacts) -> None:
                current.pr_url, current.pr_number = pull.url, pull.number
                current.timeline.append(TimelineEntry(at=datetime.now(UTC), text=f"pull request {pull.url}"))

            facts = await self._store.update(facts.run_id, change)
            await asyncio.to_thread(write_report, self._data_dir, facts)  # with the link, at last
            self._bus.publish(
                facts.run_id, "pr_opened", {"url": pull.url, "number": pull.number, "created": pull.created}
            )
            if pull.created:
                await self._hooks.fire("pr_opened", {"run_id": facts.run_id, "url": pull.url})
        run_id = facts.run_id
        await self.record(run_id, "transition", f"{run_id}:transition:In Review", {"status": "In Review"})
        links = {"Nightshift run": facts.web_url} if facts.web_url else {}
        await self.record(
            run_id,
            "comment",
            f"{run_id}:comment:pull_request",
            {"text": f"Nightshift opened {pull.url}", "links": {**links, "Pull request": pull.url}},
        )
        if facts.ticket.source == "pagerduty":
            run_page = f" (run: {facts.web_url})" if facts.web_url else ""
            note = {"text": f"Nightshift opened a pull request for this incident: {pull.url}{run_page}"}
            await self.record(run_id, "incident_note", f"{run_id}:incident_note:pull_request", note)
        await self.arm_briefing(run_id)

    async def _failed(self, delivery: Delivery, error: IntegrationError) -> None:
        now = time.time()
        deadline = delivery.due_since + self._settings.delivery_timeout_s
        failures = 1 if delivery.failing_since is None else delivery.attempts  # a briefing's count goes on
        if not error.retryable:
            retry_at, why = None, f"refused: {error}"
        elif now >= deadline:
            window = format_duration(self._settings.delivery_timeout_s)
            retry_at, why = None, f"not delivered within {window}; last error: {error}"
        else:
            retry_at = min(deadline, now + self._backoff.wait_s(failures - 1, error.retry_after_s))
            why = str(error)
        what = f"{delivery.service} {delivery.what}"
        if retry_at is None:  # the run says why before the row does: a stop in between loses nothing
            logger.warning("run %s: %s abandoned: %s", delivery.run_id, what, why)
            await self._note(delivery.run_id, f"{what} abandoned: {why}")
            await self._follow_ups(delivery, "otherwise")
        else:
            logger.info("run %s: %s failed (attempt %d): %s", delivery.run_id, what, delivery.attempts, why)
        recorded = await self.outbox.failed(
            delivery,
            self.owner,
            error=why if retry_at is None else str(error),
            status=error.status,
            retry_at=retry_at,
        )
        if recorded:
            await self._publish(delivery)

    async def _follow_ups(self, delivery: Delivery, which: str) -> None:
        """Record the deliveries ``delivery`` carries under ``which`` (``then``: once it landed;
        ``otherwise``: once it was abandoned). Each once by its key, so a repeat records nothing."""
        for follow_up in delivery.payload.get(which) or []:
            await self.record(delivery.run_id, follow_up["kind"], follow_up["key"], follow_up["payload"])

    async def _withhold(self, run_id: str, reason: str) -> None:
        logger.error("run %s: %s", run_id, reason)

        def change(facts: RunFacts) -> None:
            if reason not in facts.withheld:
                facts.withheld.append(reason)

        await self._store.update(run_id, change)
        self._bus.publish(run_id, "withheld", {"reason": reason})

    async def _publish(self, delivery: Delivery) -> None:
        """A ``delivery`` event of the run: the delivery as it stands now, with its line for the pages."""
        now = await self.outbox.get(delivery.id)
        if now is None:
            return
        facts = now.facts()
        self._bus.publish(
            now.run_id,
            "delivery",
            {
                "key": facts.key,
                "service": now.service,
                "what": now.what,
                "state": now.state,
                "attempts": now.attempts,
                "error": now.last_error if now.failing_since is not None else None,
                "status": now.last_status if now.failing_since is not None else None,
                "result": now.result,
                "summary": delivery_line(facts, now=datetime.now(UTC)),
            },
        )

    async def _note(self, run_id: str, text: str) -> None:
        entry = TimelineEntry(at=datetime.now(UTC), text=text)
        await self._store.update(run_id, lambda facts: facts.timeline.append(entry))
