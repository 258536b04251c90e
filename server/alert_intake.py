"""An alert's way in (Sentry, PagerDuty): one run per open subject, later alerts on its timeline.

A subject is what the alert is about: the Sentry issue, the PagerDuty incident. The first alert about a
subject starts a run; while that run is open, another alert about the same subject (a new event of the
issue) starts nothing and is added to the run's timeline; once the run is over, the next alert starts a
new one. A redelivery of an alert (the sender's delivery id seen before) changes nothing at all.

Both hold across workers and concurrent deliveries, because they rest on the database: the run is
started with a dedupe key made of the subject (``store.runs``: one run per key), and when the run that
key names is over, the next key in the chain names the run after it (``<subject>:after:<run id>``), so
deliveries racing for a new subject land on the same key. A delivery id is remembered for a day
(``Store.first_sighting``), whatever its outcome: only the timeline note depends on it, and a retry of a
delivery that failed before its run was recorded still starts the run through the subject's key.
"""

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from documents.facts import RunFacts, Ticket, TimelineEntry
from server.service import RunService
from store.runs import FINAL_STATUSES

DELIVERY_MEMORY_S = 24 * 3600
"""How long a delivery id is remembered: PagerDuty retries for about 20 minutes, Sentry less."""


@dataclass(frozen=True, slots=True)
class AlertTaken:
    """The run the alert belongs to; ``created`` when it started it, ``noted`` when it went on the
    timeline of the run already open for its subject."""

    facts: RunFacts
    created: bool
    noted: bool = False


class AlertIntake:
    def __init__(self, service: RunService) -> None:
        self.service = service

    async def take(self, ticket: Ticket, *, subject: str, delivery: str | None, note: str) -> AlertTaken:
        """Start the run for ``subject`` or find the open one; ``note`` goes on the found run's timeline
        unless ``delivery`` (the sender's delivery id) was seen before. QueueFull when a run would start
        and the queue is full."""
        fresh = delivery is None or await self.service.store.first_sighting(
            delivery, now_s=time.time(), keep_s=DELIVERY_MEMORY_S
        )
        key = subject
        while True:
            started = await self.service.start(ticket, dedupe_key=key)
            if started.created:
                return AlertTaken(started.facts, created=True)
            if started.facts.status not in FINAL_STATUSES:
                break
            key = f"{subject}:after:{started.facts.run_id}"
        facts = started.facts
        if fresh:
            entry = TimelineEntry(at=datetime.now(UTC), text=note)
            facts = await self.service.store.update(facts.run_id, lambda f: f.timeline.append(entry))
            self.service.bus.publish(facts.run_id, "alert", {"source": ticket.source, "note": note})
        return AlertTaken(facts, created=False, noted=fresh)
