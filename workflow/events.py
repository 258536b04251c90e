"""The event bus: every pipeline and agent event of a run, fanned out live and kept in the database.

``publish`` is synchronous and cheap (agent sinks call it for every streamed token): it hands the
event to live subscribers and buffers it; a background task writes the buffer every ``flush_s``.
Consecutive text deltas of one agent are merged before they are stored, so a replay shows the same
text in fewer rows. ``subscribe`` replays the stored events first, then follows live ones, with no
gap and no duplicate (events carry increasing ids).
"""

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

from workflow.store import Store, StoredEvent

SUBSCRIBER_QUEUE = 10_000
"""Events a slow live subscriber may lag behind before it is dropped (it can reconnect and replay)."""


class EventBus:
    def __init__(self, store: Store, *, flush_s: float = 0.2) -> None:
        self._store = store
        self._ids = itertools.count(store.last_event_id() + 1)
        self._pending: list[StoredEvent] = []
        self._subscribers: dict[str, set[asyncio.Queue[StoredEvent | None]]] = {}
        self._flush_s = flush_s
        self._task: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()

    def publish(
        self, run_id: str, kind: str, data: dict[str, Any] | None = None, *, agent: str | None = None
    ) -> None:
        event = StoredEvent(next(self._ids), run_id, time.time(), kind, agent, data or {})
        self._buffer(event)
        for queue in list(self._subscribers.get(run_id, ())):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:  # too slow: end it; it can reconnect and replay
                self._drop(run_id, queue)
        self._ensure_flusher()

    def _buffer(self, event: StoredEvent) -> None:
        last = self._pending[-1] if self._pending else None
        if (
            last is not None
            and event.kind == last.kind == "text_delta"
            and event.run_id == last.run_id
            and event.agent == last.agent
        ):
            merged = {**last.data, "text": last.data.get("text", "") + event.data.get("text", "")}
            self._pending[-1] = StoredEvent(event.id, last.run_id, last.ts, last.kind, last.agent, merged)
        else:
            self._pending.append(event)

    def _drop(self, run_id: str, queue: asyncio.Queue[StoredEvent | None]) -> None:
        self._subscribers.get(run_id, set()).discard(queue)
        with contextlib.suppress(asyncio.QueueEmpty):
            queue.get_nowait()
        queue.put_nowait(None)

    def _ensure_flusher(self) -> None:
        if self._task is None or self._task.done():
            with contextlib.suppress(RuntimeError):  # no running loop: the next flush() writes it
                self._task = asyncio.get_running_loop().create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(self._flush_s)
        await self.flush()

    async def flush(self) -> None:
        """Write every buffered event now."""
        async with self._flush_lock:
            batch, self._pending = self._pending, []
            await self._store.append_events(batch)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()

    async def subscribe(self, run_id: str, *, follow: bool = True) -> AsyncIterator[StoredEvent]:
        """Past events of the run, then (with ``follow``) live ones until the consumer stops."""
        queue: asyncio.Queue[StoredEvent | None] = asyncio.Queue(SUBSCRIBER_QUEUE)
        if follow:
            self._subscribers.setdefault(run_id, set()).add(queue)
        try:
            await self.flush()
            last = 0
            for event in await self._store.events_of(run_id):
                last = event.id
                yield event
            while follow:
                live = await queue.get()
                if live is None:
                    return
                if live.id > last:
                    last = live.id
                    yield live
        finally:
            self._subscribers.get(run_id, set()).discard(queue)
