"""One verification phase: a real run of the repository's test command in the sandbox, its counts and
its excerpt.

Runs go through ``tools.testing.run_test_command`` (a throwaway overlay of the worktree; for pytest a
JUnit report, so each test's outcome is known by a node id that is the same in every worktree). Counts
then come from the report, restricted to the phase's own tests (``keep``): the new test files, or
everything else. A runner that takes no paths (``python test.py``) runs its whole suite in every phase;
its counts are the whole suite's (``PhaseRun.whole``). With no counts at all only the exit code is
known; see ``PhaseRun.failing`` and ``PhaseRun.passing``.
"""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from documents.facts import TestCounts
from documents.phrases import clip
from safety.sandbox import Environment, Sandbox
from tools.test_reports import Counts, Report
from tools.testing import TestRun, run_test_command
from tools.text import tail

EXCERPT_LINES = 60
EXCERPT_CHARS = 4000
_COLLECTION_EXIT_CODES = (2, 3, 4)
_ERROR_LINE = re.compile(
    r"^(?:E\s+|INTERNALERROR>\s+)?((?:[\w.]+)?(?:Error|Exception|Warning): .+)$", re.MULTILINE
)
"""pytest: interrupted (collection errors), internal error, usage error."""
_BUILD_ERROR = re.compile(r"\berror\b:", re.IGNORECASE)


def _last_error(output: str) -> str | None:
    """The last ``SomeError: message`` line of ``output`` (pytest's ``E`` and ``INTERNALERROR>`` prefixes
    removed)."""
    found = _ERROR_LINE.findall(output)
    return clip(found[-1].strip(), 300) if found else None


def _first_build_error(output: str) -> str | None:
    """The first ``error:`` line of a build's output (a compiler's), else its last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    error = next((line for line in lines if _BUILD_ERROR.search(line)), None)
    return clip(error or lines[-1], 300) if lines else None


def test_counts(counts: Counts, *, timed_out: bool = False, build_s: float | None = None) -> TestCounts:
    return TestCounts(
        passed=counts.passed, failed=counts.failed, errors=counts.errors, skipped=counts.skipped,
        timed_out=timed_out, build_s=build_s,
    )  # fmt: skip


@dataclass(frozen=True)
class PhaseRun:
    phase: str
    run: TestRun
    counts: TestCounts
    """The counts of the phase's own tests (from the report when there is one, else the summary)."""
    keep: Callable[[str], bool] | None = None
    """Picks the phase's own tests from the report by node id; None: all of them."""

    @property
    def report(self) -> Report | None:
        """The whole JUnit report; None for other runners or when pytest wrote none (it crashed before
        the end, or was killed)."""
        return self.run.report

    @property
    def own(self) -> Report | None:
        """The report restricted to the phase's own tests."""
        if self.report is None or self.keep is None:
            return self.report
        return self.report.select(self.keep)

    @property
    def whole(self) -> bool:
        """The runner ran its whole suite, not just the paths it was given."""
        return not self.run.selective

    @property
    def counts_known(self) -> bool:
        return self.run.counts is not None

    @property
    def ran_nothing(self) -> bool:
        """The run finished, but none of this phase's tests ran."""
        c = self.counts
        nothing = c.passed + c.failed + c.errors + c.skipped == 0
        return self.run.no_tests or (self.counts_known and nothing and self.run.exit_code == 0)

    @property
    def build_failure(self) -> str | None:
        """What went wrong with ``[environment] build`` before this phase's tests, when it failed."""
        build = self.run.build
        if build is None or build.ok:
            return None
        said = _first_build_error(build.output)
        return f"{build.headline()}{f': {said}' if said else ''}"

    @property
    def failing(self) -> bool:
        """Some of the phase's tests failed or errored (or, counts unknown, the command failed)."""
        if self.run.timed_out or self.run.stopped or self.run.build_failed:
            return False
        if self.counts.failed + self.counts.errors:
            return True
        if self.counts_known:
            return not self.ran_nothing and self.counts.passed + self.counts.skipped == 0
        return self.run.exit_code != 0

    @property
    def passing(self) -> bool:
        """Every one of the phase's tests passed and at least one ran (counts unknown: exit code 0)."""
        if self.run.timed_out or self.run.stopped or self.run.build_failed:
            return False
        if self.counts_known:
            return self.counts.failed == self.counts.errors == 0 and self.counts.passed > 0
        return self.run.exit_code == 0

    @property
    def broken_environment(self) -> str | None:
        """Why this run says the project's environment (not the code) is broken: no test could even be
        collected (import errors, missing modules, a broken conftest, a bad pytest configuration).
        None when tests ran."""
        run = self.run
        if run.timed_out or run.stopped or run.no_tests or run.build_failed:
            return None
        counts = run.counts
        ran = counts is not None and counts.passed + counts.failed + counts.skipped > 0
        if ran:
            return None
        said = _last_error(run.output) or "see its output"
        if run.report is not None and run.report.collection_errors():
            return run.report.collection_errors()[0].collection_error
        if run.kind == "pytest" and run.exit_code in _COLLECTION_EXIT_CODES:
            return f"pytest stopped before running any test, exit code {run.exit_code}: {said}"
        if run.import_failures:
            return f"unittest could not import the test modules: {said}"
        if counts is None and run.exit_code != 0:
            return f"the test command failed before reporting any test, exit code {run.exit_code}: {said}"
        return None

    def excerpt(self) -> str:
        """The tail of the output (EXCERPT_LINES lines, EXCERPT_CHARS characters), without the line
        naming our report file."""
        build = self.run.build
        if build is not None and not build.ok:
            text = "\n".join(build.output.splitlines()[-EXCERPT_LINES:])
            return tail(f"{text}\n[{build.headline()}; the tests did not run]", EXCERPT_CHARS)
        lines = [line for line in self.run.output.splitlines() if "generated xml file:" not in line]
        text = "\n".join(lines[-EXCERPT_LINES:])
        if self.run.stopped:
            text += f"\n[{self.run.stopped}]"
        elif self.run.timed_out:
            text += f"\n[timed out after {self.run.duration_s:.1f} s; the test processes were killed]"
        return tail(text, EXCERPT_CHARS)


class Runner:
    """Runs the test command for each phase, in the sandbox, in the repository's environment."""

    def __init__(self, command: str, *, timeout_s: float, sandbox: Sandbox, environment: Environment) -> None:
        self.command = command
        self.timeout_s = timeout_s
        self.sandbox = sandbox
        self.environment = environment

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
        run = await run_test_command(
            self.sandbox,
            worktree,
            self.command,
            environment=self.environment,
            timeout_s=self.timeout_s,
            paths=list(paths),
        )
        report = run.report
        counts = (report.select(keep) if keep else report).counts() if report else run.counts or Counts()
        build_s = run.build.duration_s if run.build else None
        return PhaseRun(phase, run, test_counts(counts, timed_out=run.timed_out, build_s=build_s), keep)
