"""``verify``: the four phases in fresh worktrees, and the verdict they add up to."""

import os
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path, PurePosixPath

from documents.diffstat import diff_files
from documents.facts import PhaseTime, TestCounts, TestNames, Verdict, VerificationFacts
from environment.artefacts import stale
from gitrepo import GitRepo
from gitrepo.errors import GitError
from safety.sandbox import Environment, Sandbox
from tools.runner_reports import belongs_to
from tools.runners import TestCommand, parse_test_command
from verify import words
from verify.cache import BaseSuiteCache
from verify.compare import DiffTests, diff_tests
from verify.phases import PhaseRun, Runner
from verify.plan import Decision, Plan, Worktrees
from verify.suite import check_suite

PHASES = ("base_suite", "base_with_tests", "fixed_with_tests", "fixed_suite")
ENVIRONMENT_ADVICE = (
    "Configure how the project is prepared and tested in nightshift.toml ([environment] setup, "
    "test_command) and check it with `nightshift doctor`."
)


def base_worktree_path(workdir: Path) -> Path:
    """Where the base suite runs, next to ``workdir``."""
    return workdir.with_name(f"{workdir.name}-base")


def fixed_worktree_path(workdir: Path) -> Path:
    """Where the fix runs (with the new tests), next to ``workdir``."""
    return workdir.with_name(f"{workdir.name}-fixed")


def parallel_default() -> bool:
    """Phases run at once when the machine has at least two cores."""
    return (os.cpu_count() or 1) >= 2


async def verify(
    repo: GitRepo,
    *,
    base: str,
    fix_diff: str,
    test_diff: str,
    test_files: Sequence[str],
    workdir: Path,
    test_command: str,
    timeout_s: float,
    sandbox: Sandbox,
    environment: Environment,
    parallel: bool | None = None,
    cache: BaseSuiteCache | None = None,
) -> VerificationFacts:
    """Check the fix against the new tests and the existing suite with real test runs (see the
    package docstring). ``workdir`` and the worktrees beside it (``base_worktree_path``,
    ``fixed_worktree_path``) are created fresh and removed before returning, also on error or
    cancellation. ``parallel``: run the phases that do not wait for each other at once (default: with
    two cores or more). ``cache``: where the base commit's suite is looked up first and kept.

    Raises GitError when a worktree cannot be created or removed; every other outcome is a verdict.
    """
    started = time.monotonic()
    files = _normalised(test_files)
    has_fix, has_tests = bool(fix_diff.strip()), bool(test_diff.strip()) and bool(files)
    if not has_fix and not has_tests:
        return VerificationFacts(
            verdict="no_fix", detail="There is neither a fix nor new tests; nothing was run."
        )
    try:
        command = parse_test_command(test_command)
    except ValueError as exc:
        return VerificationFacts(
            verdict="not_run", detail=f"The test command {test_command!r} cannot be used: {exc}."
        )
    unsafe = [name for name in files if _unsafe(name)]
    if has_tests and unsafe:
        detail = f"The test files {', '.join(unsafe)} are not paths inside the repository; no test was run."
        return VerificationFacts(verdict="no_tests", detail=detail)
    unreachable = [name for name in files if command.label(name) is None]
    if has_tests and unreachable:
        where = command.discover_top if command.discover_top is not None else command.root
        detail = (
            f"The test files {', '.join(unreachable)} are outside {where}, where the test command "
            f"{test_command!r} finds its tests, so it would never run them; no test was run."
        )
        return VerificationFacts(verdict="no_tests", detail=detail)
    runner = Runner(test_command, timeout_s=timeout_s, sandbox=sandbox, environment=environment)
    run_in_parallel = parallel_default() if parallel is None else parallel
    verification = _Verification(repo, base, workdir, runner, command, files, run_in_parallel, cache, started)
    try:
        if not has_tests:
            why = "there is no test diff" if not test_diff.strip() else "the test agent named no test files"
            facts = await verification.fix_only(fix_diff, why)
        else:
            facts = await verification.with_tests(test_diff, fix_diff)
    except OSError as exc:
        facts = verification.facts("not_run", f"The test command {test_command!r} could not start: {exc}.")
    finally:
        await verification.close()
    facts = _with_stale(verification.environment_error() or facts, environment, fix_diff)
    return facts.model_copy(update={"duration_s": round(time.monotonic() - started, 2)})


