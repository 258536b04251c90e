"""Run the hook commands configured for a lifecycle event, each in its own process group.

A hook is a user's program: it may fail, crash, hang, fork children or print megabytes. None of that
may stop or slow down a run, so every hook runs as a subprocess without a shell, in a new session
(``start_new_session=True``, its own process group), gets the event as JSON on stdin, has its output
read up to ``OUTPUT_CAP`` bytes per stream, and is killed with its whole process group at its
timeout. Failures are logged on ``nightshift.hooks`` at WARNING and returned as data, never raised.
"""

import asyncio
import json
import logging
import os
import shlex
import signal
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.hooks import HOOK_EVENTS, HookSpec

OUTPUT_CAP = 64 * 1024
"""Bytes of stdout (and of stderr) kept per hook; the rest is read and dropped."""
_CHUNK = 16 * 1024
_LOG_TAIL = 500
"""Characters of a failed hook's stderr quoted in the log line."""

logger = logging.getLogger("nightshift.hooks")


@dataclass(frozen=True, slots=True)
class HookResult:
    """What one hook did.

    ``exit_code`` is None when the hook could not be started or was killed at its timeout; it is
    negative when the hook died of a signal it did not get from us. ``error`` says what went wrong in
    words (None when the hook exited 0).
    """

    command: tuple[str, ...]
    exit_code: int | None
    stdout: str
    stderr: str
    timed_out: bool
    error: str | None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class HookRunner:
    """Fires lifecycle events at the configured hooks.

    ``env`` is the complete environment of every hook (built by the caller, scrubbed of secrets);
    nothing from this process's environment is added to it. ``cwd`` is where hooks run (None: here).
    """

    def __init__(self, specs: Sequence[HookSpec], *, env: Mapping[str, str], cwd: Path | None = None) -> None:
        self._by_event: dict[str, list[HookSpec]] = defaultdict(list)
        for spec in specs:
            self._by_event[spec.event].append(spec)
        self._env = dict(env)
        self._cwd = cwd

    async def fire(self, event: str, payload: Mapping[str, Any]) -> list[HookResult]:
        """Run every hook for ``event`` concurrently; results in configuration order.

        Each hook reads ``{"event": event, **payload}`` as JSON on stdin. A hook that exits non-zero,
        cannot start, or hangs is logged and reported in its HookResult; this never raises, except
        ValueError for an event name that does not exist (a programming error).
        """
        if event not in HOOK_EVENTS:
            raise ValueError(f"unknown hook event {event!r}; known events: {', '.join(HOOK_EVENTS)}")
        specs = self._by_event.get(event)
        if not specs:
            return []
        data = json.dumps({"event": event, **payload}, default=str).encode()
        return list(await asyncio.gather(*(self._run(spec, event, data) for spec in specs)))

    async def veto(self, payload: Mapping[str, Any]) -> str | None:
        """Fire ``before_tool``; return why the tool call is refused, or None when it is allowed.

        A hook vetoes by exiting with a positive status; the reason is its stderr (stripped), or
        "vetoed by hook <command> (exit N)" when stderr is empty. The first vetoing hook in
        configuration order gives the reason. A hook that timed out, could not be started or died of
        a signal does not veto: it is logged, and the call goes ahead, because a broken hook must not
        block every tool of every run. A hook that must fail closed should catch its own errors and
        exit 1.
        """
        for result in await self.fire("before_tool", payload):
            if result.exit_code is not None and result.exit_code > 0:
                return result.stderr.strip() or (
                    f"vetoed by hook {shlex.join(result.command)} (exit {result.exit_code})"
                )
        return None

    async def _run(self, spec: HookSpec, event: str, data: bytes) -> HookResult:
        command = tuple(spec.command)
        try:
            process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=self._env,
                cwd=self._cwd,
                start_new_session=True,
            )
        except (OSError, ValueError) as exc:  # no such file, not executable, NUL in an argument
            return _failed(command, event, None, b"", b"", False, f"could not be started: {exc}")
        assert process.stdin and process.stdout and process.stderr  # all three are pipes
        stdout, stderr = bytearray(), bytearray()
        try:
            async with asyncio.timeout(spec.timeout_s):
                await asyncio.gather(
                    _feed(process.stdin, data),
                    _read_capped(process.stdout, stdout),
                    _read_capped(process.stderr, stderr),
                    process.wait(),
                )
        except TimeoutError:
            _kill_group(process.pid)
            await process.wait()
            reason = f"timed out after {spec.timeout_s:g} s and was killed with its process group"
            return _failed(command, event, None, stdout, stderr, True, reason)
        except asyncio.CancelledError:
            _kill_group(process.pid)  # the run is being cancelled: leave nothing running behind us
            raise
        code = process.returncode
        if code == 0:
            return HookResult(command, 0, _decode(stdout), _decode(stderr), False, None)
        return _failed(command, event, code, stdout, stderr, False, f"exited with status {code}")


def _failed(
    command: tuple[str, ...],
    event: str,
    exit_code: int | None,
    stdout: bytes | bytearray,
    stderr: bytes | bytearray,
    timed_out: bool,
    reason: str,
) -> HookResult:
    """Log a hook that did not succeed and describe it as a HookResult."""
    err = _decode(stderr)
    tail = err.strip()[-_LOG_TAIL:]
    logger.warning(
        "hook %s for event %s %s%s",
        shlex.join(command),
        event,
        reason,
        f"; stderr: {tail}" if tail else "",
    )
    return HookResult(command, exit_code, _decode(stdout), err, timed_out, reason)


async def _feed(stdin: asyncio.StreamWriter, data: bytes) -> None:
    """Write the payload and close stdin; a hook that exits without reading it is fine."""
    try:
        stdin.write(data)
        await stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        stdin.close()


async def _read_capped(stream: asyncio.StreamReader, into: bytearray) -> None:
    """Read ``stream`` to its end, keeping the first OUTPUT_CAP bytes and dropping the rest."""
    while chunk := await stream.read(_CHUNK):
        room = OUTPUT_CAP - len(into)
        if room > 0:
            into += chunk[:room]


def _kill_group(pid: int) -> None:
    # start_new_session made the hook a session and group leader: its group id is its pid.
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # the whole group is gone already


def _decode(raw: bytes | bytearray) -> str:
    return raw.decode("utf-8", errors="replace")
