"""``nightshift doctor``: what a run would see, checked before the first incident.

It prepares the repository's environment (or reuses it; what it builds serves later runs too), checks
that the test runner the test command names is in it, and runs the existing suite on the default
branch's commit, in the sandbox, exactly as verification would (after ``[environment] build``, when
one is configured), then says whether a run could verify a fix: the sandbox, the environment (what the
set-up made, what it warned about, what the default branch tracks itself, artefacts that a fix would
leave stale), which files count as tests, the counts, the duration, the slowest tests and what already
fails on the default branch. Nothing is fetched, pushed or changed in the checkout.
"""

from dataclasses import dataclass
from pathlib import Path

from config import Settings
from documents.phrases import listed
from environment.artefacts import would_go_stale
from environment.checks import missing_runner
from environment.layout import project_test_patterns
from environment.prepare import Environments, Prepared
from gitrepo import GitRepo
from verify import ENVIRONMENT_ADVICE
from verify.phases import PhaseRun, Runner
from workflow.engine import start_sandbox
from workflow.errors import WorkflowError

SLOWEST = 5
MAX_LISTED = 12
_BAD = ("failed", "error")
MAX_FAILURES = 10


@dataclass(frozen=True)
class Diagnosis:
    repo: Path
    branch: str
    base: str
    sandbox: str
    prepared: Prepared
    test_files: list[str]
    test_command: str
    suite: PhaseRun | None
    """The existing suite on the default branch; None when the environment could not be prepared or the
    runner is missing."""
    missing: str | None = None
    """Why the test runner the test command names is not in the environment, when it is not."""

    @property
    def problem(self) -> str | None:
        """Why a run could not verify anything here, or None when it could."""
        if not self.prepared.ok:
            return self.prepared.detail
        if self.missing:
            return f"The test runner is missing: {self.missing}. The set-up must install it."
        assert self.suite is not None
        run = self.suite.run
        if self.suite.build_failure:
            return f"The build failed on {self.branch}: {self.suite.build_failure}."
        broken = self.suite.broken_environment
        if broken and broken != self.suite.no_counts:  # no counts at all: said below, with the fix
            return f"The existing suite could not run: {broken}."
        if run.no_tests:
            return "No tests ran: a run would have nothing to keep passing (check test_command)."
        if run.timed_out:
            return f"The suite timed out after {run.duration_s:.0f} s ([tools] test_timeout_s)."
        if run.counts is None:
            return (
                f"The test command reported no test counts (exit code {run.exit_code}): a run could not tell "
                "a failing test from a passing one, so it could verify nothing. Name a runner Nightshift "
                "reads (pytest, python -m unittest) or one that prints a pytest or unittest summary."
            )
        return None

    def lines(self) -> list[str]:
        """The report, as printed by ``nightshift doctor``."""
        out = [
            f"repository   {self.repo} at {self.branch} ({self.base[:12]})",
            f"sandbox      {self.sandbox}",
            f"environment  {self.prepared.status}: {self.prepared.detail}",
            f"test files   {', '.join(self.test_files)}",
            f"test command {self.test_command}",
        ]
        variables = self.prepared.environment.variables
        if variables:
            out.insert(3, f"variables    {' '.join(f'{name}={value}' for name, value in variables)}")
        out[4:4] = self._environment_lines()
        if not self.prepared.ok and self.prepared.log:
            out += ["", "set-up output (the end):", *self.prepared.log.splitlines()[-30:]]
        if self.suite is not None:
            out += self._suite_lines(self.suite)
        problem = self.problem
        out.append("")
        if problem:
            out += [f"NOT READY: {problem}", ENVIRONMENT_ADVICE]
        else:
            out.append("READY: a run would verify fixes against this suite.")
        return out

    def _environment_lines(self) -> list[str]:
        """What the set-up made and said, and what a run does with it."""
        prepared, environment = self.prepared, self.prepared.environment
        out = [f"kept         {listed(environment.entries, MAX_LISTED)}"] if environment.entries else []
        out += [
            f"tracked      {path}: made by the set-up, but {self.branch} tracks it: a worktree's own wins"
            for path in prepared.shadowed
        ]
        if prepared.refused:
            refused = listed(prepared.refused, MAX_LISTED)
            out.append(f"not kept     {refused} (symbolic links or special files)")
        out += [f"set-up said  {warning}" for warning in prepared.warnings]
        if environment.build:
            out.append(f"build        {environment.build} (before the tests of every run)")
        elif environment.artefacts:
            out.append(f"stale risk   {would_go_stale(environment.artefacts)}")
        return out

    def _suite_lines(self, suite: PhaseRun) -> list[str]:
        run = suite.run
        per_test = "from the JUnit report" if run.kind == "pytest" else "from the verbose lines"
        how = per_test if run.report is not None else run.summary or "no counts reported"
        out = [f"suite        {run.headline()} [{how}]"]
        report = run.report
        if report is not None and report.cases:
            for case in report.slowest(SLOWEST):
                out.append(f"  slow       {case.duration_s:7.2f} s  {case.id}")
            failing = sorted(
                node for node, case in report.cases.items() if case.outcome in ("failed", "error")
            )
            if failing:
                out.append(
                    f"failing on {self.branch}: {len(failing)} (runs do not count these as regressions)"
                )
                out += [f"  {node}" for node in failing[:MAX_FAILURES]]
                if len(failing) > MAX_FAILURES:
                    out.append(f"  ... and {len(failing) - MAX_FAILURES} more")
        if suite.broken_environment or suite.build_failure or (run.exit_code != 0 and report is None):
            out += ["", "test output (the end):", *suite.excerpt().splitlines()[-30:]]
        return out


