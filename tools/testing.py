"""Running the repository's tests in the sandbox: ``run_test_command`` (the tool and the verifier
both use it) and the ``run_tests`` tool.

Every run sees the worktree through a throwaway overlay: caches, fixtures and any file the tests write
vanish when the run ends and never reach a diff. How tests are given to the runner is
``tools.runners``; what is known about a run depends on that runner:

- ``pytest``: pytest is asked for a JUnit report (``--junitxml`` into a directory of ours,
  ``-o junit_family=xunit1``, ``--rootdir=/workspace``), and counts and per-test outcomes come from it,
  whatever the project's ``addopts`` (``--color=yes``, ``-p`` plugins, ``filterwarnings = error``, ...)
  do to the output;
- ``unittest`` and ``django``: per-test outcomes from the verbose lines (``tools.unittest_output``),
  counts from them, else from ``Ran N tests`` and ``FAILED (failures=1, errors=2)``;
- ``other``: run as written; counts from a unittest or pytest summary in its output, and per-test
  outcomes when it prints unittest's verbose lines.

ANSI colour codes are stripped before anything is parsed or shown. Zero tests is never a pass: a run
that ran none (pytest's exit code 5, ``Ran 0 tests``) says "no tests ran". A run that reports no counts
at all (a usage error, a crash before the first test) says so, with the runner's own message.

With ``[environment] build`` (``Environment.build``), the same sandbox first runs the build in the
throwaway overlay, then the tests (``tools.build_step``); when the build fails, the tests do not run.
"""

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from safety.sandbox import Environment, ProcessRun, Sandbox
from tools.build_step import BuildRun, read_build, test_program_missing, with_build
from tools.context import ToolContext
from tools.errors import ToolError
from tools.registry import ToolOutcome
from tools.runner_reports import Counts, Report, parse_summary, read_report, strip_ansi
from tools.runners import RunnerKind, parse_test_command
from tools.text import tail
from tools.unittest_output import read_verbose

NO_TESTS_COLLECTED = 5
"""pytest's (and, since Python 3.12, unittest's) exit code when it ran no test."""
_REPORT = "report.xml"


@dataclass(frozen=True)
class TestRun:
    """One run of the test command."""

    __test__: ClassVar[bool] = False  # not a pytest test class, despite its name

    kind: RunnerKind
    counts: Counts | None
    """From the JUnit report (pytest), else the runner's summary; None when nothing reported counts."""
    exit_code: int
    """Exit status of the command; negative when it was killed."""
    timed_out: bool
    output: str
    """What it printed, ANSI codes stripped."""
    duration_s: float
    """The tests' own wall time (the build's is ``build.duration_s``)."""
    summary: str | None
    """The runner's own summary line; None when it printed none (crash, timeout, another runner)."""
    report: Report | None = None
    """Per-test outcomes: pytest's JUnit report, or unittest's verbose lines; None when there are none
    (pytest wrote no report, the run did not finish, a runner that prints no per-test lines)."""
    import_failures: bool = False
    """unittest could not import a test module."""
    stopped: str | None = None
    """Why the sandbox stopped the run (a memory, process or output limit), when it did."""
    build: BuildRun | None = None
    """``[environment] build``, run first in the same sandbox; None when none is configured."""

    @property
    def build_failed(self) -> bool:
        """The build failed (or did not finish), so the tests did not run."""
        return self.build is not None and not self.build.ok

    @property
    def build_s(self) -> float | None:
        """How long ``[environment] build`` took before the tests; None without a build."""
        return self.build.duration_s if self.build else None

    @property
    def selective(self) -> bool:
        """The runner runs the paths it is given (pytest, unittest, Django); others run their whole suite."""
        return self.kind != "other"

    @property
    def no_tests(self) -> bool:
        """It finished and ran no test at all."""
        if self.timed_out or self.stopped or self.build_failed:
            return False
        if self.exit_code == NO_TESTS_COLLECTED and self.kind != "other":
            return True
        return self.counts is not None and self.counts.total == 0 and self.exit_code == 0

    def headline(self) -> str:
        if self.build is not None and not self.build.ok:
            return f"{self.build.headline()}; the tests did not run"
        if self.stopped:
            return f"the test run was {self.stopped}"
        if self.timed_out:
            return f"the test run timed out after {self.duration_s:.1f} s; its processes were killed"
        if self.no_tests:
            return f"tests: no tests ran (exit code {self.exit_code}, {self.duration_s:.1f} s)"
        if self.counts is None:
            counts = "no test counts reported"
        else:
            c = self.counts
            counts = f"{c.passed} passed, {c.failed} failed, {c.errors} errors, {c.skipped} skipped"
        built = f"; {self.build.headline()}" if self.build else ""
        return f"tests: {counts} (exit code {self.exit_code}, {self.duration_s:.1f} s{built})"


