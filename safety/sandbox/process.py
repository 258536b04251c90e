"""Running one command in its own process group, without blocking the event loop.

The command is the leader of a new session (``start_new_session=True``), so everything it starts
shares its process group. When the command ends, times out, prints more than its output limit or the
caller is cancelled, the whole group is killed: nothing outlives the call that started it. (In the
sandbox the leader is bwrap, and killing it ends the sandbox's PID namespace and everything in it.)
"""

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

MAX_CAPTURE_BYTES = 1_000_000
"""Output kept per run (the tail); a chatty command cannot fill memory."""
READER_GRACE_S = 2.0
"""How long to wait for the output pipe to close once the process group is dead."""

Limit = Literal["memory", "processes", "output"]


@dataclass(frozen=True)
class ProcessRun:
    exit_code: int
    """The command's exit status; negative (minus the signal number) when it was killed."""
    output: str
    """Standard output and standard error, interleaved, decoded as UTF-8 (the tail, see MAX_CAPTURE_BYTES)."""
    timed_out: bool
    duration_s: float
    limit: Limit | None = None
    """The sandbox limit the command ran into and was stopped for, if any."""


class Stop:
    """Lets someone other than the process (the sandbox's watchdog) stop it and say why."""

    def __init__(self) -> None:
        self.reason: Limit | None = None
        self._event = asyncio.Event()

    def __call__(self, reason: Limit) -> None:
        if self.reason is None:
            self.reason = reason
        self._event.set()

    async def wait(self) -> None:
        await self._event.wait()


async def run_in_group(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout_s: float,
    max_output_bytes: int | None = None,
    pass_fds: Collection[int] = (),
    started: Callable[[asyncio.subprocess.Process, Stop], None] | None = None,
) -> ProcessRun:
    """Run ``argv`` in ``cwd`` with exactly ``env``; kill its process group after ``timeout_s``, or once
    it printed more than ``max_output_bytes``, or when ``started``'s ``Stop`` is called.

    ``pass_fds`` stay open in the child; ``started`` is called once the process runs.
    Raises OSError when the program cannot be started.
    """
    started_at = time.monotonic()
    process = await _spawn(argv, cwd=cwd, env=env, pass_fds=pass_fds)
    assert process.stdout is not None
    stop = Stop()
    if started is not None:
        started(process, stop)
    captured = _Tail(max_output_bytes, stop)
    reader = asyncio.create_task(captured.drain(process.stdout))
    ended = asyncio.create_task(process.wait())
    stopped = asyncio.create_task(stop.wait())
    timed_out = False
    try:
        done, _ = await asyncio.wait({ended, stopped}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        timed_out = not done
    finally:
        kill_group(process.pid)
        stopped.cancel()
        exit_code = await ended
        await asyncio.wait({reader}, timeout=READER_GRACE_S)
        reader.cancel()
    return ProcessRun(
        exit_code=exit_code,
        output=captured.text(),
        timed_out=timed_out and stop.reason is None,
        duration_s=time.monotonic() - started_at,
        limit=stop.reason,
    )


async def _spawn(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], pass_fds: Collection[int]
) -> asyncio.subprocess.Process:
    """Start the process group leader.

    The child runs before ``create_subprocess_exec`` has finished wiring up its pipes. If the caller
    is cancelled in that window, asyncio kills only the leader; so the start is shielded, and on
    cancellation the group is killed once the start has completed.
    """
    spawn = asyncio.ensure_future(
        asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            env=dict(env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            pass_fds=tuple(pass_fds),
        )
    )
    try:
        return await asyncio.shield(spawn)
    except asyncio.CancelledError:
        with contextlib.suppress(OSError):
            process = await spawn
            kill_group(process.pid)
            await process.wait()
        raise


def kill_group(pgid: int) -> None:
    """SIGKILL every process left in the group (the group of a finished run may already be empty)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class _Tail:
    """The last MAX_CAPTURE_BYTES of a stream, remembering how much was dropped; past ``limit`` bytes in
    all it calls ``stop("output")``."""

    def __init__(self, limit: int | None, stop: Stop) -> None:
        self._buffer = bytearray()
        self._dropped = 0
        self._limit = limit
        self._stop = stop

    async def drain(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(65536):
            self._buffer.extend(chunk)
            excess = len(self._buffer) - MAX_CAPTURE_BYTES
            if excess > 0:
                del self._buffer[:excess]
                self._dropped += excess
            if self._limit is not None and self._dropped + len(self._buffer) > self._limit:
                self._stop("output")

    def text(self) -> str:
        text = self._buffer.decode("utf-8", errors="replace")
        return f"[... {self._dropped} earlier bytes of output dropped ...]\n{text}" if self._dropped else text