def _with_stale(facts: VerificationFacts, environment: Environment, fix_diff: str) -> VerificationFacts:
    """``facts``, saying so when the tests ran artefacts the fix makes stale (no build rebuilt them)."""
    if environment.build or not environment.artefacts or not fix_diff.strip():
        return facts
    changed = [path for change in diff_files(fix_diff) for path in (change.path, change.old_path) if path]
    found = stale(environment.artefacts, changed)
    if not found:
        return facts
    said = " ".join(item.sentence() for item in found)
    return facts.model_copy(update={"stale": said, "detail": f"{facts.detail} {said}"})


class _Verification:
    """One verification in progress: where it runs, the phases run so far, what they showed."""

    def __init__(
        self,
        repo: GitRepo,
        base: str,
        workdir: Path,
        runner: Runner,
        command: TestCommand,
        files: list[str],
        parallel: bool,
        cache: BaseSuiteCache | None,
        started: float,
    ) -> None:
        self.repo = repo
        self.base = base
        self.workdir = workdir
        self.runner = runner
        self.command = command
        self.files = files
        self.labels = [label for label in map(command.label, files) if label is not None]
        self.cache = cache
        self.started = started
        """When the verification started (``time.monotonic``): phase times are given from then."""
        self.trees = Worktrees(repo, base)
        self.plan = Plan(parallel)
        self.runs: dict[str, PhaseRun] = {}
        self.found: dict[str, TestNames] = {}

    async def close(self) -> None:
        await self.plan.close()
        await self.trees.close()

    def environment_error(self) -> VerificationFacts | None:
        """The environment verdict, when the existing suite could not even be collected on the base
        commit: then no phase says anything about the fix."""
        base = self.runs.get("base_suite")
        if base is not None and base.build_failure:
            return self.facts("environment_error", _build_broken("On the base commit", base))
        problem = base.broken_environment if base else None
        if problem is None:
            return None
        detail = (
            f"The existing suite could not run on the base commit ({problem}), so the project's "
            "environment, not the fix, is the problem; nothing here says whether the fix works. "
            f"{ENVIRONMENT_ADVICE}"
        )
        return self.facts("environment_error", detail)

    def facts(self, verdict: Verdict, detail: str) -> VerificationFacts:
        def counts(phase: str) -> TestCounts | None:
            run = self.runs.get(phase)
            return run.counts if run else None

        return VerificationFacts.model_validate({
            "verdict": verdict,
            "detail": detail,
            **{phase: counts(phase) for phase in PHASES},
            "excerpts": {phase: self.runs[phase].excerpt() for phase in PHASES if phase in self.runs},
            "phase_times": {phase: self._phase_time(run) for phase, run in self.runs.items()},
            **self.found,
        })  # fmt: skip

    def _phase_time(self, run: PhaseRun) -> PhaseTime:
        span = [round(at - self.started, 3) for at in run.span] if run.span else [None, None]
        return PhaseTime(
            duration_s=round(run.run.duration_s, 2), cached=run.cached, started_s=span[0], ended_s=span[1]
        )

    # -- the phases ----------------------------------------------------------------------------------

    async def base_suite(self) -> PhaseRun:
        """Phase 1, from the cache when an earlier verification ran it."""
        cached = await self.cache.get() if self.cache else None
        if cached is not None:
            return PhaseRun.of("base_suite", cached, cached=True)
        tree = await self.trees.make(base_worktree_path(self.workdir))
        run = await self._run("base_suite", tree)
        self.trees.release(tree)
        if self.cache is not None:
            await self.cache.put(run.run)
        return run

    async def cached_base_suite(self) -> PhaseRun | None:
        """Phase 1 only if it costs nothing (without a fix nothing else needs it)."""
        cached = await self.cache.get() if self.cache else None
        if cached is None:
            return None
        self.runs["base_suite"] = run = PhaseRun.of("base_suite", cached, cached=True)
        return run

    async def phase(self, name: str) -> PhaseRun | Decision:
        """The phase's result, kept as evidence now that the verdict reads it (a phase started at once
        and cancelled by an early verdict is not)."""
        result = await self.plan.get(name)
        if isinstance(result, PhaseRun):
            self.runs[name] = result
        return result

    async def tests_tree(self, test_diff: str) -> Path | Decision:
        tree = await self.trees.make(self.workdir)
        try:
            await self.repo.apply(tree, test_diff)
        except GitError as exc:
            return Decision(
                "no_tests",
                "The test diff does not apply to the base commit, so no test was run: "
                f"{words.git_reason(exc)}.",
            )
        missing = [name for name in self.files if not _exists(tree, name)]
        if missing:
            return Decision(
                "no_tests", f"The test files {', '.join(missing)} are not in the test diff; no test was run."
            )
        return tree

    async def fixed_tree(self, test_diff: str, fix_diff: str) -> Path | Decision:
        tree = await self.trees.make(fixed_worktree_path(self.workdir))
        try:
            await self.repo.apply(tree, test_diff)
            await self.repo.apply(tree, fix_diff)
        except GitError as exc:
            return Decision("fix_does_not_pass", (
                "The fix diff does not apply on top of the base commit with the new tests, "
                f"so the fix was not run: {words.git_reason(exc)}."
            ))  # fmt: skip
        return tree

    async def on_tree(
        self, phase: str, tree: str, paths: Sequence[str], *, after: str | None = None, last: bool = False
    ) -> PhaseRun | Decision:
        """Run ``phase`` in the worktree the plan's ``tree`` makes; ``after``: once that phase is done
        (two short runs one after the other, beside the long one, keep two cores busy, not three);
        ``last``: nothing else runs in that worktree, so it goes."""
        made = await self.plan.get(tree)
        if isinstance(made, Decision):
            return made
        if after is not None:
            await self.plan.get(after)
        run = await self._run(phase, made, paths)
        if last:
            self.trees.release(made)
        return run

    async def _run(self, phase: str, worktree: Path, paths: Sequence[str] = ()) -> PhaseRun:
        try:
            return await self.runner.run(phase, worktree, paths)
        except ValueError as exc:  # the command cannot be given these paths: checked before, so a bug
            raise OSError(str(exc)) from exc

    # -- the verdicts ----------------------------------------------------------------------------------

    async def with_tests(self, test_diff: str, fix_diff: str) -> VerificationFacts:
        """The new tests on base, with the fix, and the suite with the fix, against the base suite."""
        has_fix = bool(fix_diff.strip())
        whole = not self.command.selective
        plan = self.plan
        if has_fix:  # the longest runs first: the suites
            plan.add("base_suite", self.base_suite)
            plan.add("fixed_tree", lambda: self.fixed_tree(test_diff, fix_diff))
            if not whole:
                plan.add("fixed_suite", lambda: self.on_tree("fixed_suite", "fixed_tree", ()))
        plan.add("tests_tree", lambda: self.tests_tree(test_diff))
        plan.add(
            "base_with_tests", lambda: self.on_tree("base_with_tests", "tests_tree", self.files, last=True)
        )
        if has_fix:
            plan.add(
                "fixed_with_tests",
                lambda: self.on_tree("fixed_with_tests", "fixed_tree", self.files, after="base_with_tests"),
            )
        base = await self.phase("base_suite") if has_fix else await self.cached_base_suite()
        assert not isinstance(base, Decision)
        broken = self.environment_error()
        if broken is not None:
            return broken
        on_base = await self.phase("base_with_tests")
        if isinstance(on_base, Decision):
            return self.facts(on_base.verdict, on_base.detail)
        if on_base.build_failure:
            where = "On the base commit with the new tests"
            return self.facts("environment_error", _build_broken(where, on_base))
        if on_base.no_counts:
            return self.facts("not_run", f"The new tests could not be run: {on_base.no_counts}.")
        if on_base.ran_nothing:
            return self.facts(
                "no_tests", f"No test was collected from {', '.join(self.files)} on the base commit."
            )
        tests = self._classify(base, on_base)
        on_base = self.runs["base_with_tests"]
        if on_base.owns_nothing:
            return self.facts("tests_do_not_reproduce", (
                f"Every test in {', '.join(self.files)} already exists on the base commit with the same "
                "outcome, so the test diff adds no test that could reproduce the bug."
            ))  # fmt: skip
        reproduced = self._reproduced(base, on_base)
        if not has_fix:
            shown = words.failed_on_base(on_base) if reproduced else words.did_not_fail_on_base(on_base)
            return self.facts("no_fix", f"There is no fix to verify; {shown}.")
        if not reproduced:
            return self.facts(
                "tests_do_not_reproduce", f"{words.capital(words.did_not_fail_on_base(on_base))}."
            )
        fixed = await self.phase("fixed_with_tests")
        if isinstance(fixed, Decision):
            return self.facts(fixed.verdict, fixed.detail)
        if fixed.build_failure:
            return self.facts("build_failed", _build_failed(fixed))
        if fixed.no_counts:
            return self.facts("not_run", f"The new tests could not be run with the fix: {fixed.no_counts}.")
        fixed = self._mine("fixed_with_tests", fixed, tests)
        if tests is not None and fixed.own_report is not None:  # the new tests as they run with the fix
            new = [node for node in fixed.own_report.cases if node not in tests.changed]
            self.found["new_tests"] = TestNames.of(new)
        if not self._fix_passes(base, fixed):
            return self.facts(
                "fix_does_not_pass",
                f"{words.capital(words.still_fails(fixed))}; {words.failed_on_base(on_base)}.",
            )
        suite = fixed if whole else await self.phase("fixed_suite")
        if isinstance(suite, Decision):
            return self.facts(suite.verdict, suite.detail)
        if suite.build_failure:
            return self.facts("build_failed", _build_failed(suite))
        if suite.no_counts:
            return self.facts("not_run", f"The suite could not be run with the fix: {suite.no_counts}.")
        assert base is not None
        owns = tests.owns if tests else (lambda node: belongs_to(node, self.labels))
        check = check_suite(base, suite, owns)
        counts = _with_build_time(check.counts, suite)
        self.runs["fixed_suite"] = replace(suite, phase="fixed_suite", counts=counts)
        self.found.update(
            broken=TestNames.of(check.broken),
            already_failing=TestNames.of(check.already_failing),
            not_comparable=TestNames.of(check.not_comparable),
        )
        changed = words.changed(sorted(tests.changed)) if tests else ""
        reproduced_words = f"{words.failed_on_base(on_base)}{changed}, and {words.passed_with_fix(fixed)}"
        if check.ok:
            return self.facts("verified", f"{words.capital(reproduced_words)}; {check.clause}.")
        if check.undecided:
            return self.facts("not_run", f"{words.capital(reproduced_words)}; {check.clause}.")
        return self.facts("regression", f"{words.capital(check.clause)}. {words.capital(reproduced_words)}.")

    def _classify(self, base: PhaseRun | None, on_base: PhaseRun) -> DiffTests | None:
        """Tell the test diff's tests from the base commit's, when both runs give per-test outcomes; the
        base_with_tests run then counts only the diff's tests."""
        if base is None or base.report is None or on_base.report is None:
            if not on_base.whole:  # the run is of the test files: all of them count
                self.runs["base_with_tests"] = on_base.mine(lambda node: belongs_to(node, self.labels))
            return None
        in_files = (lambda _: True) if on_base.whole else (lambda node: belongs_to(node, self.labels))
        tests = diff_tests(base.report, on_base.report, in_files)
        self.found.update(new_tests=TestNames.of(tests.new), changed_tests=TestNames.of(tests.changed))
        self._mine("base_with_tests", on_base, tests)
        return tests

    def _mine(self, phase: str, run: PhaseRun, tests: DiffTests | None) -> PhaseRun:
        """``run`` counting only the test diff's tests (all the test files' without per-test outcomes)."""
        if tests is not None:
            run = run.mine(tests.owns)
        elif not run.whole:
            run = run.mine(lambda node: belongs_to(node, self.labels))
        self.runs[phase] = run
        return run

    def _reproduced(self, base: PhaseRun | None, on_base: PhaseRun) -> bool:
        """The new tests fail on the base commit. A whole-suite run known by counts only: it shows more
        failures than the base suite (whose failures are the base commit's own)."""
        if on_base.own is None and on_base.whole and base is not None:
            return on_base.counts.failed + on_base.counts.errors > base.counts.failed + base.counts.errors
        return on_base.failing

    def _fix_passes(self, base: PhaseRun | None, fixed: PhaseRun) -> bool:
        """Every new test passes with the fix. A whole-suite run known by counts only: no more failures
        than the base suite, and more passes."""
        if fixed.own is None and fixed.whole and base is not None:
            bad, was = fixed.counts.failed + fixed.counts.errors, base.counts.failed + base.counts.errors
            return not fixed.run.timed_out and bad <= was and fixed.counts.passed > base.counts.passed
        return fixed.passing

    async def fix_only(self, fix_diff: str, why: str) -> VerificationFacts:
        """No new tests: still run the existing suite on base and with the fix."""

        async def fixed_suite() -> PhaseRun | Decision:
            tree = await self.trees.make(fixed_worktree_path(self.workdir))
            try:
                await self.repo.apply(tree, fix_diff)
            except GitError as exc:
                return Decision(
                    "no_tests", f"the fix diff does not apply to the base commit: {words.git_reason(exc)}"
                )
            return await self._run("fixed_suite", tree)

        self.plan.add("base_suite", self.base_suite)
        self.plan.add("fixed_suite", fixed_suite)
        base = await self.phase("base_suite")
        suite = await self.phase("fixed_suite")
        assert not isinstance(base, Decision)
        if isinstance(suite, Decision):
            problem = suite.detail
        elif suite.build_failure:
            problem = f"with the fix, {suite.build_failure}"
        elif suite.no_counts or base.no_counts:
            problem = f"the suite could not be compared: {suite.no_counts or base.no_counts}"
        else:
            check = check_suite(base, suite, lambda _: False)
            self.runs["fixed_suite"] = replace(suite, counts=_with_build_time(check.counts, suite))
            self.found.update(
                broken=TestNames.of(check.broken),
                already_failing=TestNames.of(check.already_failing),
                not_comparable=TestNames.of(check.not_comparable),
            )
            problem = check.clause
        return self.facts("no_tests", f"{words.capital(why)}, so the fix is unchecked; {problem}.")


