"""Waiting in async tests for something that happens in the background."""

import asyncio
import time
from collections.abc import Callable


def wait_until(check: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    """Poll ``check`` from a synchronous test until it holds; AssertionError naming ``what`` at the
    deadline."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.1)


async def eventually(condition: Callable[[], bool], *, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met before the deadline"
        await asyncio.sleep(0.02)


class Ticks:
    """Counts how often the event loop gave a 10 ms ticker its turn while a block ran: a blocked loop
    counts (almost) nothing."""

    def __init__(self) -> None:
        self.count = 0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(0.01)
            self.count += 1

    async def __aenter__(self) -> "Ticks":
        self._task = asyncio.create_task(self._tick())
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()
