"""``[environment] build``: run in a test run's own sandbox, before the tests, in the same overlay.

What the set-up built from the base commit (an extension compiled in place, the project installed into
``.venv``) may depend on the code under test. The build rebuilds it from the worktree as it is (the fix
applied) in the throwaway overlay of the test run itself, so the tests that follow run the rebuilt
artefacts and nothing of the build outlives the run.

The test command is wrapped: ``bash -c SCRIPT`` sets the times of the kept files' copies back to the
set-up's (a build tool that compares times, as ``build_ext`` and make do, would otherwise take the
copies, made just now, for newer than the fixed sources and rebuild nothing), runs the build with its
own timeout, writes its output and its exit code and duration to the run's outputs directory, and
only when it succeeded ``exec``s the test command unchanged (so the runner's exit code, output and
report are its own). The sandboxed
build could write anything there, so what it left is read defensively (no link followed, no FIFO
waited for, the tail only) and a missing or garbled status is a build that did not finish.
"""

import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from safety.sandbox import Environment
from safety.sandbox.entries import copies
from tools.runner_reports import strip_ansi

LOG = "build.log"
STATUS = "build.status"
LOG_BYTES = 64_000
"""The tail of the build's output that is kept."""
TIMED_OUT = 124
"""``timeout``'s exit code when it stopped the command."""
_SCRIPT = """
while IFS=' ' read -r time path; do
  [ -n "$path" ] && touch -c -m -d "@$time" -- "$path"
done <<<"$4"
start=$EPOCHREALTIME
timeout --kill-after=5 "$2" bash -c "$1" >"$3/build.log" 2>&1
code=$?
printf '%s %s %s\\n' "$code" "$start" "$EPOCHREALTIME" >"$3/build.status"
[ "$code" -eq 0 ] || exit "$code"
shift 4
exec "$@"
"""
_NAME = "nightshift-build"
"""The script's ``$0``: how bash names it in its own messages."""
_EXEC_FAILED = re.compile(rf"^{_NAME}: line \d+: exec: (.+): not found$", re.MULTILINE)


@dataclass(frozen=True)
class BuildRun:
    command: str
    exit_code: int | None
    """None: it did not finish (the sandbox was stopped or timed out while it ran)."""
    duration_s: float
    output: str
    """The tail of what it printed, ANSI codes stripped."""
    timeout_s: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def headline(self) -> str:
        if self.ok:
            return f"built in {self.duration_s:.1f} s"
        if self.exit_code == TIMED_OUT:
            why = f"timed out after {self.timeout_s:.0f} s ([environment] build_timeout_s)"
        elif self.exit_code is None:
            why = "did not finish"
        else:
            why = f"failed with exit code {self.exit_code} after {self.duration_s:.1f} s"
        return f"the build `{self.command}` {why}"


def with_build(argv: Sequence[str], environment: Environment, outputs: str, workspace: Path) -> list[str]:
    """``argv`` (the test command) run after ``environment.build`` at ``workspace``; ``outputs`` is
    where the command sees the run's outputs directory. The copies of kept files get their times back
    first (``safety.sandbox.entries.copies``)."""
    assert environment.build
    timeout = f"{environment.build_timeout_s:.0f}"
    copied = copies(environment.source, environment.entries, workspace) if environment.source else []
    times = "".join(f"{ns // 10**9}.{ns % 10**9:09d} {path}\n" for path, ns in copied if "\n" not in path)
    return ["bash", "-c", _SCRIPT, _NAME, environment.build, timeout, outputs, times, *argv]


def read_build(outputs: Path, environment: Environment) -> BuildRun:
    """What the build left in ``outputs`` (see the module docstring)."""
    assert environment.build
    status = _read_tail(outputs / STATUS, 200).split()
    exit_code: int | None = None
    duration = 0.0
    if len(status) == 3:
        try:
            exit_code, duration = int(status[0]), max(0.0, float(status[2]) - float(status[1]))
        except ValueError:
            exit_code = None
    output = strip_ansi(_read_tail(outputs / LOG, LOG_BYTES))
    return BuildRun(environment.build, exit_code, duration, output, environment.build_timeout_s)


def test_program_missing(output: str, exit_code: int) -> str | None:
    """What bash said when the test command's program could not be started after the build."""
    found = _EXEC_FAILED.search(output) if exit_code == 127 else None
    return f"{found.group(1)}: not found" if found else None


def _read_tail(path: Path, limit: int) -> str:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return ""
    with os.fdopen(fd, "rb") as handle:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            return ""
        handle.seek(max(0, status.st_size - limit))
        return handle.read(limit).decode("utf-8", errors="replace")
