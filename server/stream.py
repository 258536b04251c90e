"""A run's event stream as a follower sees it (``GET /runs/{id}/events``): the events so far (or those
after the one a reconnecting follower names), then new ones until the run is settled — in a final
status with none of its deliveries pending — and then the end, so that a follower (curl, a CI job) is
not left hanging once the run is over. This is stricter than ``Deliverer.settled`` (what a terminal
waits for), which counts a delivery still failing as done.

Whether the run is settled is read from the database, which can be ahead of the events: a worker keeps
its events for up to its flush interval before it stores them (``EventBus``), so ``pr_opened`` may
still be on its way when the pull request's delivery is already marked done. After the run is settled
the stream therefore waits until no event has come for ``QUIET_S`` before it ends.
"""

import asyncio
import contextlib
from collections.abc import AsyncGenerator

from store.events import EventBus
from store.outbox import Outbox
from store.records import StoredEvent
from store.runs import FINAL_STATUSES

QUIET_S = 1.0
"""Several flush intervals (0.2 s) and a NOTIFY's way between workers."""


async def follow_run(
    bus: EventBus, outbox: Outbox, run_id: str, *, status: str, after: int = 0
) -> AsyncGenerator[StoredEvent, None]:
    """The run's events after number ``after`` (a follower resuming with ``Last-Event-ID``), ending once
    the run is settled (at once, after its history, when it already is). ``status`` is the run's status
    read before: a final one is final for good, even when its event came before ``after``."""

    async def nothing_pending() -> bool:
        return all(delivery.state != "pending" for delivery in await outbox.of_run(run_id))

    final = status in FINAL_STATUSES
    events = bus.subscribe(run_id, follow=not (final and await nothing_pending()), after=after)
    async with contextlib.aclosing(events):  # stop following at once, not when garbage-collected
        async for event in events:
            yield event
            final = final or (event.kind == "status" and event.data.get("status") in FINAL_STATUSES)
            if final and event.kind in ("status", "delivery") and await nothing_pending():
                break
        else:
            return
        while True:  # settled: the events still on their way
            try:
                async with asyncio.timeout(QUIET_S):
                    event = await anext(events)
            except (TimeoutError, StopAsyncIteration):
                return
            yield event