def _with_build_time(counts: TestCounts, run: PhaseRun) -> TestCounts:
    """The suite check's counts, with the time ``[environment] build`` took before that run."""
    return counts.model_copy(update={"build_s": run.counts.build_s})


def _build_broken(where: str, run: PhaseRun) -> str:
    """Detail for a build that fails without the fix: the environment's fault, not the fix's."""
    return (
        f"{where}, {run.build_failure}, so no test ran and nothing here says whether the fix works. "
        "Check [environment] build with `nightshift doctor`."
    )


def _build_failed(run: PhaseRun) -> str:
    return (
        f"With the fix, {run.build_failure}, so its tests did not run; the fix must build "
        "([environment] build rebuilds what depends on the code under test)."
    )


def _normalised(files: Sequence[str]) -> list[str]:
    """POSIX spellings (``./tests/x.py`` -> ``tests/x.py``); blanks and repeats dropped."""
    names: dict[str, None] = {}
    for raw in files:
        path, sep, node = raw.strip().partition("::")
        if path:
            names[PurePosixPath(path).as_posix() + sep + node] = None
    return list(names)


def _unsafe(name: str) -> bool:
    """Not a path inside the repository, or one the test command would take for an option."""
    path = PurePosixPath(name.partition("::")[0])
    return name.startswith("-") or path.is_absolute() or ".." in path.parts or path == PurePosixPath(".")


def _exists(worktree: Path, name: str) -> bool:
    """Whether the file or directory part of ``name`` exists in ``worktree``, not outside it via a link."""
    target = (worktree / name.partition("::")[0]).resolve()
    return target.is_relative_to(worktree.resolve()) and target.exists()
