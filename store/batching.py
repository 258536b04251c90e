"""Group commit: requests that arrive while a write is in progress are written together by the next one.

A burst of 100 slash commands would otherwise be 100 transactions from several threads, and SQLite's
writers wait for one another with sleeps of up to 100 ms each. Here one writer at a time takes every
request that is waiting and hands them to ``write`` as one batch (one transaction). A lone request is
written at once: nothing waits for a batch to fill up.
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeAlias, TypeVar

Request = TypeVar("Request")
Result = TypeVar("Result")

Outcome: TypeAlias = Result | Exception
"""What ``write`` gives for one request: its result, or the exception to raise to its caller alone."""


class GroupCommit(Generic[Request, Result]):
    """Hands each request to ``write`` together with the others waiting at the time; one write at a time.

    ``write`` returns one outcome per request, in order. When it raises, every request of that batch gets
    the exception: the batch was one transaction, so none of it was written.
    """

    def __init__(self, write: Callable[[list[Request]], Awaitable[list[Outcome[Result]]]]) -> None:
        self._write = write
        self._waiting: list[tuple[Request, asyncio.Future[Result]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, request: Request) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((request, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                outcomes = await self._write([request for request, _ in batch])
            except Exception as exc:
                outcomes = [exc] * len(batch)
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():  # its caller gave up waiting; the write stands
                    continue
                if isinstance(outcome, Exception):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)