async def run_test_command(
    sandbox: Sandbox,
    workspace: Path,
    command: str,
    *,
    environment: Environment,
    timeout_s: float,
    paths: tuple[str, ...] | list[str] = (),
) -> TestRun:
    """Run ``command`` at ``workspace`` in the sandbox, through a throwaway overlay (see the module
    docstring), after ``environment.build`` when there is one. ``paths`` (workspace-relative files,
    directories or node ids) are given to runners that take them (``tools.runners``).

    Raises OSError when the command's program cannot be started; ValueError when the command cannot be
    read, or a path is not one this command can run.
    """
    test_command = parse_test_command(command)
    argv = test_command.argv_for(list(paths))
    kind = test_command.kind
    with tempfile.TemporaryDirectory(prefix="nightshift-tests-") as scratch:
        outputs = Path(scratch)
        if kind == "pytest":
            report = f"{sandbox.outputs_path(outputs)}/{_REPORT}"
            root = sandbox.workspace_path(workspace)
            argv += [f"--junitxml={report}", "-o", "junit_family=xunit1", f"--rootdir={root}"]
        if environment.build:
            argv = with_build(argv, environment, sandbox.outputs_path(outputs), workspace)
            timeout_s += environment.build_timeout_s
        run = await sandbox.run(
            argv, workspace=workspace, environment=environment, timeout_s=timeout_s, access="overlay",
            outputs=outputs,
        )  # fmt: skip
        build = read_build(outputs, environment) if environment.build else None
        junit = read_report(outputs / _REPORT) if kind == "pytest" and not run.timed_out else None
    missing = test_program_missing(run.output, run.exit_code) if build is not None and build.ok else None
    if missing:
        raise OSError(f"{missing} (in the sandbox)")
    output = strip_ansi(run.output)
    return _reading(kind, run, output, junit, stopped=sandbox.explain(run), build=build)


def _reading(
    kind: RunnerKind,
    run: ProcessRun,
    output: str,
    junit: Report | None,
    *,
    stopped: str | None,
    build: BuildRun | None,
) -> TestRun:
    """What the run's report or output says about it."""
    summary = None if run.timed_out else parse_summary(output)
    report = junit
    if report is None and kind != "pytest" and not run.timed_out:
        report = read_verbose(output)
    counts = report.counts() if report is not None else summary.counts if summary else None
    return TestRun(
        kind=kind,
        counts=counts,
        exit_code=run.exit_code,
        timed_out=run.timed_out,
        output=output,
        duration_s=max(0.0, run.duration_s - (build.duration_s if build else 0.0)),
        summary=summary.line if summary else None,
        report=report,
        import_failures=summary.import_failures if summary else False,
        stopped=stopped,
        build=build,
    )


async def run_tests(ctx: ToolContext, path: str | None = None) -> ToolOutcome:
    """Run the repository's tests (all of them, or one file, directory or test) and report the counts.

    Files the tests write are thrown away when the run ends; change files with the file tools.

    Args:
        path: Test file or directory relative to the workspace root, or a pytest node id such as
            'tests/test_x.py::test_y'; defaults to the whole suite.
    """
    command = ctx.test_command
    paths: list[str] = []
    if path:
        file_part, sep, node = path.partition("::")
        paths.append(ctx.relative(ctx.resolve(file_part)) + sep + node)
    try:
        run = await run_test_command(
            ctx.sandbox,
            ctx.workspace,
            command,
            environment=ctx.environment,
            timeout_s=ctx.settings.test_timeout_s,
            paths=paths,
        )
    except OSError as exc:
        raise ToolError(f"the test command {command!r} could not start: {exc}") from None
    except ValueError as exc:
        raise ToolError(f"the test command {command!r} cannot run that: {exc}") from None
    counts = run.counts or Counts()
    data = {
        "passed": counts.passed,
        "failed": counts.failed,
        "errors": counts.errors,
        "skipped": counts.skipped,
        "exit_code": run.exit_code,
        "timed_out": run.timed_out,
        **({"build_ok": run.build.ok, "build_s": round(run.build.duration_s, 1)} if run.build else {}),
    }
    notes = [run.headline()]
    if run.build is not None and not run.build.ok:
        notes.append(f"the build's output (the end):\n{tail(run.build.output)}")
    if paths and not run.selective:
        notes.append(f"(the test command {command!r} runs its whole suite; it takes no paths)")
    failed = run.timed_out or bool(run.stopped) or run.build_failed
    return ToolOutcome("\n".join([*notes, tail(run.output)]), is_error=failed, data=data)
