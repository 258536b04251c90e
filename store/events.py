"""The event bus: every pipeline and agent event of a run, kept in the database and followed live.

``publish`` is synchronous and cheap (agent sinks call it for every streamed token): it buffers the
event, and a background task writes the buffer every ``flush_s``. An agent's text deltas are merged
while they wait, however the other agents' events interleave with them (until that agent, or the run's
pipeline, publishes something else), so four agents streaming at once store one row each per flush,
not one per token, and a replay shows the same text in fewer rows. The database numbers
each run's events 1, 2, 3... (``Store.append_events``), whichever worker wrote them.

``subscribe`` replays a run's stored events, then follows new ones, with no gap and no duplicate. What
it follows is the database, not this process's buffer, so a subscriber sees every worker's events the
same way: each run someone follows has a ``_Tail`` that reads the run's events past the last one it
handed out, whenever it learns of new ones. It learns of them from this process's flushes and, on
PostgreSQL, from other workers' ``NOTIFY`` (one ``LISTEN`` connection per process).
"""

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncGenerator
from typing import Any

import psycopg

from store.database import EVENTS_CHANNEL, libpq_url
from store.records import NewEvent, StoredEvent
from store.runs import Store

SUBSCRIBER_QUEUE = 10_000
"""Events a slow live subscriber may lag behind before it is dropped (it can reconnect and replay)."""
LISTEN_RETRY_S = 1.0

logger = logging.getLogger("nightshift.events")

Subscriber = asyncio.Queue[StoredEvent | None]


class _Tail:
    """The live end of one run's event stream, shared by everyone in this process who follows the run."""

    def __init__(self, store: Store, run_id: str, delivered: int) -> None:
        self.store, self.run_id = store, run_id
        self.delivered = delivered
        """The number of the last event handed to the subscribers."""
        self.subscribers: set[Subscriber] = set()
        self._dirty = False
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """New events may be stored: read them (once, however many wake-ups arrive meanwhile)."""
        self._dirty = True
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._pump())

    async def _pump(self) -> None:
        while self._dirty and self.subscribers:
            self._dirty = False
            try:
                fresh = await self.store.events_of(self.run_id, after=self.delivered)
            except Exception:
                logger.exception("reading the events of run %s failed; retrying", self.run_id)
                self._dirty = True
                await asyncio.sleep(LISTEN_RETRY_S)
                continue
            for event in fresh:
                self.delivered = event.id
                for queue in list(self.subscribers):
                    try:
                        queue.put_nowait(event)
                    except asyncio.QueueFull:  # too slow: end it; it can reconnect and replay
                        self.drop(queue)

    def drop(self, queue: Subscriber) -> None:
        self.subscribers.discard(queue)
        with contextlib.suppress(asyncio.QueueEmpty):
            queue.get_nowait()
        queue.put_nowait(None)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class EventBus:
    def __init__(self, store: Store, *, flush_s: float = 0.2) -> None:
        self._store = store
        self._writer = secrets.token_hex(4)
        """Names this process in its NOTIFY payloads, so it does not re-read what it has just written."""
        self._pending: list[NewEvent] = []
        self._growing: dict[tuple[str, str | None], int] = {}
        """Per run and agent, the index in ``_pending`` of its text delta that later deltas join."""
        self._tails: dict[str, _Tail] = {}
        self._flush_s = flush_s
        self._task: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()

    async def start(self) -> None:
        """Follow other workers' events (PostgreSQL only: with SQLite this process is the only writer)."""
        if self._store.shared and self._listener is None:
            self._listener = asyncio.get_running_loop().create_task(self._listen())

    def publish(
        self, run_id: str, kind: str, data: dict[str, Any] | None = None, *, agent: str | None = None
    ) -> None:
        event = NewEvent(run_id, time.time(), kind, agent, data or {})
        growing = self._growing.get((run_id, agent)) if kind == "text_delta" else None
        if growing is not None:
            last = self._pending[growing]
            merged = {**last.data, "text": last.data.get("text", "") + event.data.get("text", "")}
            self._pending[growing] = NewEvent(last.run_id, last.ts, last.kind, last.agent, merged)
        else:
            if agent is None:  # a pipeline event: no agent's text may move before it
                for key in [key for key in self._growing if key[0] == run_id]:
                    del self._growing[key]
            if kind == "text_delta":
                self._growing[(run_id, agent)] = len(self._pending)
            else:
                self._growing.pop((run_id, agent), None)
            self._pending.append(event)
        self._ensure_flusher()

    def _ensure_flusher(self) -> None:
        if self._task is None or self._task.done():
            with contextlib.suppress(RuntimeError):  # no running loop: the next flush() writes it
                self._task = asyncio.get_running_loop().create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(self._flush_s)
        await self.flush()

    async def flush(self) -> None:
        """Write every buffered event now, and hand them to this process's subscribers."""
        async with self._flush_lock:
            batch, self._pending = self._pending, []
            self._growing.clear()
            for run_id in await self._store.append_events(batch, writer=self._writer):
                self._wake(run_id)

    def _wake(self, run_id: str) -> None:
        tail = self._tails.get(run_id)
        if tail is not None:
            tail.wake()

    async def _listen(self) -> None:
        """``LISTEN`` for other workers' events; after a lost connection, re-read every followed run."""
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    libpq_url(self._store.url), autocommit=True
                ) as connection:
                    await connection.execute(f"LISTEN {EVENTS_CHANNEL}")
                    for tail in list(self._tails.values()):
                        tail.wake()
                    async for note in connection.notifies():
                        run_id, _, writer = note.payload.partition(" ")
                        if writer != self._writer:
                            self._wake(run_id)
            except psycopg.Error as exc:
                logger.warning("listening for other workers' events failed (%s); reconnecting", exc)
                await asyncio.sleep(LISTEN_RETRY_S)

    async def close(self) -> None:
        for task in (self._task, self._listener):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._listener = None
        for tail in list(self._tails.values()):
            await tail.close()
        await self.flush()

    async def _follow(self, run_id: str, queue: Subscriber) -> None:
        tail = self._tails.get(run_id)
        if tail is None:
            delivered = await self._store.last_event(run_id)
            tail = self._tails.setdefault(run_id, _Tail(self._store, run_id, delivered))
        tail.subscribers.add(queue)

    def _unfollow(self, run_id: str, queue: Subscriber) -> None:
        tail = self._tails.get(run_id)
        if tail is None:
            return
        tail.subscribers.discard(queue)
        if not tail.subscribers:
            del self._tails[run_id]

    async def subscribe(
        self, run_id: str, *, follow: bool = True, after: int = 0
    ) -> AsyncGenerator[StoredEvent, None]:
        """Past events of the run after number ``after``, then (with ``follow``) new ones until the
        consumer stops.

        The subscriber joins the run's tail before it reads the past, so an event stored in between is
        either in the past it reads or handed to it afterwards; events are told apart by number.
        """
        queue: Subscriber = asyncio.Queue(SUBSCRIBER_QUEUE)
        if follow:
            await self._follow(run_id, queue)
        try:
            await self.flush()
            last = after
            for event in await self._store.events_of(run_id, after=after):
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
            self._unfollow(run_id, queue)
