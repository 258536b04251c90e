"""Limits of one sandboxed command besides wall time: memory, processes, file size, output.

Two layers, because neither alone holds everywhere:

- resource limits set inside the sandbox (``prlimit``): each process's data size (a runaway allocation
  fails there with MemoryError or ENOMEM), file size, no core dumps, and the number of processes (the
  kernel does not apply that one when the bot runs as root, since the sandbox's user is root outside);
- a watchdog in the bot that counts the processes of each sandbox's PID namespace and their resident
  memory every ``TICK_S``, and ends the sandbox (kills its PID 1, which takes every process in the
  namespace with it) when either passes its limit. It works for root and non-root alike and needs no
  cgroup delegation.

Output is limited by ``safety.sandbox.process`` as it is read. Every stop is reported with its reason.
"""

import asyncio
import contextlib
import os
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path

from config import SafetySettings
from safety.sandbox.process import Limit, Stop

TICK_S = 0.1
PAGE = os.sysconf("SC_PAGE_SIZE")
MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    memory_bytes: int
    processes: int
    output_bytes: int
    file_bytes: int

    @classmethod
    def from_settings(cls, settings: SafetySettings) -> "Limits":
        return cls(
            memory_bytes=settings.memory_limit_mb * MB,
            processes=settings.process_limit,
            output_bytes=settings.output_limit_mb * MB,
            file_bytes=settings.file_size_limit_mb * MB,
        )

    def prlimit_args(self, prlimit: str) -> list[str]:
        """``prlimit`` with this command's per-process limits, to put in front of the command."""
        return [
            prlimit, f"--data={self.memory_bytes}", f"--fsize={self.file_bytes}", "--core=0",
            f"--nproc={self.processes}", "--",
        ]  # fmt: skip

    def explain(self, limit: str) -> str:
        """What a stop for ``limit`` means, for the model and the report."""
        if limit == "memory":
            return (
                f"stopped by the sandbox: its processes used more than {self.memory_bytes // MB} MB of "
                "memory together ([safety] memory_limit_mb)"
            )
        if limit == "processes":
            return (
                f"stopped by the sandbox: it ran more than {self.processes} processes at once "
                "([safety] process_limit)"
            )
        return (
            f"stopped by the sandbox: it printed more than {self.output_bytes // MB} MB "
            "([safety] output_limit_mb)"
        )


@dataclass(eq=False)
class _Watched:
    pid_namespace: int
    init_pid: int
    limits: Limits
    stop: Stop
    loop: asyncio.AbstractEventLoop
    processes: int = field(default=0)


class Watchdog:
    """Watches every running sandbox of this process; one scan of /proc per tick covers them all."""

    def __init__(self) -> None:
        self._watched: dict[int, _Watched] = {}
        self._lock = threading.Lock()
        self._task: asyncio.Task[None] | None = None

    def watch(self, pid_namespace: int, init_pid: int, limits: Limits, stop: Stop) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            self._watched[pid_namespace] = _Watched(pid_namespace, init_pid, limits, stop, loop)
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run())

    def unwatch(self, pid_namespace: int) -> None:
        with self._lock:
            self._watched.pop(pid_namespace, None)

    async def _run(self) -> None:
        while self._watched:
            await asyncio.to_thread(self.scan)
            await asyncio.sleep(TICK_S)

    def scan(self) -> None:
        """Count each watched namespace's processes and resident memory; end those over a limit."""
        with self._lock:
            watched = dict(self._watched)
        if not watched:
            return
        counts = dict.fromkeys(watched, 0)
        resident = dict.fromkeys(watched, 0)
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                namespace = os.stat(f"/proc/{entry.name}/ns/pid").st_ino
                if namespace not in watched:
                    continue
                counts[namespace] += 1
                resident[namespace] += int(Path(f"/proc/{entry.name}/statm").read_text().split()[1]) * PAGE
            except (OSError, ValueError, IndexError):
                continue  # the process ended while we looked
        for namespace, item in watched.items():
            if counts[namespace] > item.limits.processes:
                self._end(item, "processes")
            elif resident[namespace] > item.limits.memory_bytes:
                self._end(item, "memory")

    def _end(self, item: _Watched, reason: Limit) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(item.init_pid, signal.SIGKILL)
        item.loop.call_soon_threadsafe(item.stop, reason)
        self.unwatch(item.pid_namespace)
