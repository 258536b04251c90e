"""Starts the workflows of recorded runs in the background: one at a time, once submissions pause.

A burst of slash commands must each be acknowledged fast, and an acknowledgement needs only the run
recorded: a crash after that loses nothing, because the next engine starts every recorded run whose
workflow never began. Starting a workflow costs more (a DBOS transaction, then the ingest step's git
subprocesses), and a new run waits in the queue anyway, so the starts wait until the burst is over. A
steady stream of submissions with no pause still sees each run started within ``max_defer_s``.
"""

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

logger = logging.getLogger("nightshift.engine")


class WorkflowStarter:
    def __init__(
        self, start: Callable[[str], Awaitable[None]], *, quiet_s: float = 0.05, max_defer_s: float = 1.0
    ) -> None:
        self._start = start
        self._quiet_s = quiet_s
        self._max_defer_s = max_defer_s
        self._waiting: deque[tuple[str, float]] = deque()
        """Run ids to start, oldest first, with the loop time at which each was added."""
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def add(self, run_id: str) -> None:
        """Start ``run_id``'s workflow soon (starting one that already began is a no-op for DBOS)."""
        if self._closing:
            return  # the next engine starts it
        loop = asyncio.get_running_loop()
        self._waiting.append((run_id, loop.time()))
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._start_waiting())

    async def _start_waiting(self) -> None:
        loop = asyncio.get_running_loop()
        while self._waiting and not self._closing:
            now = loop.time()
            quiet_for = now - self._waiting[-1][1]  # since the newest addition
            overdue_in = self._waiting[0][1] + self._max_defer_s - now
            if quiet_for < self._quiet_s and overdue_in > 0:
                await asyncio.sleep(min(self._quiet_s - quiet_for, overdue_in))
                continue
            run_id, _ = self._waiting.popleft()
            try:
                await self._start(run_id)
            except Exception:
                logger.exception("run %s: its workflow did not start; it starts with the next engine", run_id)

    async def close(self, *, timeout_s: float = 10) -> None:
        """Finish the start in progress; the runs still waiting start with the next engine."""
        self._closing = True
        if self._task is not None and not self._task.done():
            await asyncio.wait([self._task], timeout=timeout_s)