async def default_commit(repo: GitRepo) -> tuple[str, str]:
    """The default branch and its commit (origin's when there is one), which runs start from."""
    branch = await repo.default_branch()
    base = await repo.commit(f"refs/remotes/origin/{branch}") or await repo.commit(f"refs/heads/{branch}")
    if base is None:
        raise WorkflowError(f"the default branch {branch!r} of {repo.path} has no commits yet")
    return branch, base


async def diagnose(settings: Settings) -> Diagnosis:
    """Prepare the environment and run the suite on the default branch's commit (see the module)."""
    if settings.repo is None:
        raise WorkflowError("no repository to check: set NIGHTSHIFT_REPO (or pass --repo PATH)")
    path = settings.repo.resolve()
    if not (path / ".git").exists():
        raise WorkflowError(f"{path} is not a git checkout (NIGHTSHIFT_REPO must name one)")
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    repo = GitRepo(path)
    branch, base = await default_commit(repo)
    sandbox = await start_sandbox(settings, data_dir, path)
    prepared = await Environments(repo, settings, sandbox, data_dir).prepare(base)
    patterns = await project_test_patterns(repo, base, settings)
    suite = missing = None
    command = settings.environment.test_command
    if prepared.ok:
        worktree = data_dir / "doctor" / "suite"
        await repo.remove_worktree(worktree)
        try:
            await repo.add_worktree(worktree, base)
            missing = await missing_runner(sandbox, worktree, command, prepared.environment)
            if missing is None:
                runner = Runner(
                    command,
                    timeout_s=settings.tools.test_timeout_s,
                    sandbox=sandbox,
                    environment=prepared.environment,
                )
                try:
                    suite = await runner.run("base_suite", worktree)
                except OSError as exc:
                    raise WorkflowError(f"the test command {command!r} could not start: {exc}") from None
        finally:
            await repo.remove_worktree(worktree)
    return Diagnosis(
        repo=path,
        branch=branch,
        base=base,
        sandbox=sandbox.describe(),
        prepared=prepared,
        test_files=patterns,
        test_command=command,
        suite=suite,
        missing=missing,
    )
