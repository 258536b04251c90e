"""How a verification's phases are scheduled, and the worktrees they run in.

``Plan`` holds the phases by name. With ``parallel`` each starts as soon as it is added, so the phases
that do not wait for each other run at once (the base suite, the new tests on the base commit, and the
fix's runs in a worktree of their own); without, each starts when its result is first asked for, one
after another, in the order the verdict needs them. Either way, a verdict reached early cancels what
is still running (``close``), and nothing outlives the verification.
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from documents.facts import Verdict
from gitrepo import GitRepo


@dataclass(frozen=True)
class Decision:
    """A verdict reached before the suites are compared (a diff that does not apply), and its detail."""

    verdict: Verdict
    detail: str


class Plan:
    def __init__(self, parallel: bool) -> None:
        self.parallel = parallel
        self._factories: dict[str, Callable[[], Awaitable[Any]]] = {}
        self._tasks: dict[str, asyncio.Task[Any]] = {}

    def add(self, name: str, factory: Callable[[], Awaitable[Any]]) -> None:
        self._factories[name] = factory
        if self.parallel:
            self._start(name)

    async def get(self, name: str) -> Any:
        """The phase's result, starting it now if it has not started."""
        task = self._tasks.get(name) or self._start(name)
        return await task

    def _start(self, name: str) -> "asyncio.Task[Any]":
        async def run() -> Any:
            return await self._factories[name]()

        task = asyncio.ensure_future(run())
        self._tasks[name] = task
        return task

    async def close(self) -> None:
        """Cancel what still runs and wait until it has stopped (its test processes killed). A phase that
        failed unread (started at once, its result never needed) fails nothing."""
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)


class Worktrees:
    """Fresh worktrees on one base commit. One whose phases are done is removed at once, in the
    background (``release``), while the longer phases still run; ``close`` removes the rest and waits."""

    def __init__(self, repo: GitRepo, base: str) -> None:
        self.repo = repo
        self.base = base
        self._made: list[Path] = []
        self._removals: list[asyncio.Task[None]] = []

    async def make(self, path: Path) -> Path:
        """A fresh worktree at ``path`` (a leftover one is removed first)."""
        self._made.append(path)
        await self.repo.remove_worktree(path)
        return await self.repo.add_worktree(path, self.base)

    def release(self, path: Path) -> None:
        """Start removing the worktree at ``path``: nothing runs in it any more."""
        if path in self._made:
            self._made.remove(path)
            self._removals.append(asyncio.ensure_future(self.repo.remove_worktree(path)))

    async def close(self) -> None:
        """Remove every worktree made, even when the caller is being cancelled."""
        for path in list(self._made):
            self.release(path)
        removal = asyncio.gather(*self._removals)
        try:
            await asyncio.shield(removal)
        except asyncio.CancelledError:
            await removal  # cancelled during clean-up: finish removing before giving up
            raise
