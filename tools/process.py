"""Running a command in its own process group, without blocking the event loop.

The command is the leader of a new session (``start_new_session=True``), so everything it starts
shares its process group. When the command ends, times out or the caller is cancelled, the whole
group is killed: no test runner or shell pipeline outlives the tool call that started it.
"""

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

MAX_CAPTURE_BYTES = 1_000_000
"""Output kept per run (the tail); a chatty command cannot fill memory."""
READER_GRACE_S = 2.0
"""How long to wait for the output pipe to close once the process group is dead."""


@dataclass(frozen=True)
class ProcessRun:
    exit_code: int
    """The command's exit status; negative (minus the signal number) when it was killed."""
    output: str
    """Standard output and standard error, interleaved, decoded as UTF-8 (the tail, see MAX_CAPTURE_BYTES)."""
    timed_out: bool
    duration_s: float


async def run_in_group(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout_s: float
) -> ProcessRun:
    """Run ``argv`` in ``cwd`` with exactly ``env``; kill its process group after ``timeout_s``.

    Raises OSError when the program cannot be started.
    """
    started = time.monotonic()
    process = await _spawn(argv, cwd=cwd, env=env)
    assert process.stdout is not None
    captured = _Tail()
    reader = asyncio.create_task(captured.drain(process.stdout))
    timed_out = False
    try:
        try:
            await asyncio.wait_for(process.wait(), timeout_s)
        except TimeoutError:
            timed_out = True
    finally:
        kill_group(process.pid)
        exit_code = await process.wait()
        await asyncio.wait({reader}, timeout=READER_GRACE_S)
        reader.cancel()
    return ProcessRun(
        exit_code=exit_code,
        output=captured.text(),
        timed_out=timed_out,
        duration_s=time.monotonic() - started,
    )


async def _spawn(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> asyncio.subprocess.Process:
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
    """The last MAX_CAPTURE_BYTES of a stream, remembering how much was dropped."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._dropped = 0

    async def drain(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(65536):
            self._buffer.extend(chunk)
            excess = len(self._buffer) - MAX_CAPTURE_BYTES
            if excess > 0:
                del self._buffer[:excess]
                self._dropped += excess

    def text(self) -> str:
        text = self._buffer.decode("utf-8", errors="replace")
        return f"[... {self._dropped} earlier bytes of output dropped ...]\n{text}" if self._dropped else text
