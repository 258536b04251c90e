"""One verification phase: a real run of the repository's test command in the sandbox, its counts and
its excerpt.

Runs go through ``tools.testing.run_test_command`` (a throwaway overlay of the worktree; per-test
outcomes from pytest's JUnit report or unittest's and Django's verbose lines, by ids that are the same in
every worktree). The phase's counts are those of its own tests (``PhaseRun.mine``): the test diff's
tests, or the whole run. A runner that takes no paths (``python test.py``) runs its whole suite in every
phase (``PhaseRun.whole``). A run that reported no counts at all (a usage error, a crash before the
first test) is evidence of nothing: ``PhaseRun.no_counts`` says so with the runner's own message, and
it is never read as tests failing.
"""

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from documents.facts import TestCounts
from documents.phrases import clip
from safety.sandbox import Environment, Sandbox
from tools.runner_reports import Counts, Report
from tools.testing import TestRun, run_test_command
from tools.text import tail

EXCERPT_LINES = 60
EXCERPT_CHARS = 4000
_COLLECTION_EXIT_CODES = (2, 3, 4)
_ERROR_LINE = re.compile(
    r"^(?:E\s+|INTERNALERROR>\s+)?((?:[\w.]+)?(?:Error|Exception|Warning): .+|\S.*?: error: .+)$",
    re.MULTILINE,
)
"""pytest: interrupted (collection errors), internal error, usage error; argparse's ``prog: error: ...``
(unittest, Django)."""
_NO_MODULE = re.compile(r"^(\S+): No module named ([\w.]+)$", re.MULTILINE)
"""What ``python -m pytest`` prints when that python has no pytest: the runner itself is missing."""
_BUILD_ERROR = re.compile(r"\berror\b:", re.IGNORECASE)


def runner_message(output: str) -> str | None:
    """The runner's own last word on what went wrong: that the runner is missing (``python: No module
    named pytest``, whatever a wrapper such as make prints after it), else the last ``SomeError:
    message`` or ``prog: error: message`` line of ``output`` (pytest's ``E`` and ``INTERNALERROR>``
    prefixes removed)."""
    missing = _NO_MODULE.search(output)
    if missing:
        program, module = missing.groups()
        return clip(f"the test runner is missing: {program} has no module named {module}", 300)
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
    """The counts of the phase's own tests (the whole run's until ``mine`` narrows them)."""
    own: Callable[[str], bool] | None = None
    """Picks the phase's own tests by id; None: all of them."""
    cached: bool = False
    """The run was not made now: it is the result of an earlier run of the same suite (``verify.cache``)."""
    span: tuple[float, float] | None = None
    """When the run started and ended (``time.monotonic``); None when it was not made now."""

    @classmethod
    def of(
        cls, phase: str, run: TestRun, *, cached: bool = False, span: tuple[float, float] | None = None
    ) -> "PhaseRun":
        counts = test_counts(run.counts or Counts(), timed_out=run.timed_out, build_s=run.build_s)
        return cls(phase, run, counts, cached=cached, span=span)

    def mine(self, own: Callable[[str], bool]) -> "PhaseRun":
        """This run with only the tests ``own`` accepts counted (when per-test outcomes are known)."""
        if self.report is None:
            return self
        counts = test_counts(
            self.report.select(own).counts(), timed_out=self.run.timed_out, build_s=self.run.build_s
        )
        return replace(self, counts=counts, own=own)

    @property
    def report(self) -> Report | None:
        """The run's per-test outcomes; None when it has none (see ``TestRun.report``)."""
        return self.run.report

    @property
    def own_report(self) -> Report | None:
        """The per-test outcomes of the phase's own tests."""
        if self.report is None or self.own is None:
            return self.report
        return self.report.select(self.own)

    @property
    def whole(self) -> bool:
        """The runner ran its whole suite, not just the paths it was given."""
        return not self.run.selective

    @property
    def counts_known(self) -> bool:
        return self.run.counts is not None

    @property
    def no_counts(self) -> str | None:
        """Why this finished run says nothing about any test: it reported no counts (a usage error, a
        crash before the first test), with the runner's message. None when it reported counts, or did
        not finish (timed out, stopped)."""
        run = self.run
        if run.counts is not None or run.timed_out or run.stopped:
            return None
        said = runner_message(run.output) or _last_line(run.output) or "it printed nothing"
        return f"the test command reported no test counts (exit code {run.exit_code}): {said}"

    @property
    def ran_nothing(self) -> bool:
        """The run finished, and ran no test at all."""
        counts = self.run.counts
        return self.run.no_tests or (counts is not None and counts.total == 0 and self.run.exit_code == 0)

    @property
    def owns_nothing(self) -> bool:
        """Tests ran, but none of them is one of the phase's own."""
        c = self.counts
        return self.counts_known and not self.ran_nothing and c.passed + c.failed + c.errors + c.skipped == 0

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
        """Some of the phase's tests failed or errored. Never true without counts."""
        if self.run.timed_out or self.run.stopped or self.run.build_failed or not self.counts_known:
            return False
        return bool(self.counts.failed + self.counts.errors)

    @property
    def passing(self) -> bool:
        """Every one of the phase's tests passed, and at least one ran."""
        if self.run.timed_out or self.run.stopped or self.run.build_failed or not self.counts_known:
            return False
        return self.counts.failed == self.counts.errors == 0 and self.counts.passed > 0

    @property
    def broken_environment(self) -> str | None:
        """Why this run says the project's environment (not the code) is broken: no test could even be
        collected (import errors, missing modules, a broken conftest, a bad configuration, a usage
        error). None when tests ran."""
        run = self.run
        if run.timed_out or run.stopped or run.no_tests or run.build_failed:
            return None
        counts = run.counts
        if counts is not None and counts.passed + counts.failed + counts.skipped > 0:
            return None
        said = runner_message(run.output) or "see its output"
        if run.report is not None and run.report.collection_errors():
            return run.report.collection_errors()[0].collection_error
        if run.kind == "pytest" and run.exit_code in _COLLECTION_EXIT_CODES:
            return f"pytest stopped before running any test, exit code {run.exit_code}: {said}"
        if run.import_failures:
            return f"unittest could not import the test modules: {said}"
        return self.no_counts

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


def _last_line(output: str) -> str | None:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return clip(lines[-1], 300) if lines else None


class Runner:
    """Runs the test command for each phase, in the sandbox, in the repository's environment."""

    def __init__(self, command: str, *, timeout_s: float, sandbox: Sandbox, environment: Environment) -> None:
        self.command = command
        self.timeout_s = timeout_s
        self.sandbox = sandbox
        self.environment = environment

    async def run(self, phase: str, worktree: Path, paths: Sequence[str] = ()) -> PhaseRun:
        """Run the command in ``worktree`` on ``paths`` (all of the suite when empty). Raises OSError when
        the command cannot start, ValueError when it cannot run one of ``paths``."""
        started = time.monotonic()
        run = await run_test_command(
            self.sandbox,
            worktree,
            self.command,
            environment=self.environment,
            timeout_s=self.timeout_s,
            paths=list(paths),
        )
        return PhaseRun.of(phase, run, span=(started, time.monotonic()))
