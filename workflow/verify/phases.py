"""One verification phase: a real run of the repository's test command, its counts and its excerpt.

With pytest (``pytest``/``py.test`` as a program, or ``-m pytest``) every run also gets
``--junitxml=<file outside the worktree>``, ``-o junit_family=xunit1``, ``-p no:cacheprovider`` and
``--rootdir=<worktree>``, so each test's outcome is known by a node id that is the same in every
worktree. Counts then come from the report, restricted to the phase's own tests (``keep``): the new
test files, or everything else. With another runner only its pytest-style summary line (if any) and
its exit code are known; see ``PhaseRun.failing`` and ``PhaseRun.passing``.
"""

import asyncio
import itertools
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from documents.facts import TestCounts
from tools.testing import TestRun, run_test_command
from tools.text import tail
from workflow.verify.junit import Report, read_report

EXCERPT_LINES = 60
EXCERPT_CHARS = 4000
_NO_TESTS_COLLECTED = 5
"""pytest's exit code when it collected nothing."""


def is_pytest(command: str) -> bool:
    """Whether ``command`` runs pytest: ``pytest``, ``.venv/bin/pytest``, ``python -m pytest``..."""
    argv = shlex.split(command)
    if any(Path(arg).name in ("pytest", "py.test") for arg in argv):
        return True
    return any(flag == "-m" and module == "pytest" for flag, module in itertools.pairwise(argv))


@dataclass(frozen=True)
class PhaseRun:
    phase: str
    run: TestRun
    report: Report | None
    """The whole JUnit report; None for other runners or when pytest wrote none (it crashed before
    the end, or was killed)."""
    counts: TestCounts
    """The counts of the phase's own tests (from the report when there is one, else the summary)."""
    pytest: bool
    """The command is pytest, so a JUnit report was asked for."""
    keep: Callable[[str], bool] | None = None
    """Picks the phase's own tests from the report by node id; None: all of them."""

    @property
    def own(self) -> Report | None:
        """The report restricted to the phase's own tests."""
        if self.report is None or self.keep is None:
            return self.report
        return self.report.select(self.keep)

    @property
    def counts_known(self) -> bool:
        return self.report is not None or self.run.summary is not None

    @property
    def ran_nothing(self) -> bool:
        """pytest ran and finished, but none of this phase's tests were collected."""
        c = self.counts
        nothing = c.passed + c.failed + c.errors + c.skipped == 0
        return self.counts_known and nothing and self.run.exit_code in (0, _NO_TESTS_COLLECTED)

    @property
    def failing(self) -> bool:
        """Some of the phase's tests failed or errored (or, counts unknown, the command failed)."""
        if self.run.timed_out:
            return False
        if self.counts.failed + self.counts.errors:
            return True
        if self.counts_known:
            return not self.ran_nothing and self.counts.passed + self.counts.skipped == 0
        return self.run.exit_code != 0

    @property
    def passing(self) -> bool:
        """Every one of the phase's tests passed and at least one ran (counts unknown: exit code 0)."""
        if self.run.timed_out:
            return False
        if self.counts_known:
            return self.counts.failed == self.counts.errors == 0 and self.counts.passed > 0
        return self.run.exit_code == 0

    def excerpt(self) -> str:
        """The tail of the output (EXCERPT_LINES lines, EXCERPT_CHARS characters), without the line
        naming our report file."""
        lines = [line for line in self.run.output.splitlines() if "generated xml file:" not in line]
        text = "\n".join(lines[-EXCERPT_LINES:])
        if self.run.timed_out:
            text += f"\n[timed out after {self.run.duration_s:.1f} s; the test process group was killed]"
        return tail(text, EXCERPT_CHARS)


class Runner:
    """Runs the test command for each phase; JUnit reports go to ``reports`` (outside any worktree)."""

    def __init__(self, command: str, *, timeout_s: float, env: Mapping[str, str], reports: Path) -> None:
        self.command = command
        self.timeout_s = timeout_s
        self.env = env
        self.reports = reports
        self.pytest = is_pytest(command)

    async def run(
        self,
        phase: str,
        worktree: Path,
        paths: Sequence[str] = (),
        *,
        keep: Callable[[str], bool] | None = None,
    ) -> PhaseRun:
        """Run the command in ``worktree`` with ``paths`` appended; ``keep`` picks the phase's own tests
        (by node id) from the JUnit report for the counts. Raises OSError when the command cannot start."""
        options: list[str] = []
        report_path = self.reports / f"{phase}.xml"
        if self.pytest:
            report_path.unlink(missing_ok=True)
            options = [
                f"--junitxml={report_path}", "-o", "junit_family=xunit1", "-p", "no:cacheprovider",
                f"--rootdir={worktree}",
            ]  # fmt: skip
        run = await run_test_command(
            worktree, self.command, env=self.env, timeout_s=self.timeout_s, paths=[*options, *paths]
        )
        report = await asyncio.to_thread(read_report, report_path) if self.pytest else None
        if report is not None:
            counts = (report.select(keep) if keep else report).counts()
        else:
            counts = TestCounts(passed=run.passed, failed=run.failed, errors=run.errors, skipped=run.skipped)
        timed_out = {"timed_out": run.timed_out}
        return PhaseRun(phase, run, report, counts.model_copy(update=timed_out), self.pytest, keep)
