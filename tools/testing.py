"""Running the repository's tests: the ``run_tests`` tool, and ``run_test_command`` for the verifier."""

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from tools.context import ToolContext
from tools.errors import ToolError
from tools.process import run_in_group
from tools.registry import ToolOutcome
from tools.text import tail

_COUNT = r"\d+ (?:passed|failed|errors?|skipped|xfailed|xpassed|warnings?|deselected|rerun)"
_SUMMARY = re.compile(rf"^=*\s*(?:no tests ran|{_COUNT}(?:, {_COUNT})*)(?:\s+in\s+[\d.]+\s*s\b.*)?\s*=*$")
_COUNT_PARTS = re.compile(r"(\d+) (passed|failed|error|skipped)")


@dataclass(frozen=True)
class Summary:
    """pytest's final summary line, e.g. ``1 failed, 2 passed in 0.12s``."""

    passed: int
    failed: int
    errors: int
    skipped: int
    line: str


@dataclass(frozen=True)
class TestRun:
    """One run of the test command."""

    __test__: ClassVar[bool] = False  # not a pytest test class, despite its name

    passed: int
    failed: int
    errors: int
    skipped: int
    exit_code: int
    """Exit status of the command; negative when it was killed."""
    timed_out: bool
    output: str
    duration_s: float
    summary: str | None
    """pytest's summary line; None when the run printed none (crash, timeout, other runner)."""

    def headline(self) -> str:
        if self.timed_out:
            return f"the test run timed out after {self.duration_s:.1f} s; its process group was killed"
        counts = f"{self.passed} passed, {self.failed} failed, {self.errors} errors, {self.skipped} skipped"
        if self.summary is None:
            counts = "no pytest summary line found"
        return f"tests: {counts} (exit code {self.exit_code}, {self.duration_s:.1f} s)"


def parse_summary(output: str) -> Summary | None:
    """The counts of pytest's last summary line in ``output``, or None when there is none."""
    for raw in reversed(output.splitlines()):
        line = raw.strip()
        if not _SUMMARY.match(line):
            continue
        counts = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
        for number, word in _COUNT_PARTS.findall(line):
            counts[word] += int(number)
        line = line.strip("= ")
        return Summary(counts["passed"], counts["failed"], counts["error"], counts["skipped"], line)
    return None


async def run_test_command(
    workspace: Path,
    command: str,
    *,
    env: Mapping[str, str],
    timeout_s: float,
    paths: Sequence[str] = (),
) -> TestRun:
    """Run ``command`` (shlex-split, ``paths`` appended) in ``workspace``; kill its group on timeout.

    Raises OSError when the command's program cannot be started.
    """
    run = await run_in_group([*shlex.split(command), *paths], cwd=workspace, env=env, timeout_s=timeout_s)
    summary = None if run.timed_out else parse_summary(run.output)
    return TestRun(
        passed=summary.passed if summary else 0,
        failed=summary.failed if summary else 0,
        errors=summary.errors if summary else 0,
        skipped=summary.skipped if summary else 0,
        exit_code=run.exit_code,
        timed_out=run.timed_out,
        output=run.output,
        duration_s=run.duration_s,
        summary=summary.line if summary else None,
    )


async def run_tests(ctx: ToolContext, path: str | None = None) -> ToolOutcome:
    """Run the repository's tests (all of them, or one file, directory or test) and report the counts.

    Args:
        path: Test file or directory relative to the workspace root, or a pytest node id such as
            'tests/test_x.py::test_y'; defaults to the whole suite.
    """
    paths: list[str] = []
    if path:
        file_part, sep, node = path.partition("::")
        paths.append(ctx.relative(ctx.resolve(file_part)) + sep + node)
    try:
        run = await run_test_command(
            ctx.workspace,
            ctx.settings.test_command,
            env=ctx.env,
            timeout_s=ctx.settings.test_timeout_s,
            paths=paths,
        )
    except OSError as exc:
        raise ToolError(f"the test command {ctx.settings.test_command!r} could not start: {exc}") from None
    data = {
        "passed": run.passed,
        "failed": run.failed,
        "errors": run.errors,
        "skipped": run.skipped,
        "exit_code": run.exit_code,
        "timed_out": run.timed_out,
    }
    return ToolOutcome(f"{run.headline()}\n{tail(run.output)}", is_error=run.timed_out, data=data)
