"""``verify``: the four phases in fresh worktrees, and the verdict they add up to."""

import asyncio
import shlex
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import TypeVar

from documents.diffstat import diff_files
from documents.facts import TestCounts, Verdict, VerificationFacts
from environment.artefacts import stale
from gitrepo import GitRepo
from gitrepo.errors import GitError
from safety.sandbox import Environment, Sandbox
from tools.test_reports import belongs_to
from verify import words
from verify.phases import PhaseRun, Runner
from verify.suite import check_suite

A = TypeVar("A")
B = TypeVar("B")
PHASES = ("base_suite", "base_with_tests", "fixed_with_tests", "fixed_suite")
ENVIRONMENT_ADVICE = (
    "Configure how the project is prepared and tested in nightshift.toml ([environment] setup, "
    "test_command) and check it with `nightshift doctor`."
)
Decision = tuple[Verdict, str]
"""A verdict reached before the suites are compared, and its detail."""


def base_worktree_path(workdir: Path) -> Path:
    """Where the base suite runs, next to ``workdir``."""
    return workdir.with_name(f"{workdir.name}-base")


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
) -> VerificationFacts:
    """Check the fix against the new tests and the existing suite with real test runs (see the
    package docstring). ``workdir`` (and ``base_worktree_path(workdir)``) are created as fresh
    worktrees and removed before returning, also on error or cancellation.

    Raises GitError when a worktree cannot be created or removed; every other outcome is a verdict.
    """
    files = _normalised(test_files)
    has_fix, has_tests = bool(fix_diff.strip()), bool(test_diff.strip()) and bool(files)
    if not has_fix and not has_tests:
        return VerificationFacts(
            verdict="no_fix", detail="There is neither a fix nor new tests; nothing was run."
        )
    try:
        if not shlex.split(test_command):
            return VerificationFacts(verdict="not_run", detail="The test command is empty; nothing was run.")
    except ValueError as exc:
        return VerificationFacts(
            verdict="not_run", detail=f"The test command {test_command!r} cannot be parsed: {exc}."
        )
    unsafe = [name for name in files if _unsafe(name)]
    if has_tests and unsafe:
        detail = f"The test files {', '.join(unsafe)} are not paths inside the repository; no test was run."
        return VerificationFacts(verdict="no_tests", detail=detail)
    runner = Runner(test_command, timeout_s=timeout_s, sandbox=sandbox, environment=environment)
    verification = _Verification(repo, base, workdir, runner, files)
    try:
        if not has_tests:
            why = "there is no test diff" if not test_diff.strip() else "the test agent named no test files"
            facts = await verification.fix_only(fix_diff, why)
        else:
            facts = await verification.with_tests(test_diff, fix_diff)
    except OSError as exc:
        detail = f"The test command {test_command!r} could not start: {exc}."
        return verification.facts("not_run", detail)
    return _with_stale(verification.environment_error() or facts, environment, fix_diff)


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
    """One verification in progress: where it runs and the phases run so far."""

    def __init__(self, repo: GitRepo, base: str, workdir: Path, runner: Runner, files: list[str]) -> None:
        self.repo = repo
        self.base = base
        self.workdir = workdir
        self.runner = runner
        self.files = files
        self.runs: dict[str, PhaseRun] = {}

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

        return VerificationFacts(
            verdict=verdict,
            detail=detail,
            base_with_tests=counts("base_with_tests"),
            fixed_with_tests=counts("fixed_with_tests"),
            base_suite=counts("base_suite"),
            fixed_suite=counts("fixed_suite"),
            excerpts={phase: self.runs[phase].excerpt() for phase in PHASES if phase in self.runs},
        )

    async def with_tests(self, test_diff: str, fix_diff: str) -> VerificationFacts:
        """Phases 2-4 in ``workdir``; with a fix, phase 1 alongside in a second worktree."""
        if fix_diff.strip():
            _, decision = await _together(self._base_suite(), self._new_tests(test_diff, fix_diff))
        else:
            decision = await self._new_tests(test_diff, fix_diff)
        if decision is not None:
            return self.facts(*decision)
        new, fixed = self.runs["base_with_tests"], self.runs["fixed_with_tests"]
        check = check_suite(self.runs["base_suite"], self.runs["fixed_suite"], fixed)
        self._checked(check.counts)
        reproduced = f"{words.failed_on_base(new)}, and {words.passed_with_fix(fixed)}"
        if check.ok:
            return self.facts("verified", f"{words.capital(reproduced)}; {check.clause}.")
        return self.facts("regression", f"{words.capital(check.clause)}. {words.capital(reproduced)}.")

    async def fix_only(self, fix_diff: str, why: str) -> VerificationFacts:
        """No new tests: still run the existing suite on base and with the fix, side by side."""

        async def fixed_suite() -> str | None:
            async with _worktree(self.repo, self.workdir, self.base) as worktree:
                try:
                    await self.repo.apply(worktree, fix_diff)
                except GitError as exc:
                    return f"the fix diff does not apply to the base commit: {words.git_reason(exc)}"
                fixed = await self._run("fixed_suite", worktree)
                return fixed.build_failure and f"with the fix, {fixed.build_failure}"

        _, problem = await _together(self._base_suite(), fixed_suite())
        if problem is None:
            check = check_suite(self.runs["base_suite"], self.runs["fixed_suite"], None)
            self._checked(check.counts)
            problem = check.clause
        return self.facts("no_tests", f"{words.capital(why)}, so the fix is unchecked; {problem}.")

    def _checked(self, counts: TestCounts) -> None:
        """The fixed suite's counts as the suite check reports them (the build's time kept)."""
        run = self.runs["fixed_suite"]
        counts = counts.model_copy(update={"build_s": run.counts.build_s})
        self.runs["fixed_suite"] = replace(run, counts=counts)

    async def _base_suite(self) -> None:
        async with _worktree(self.repo, base_worktree_path(self.workdir), self.base) as worktree:
            await self._run("base_suite", worktree)

    async def _new_tests(self, test_diff: str, fix_diff: str) -> Decision | None:
        """Phases 2, 3 and 4 in ``workdir``; the verdict when a phase decides it, else None."""
        async with _worktree(self.repo, self.workdir, self.base) as worktree:
            try:
                await self.repo.apply(worktree, test_diff)
            except GitError as exc:
                return (
                    "no_tests",
                    "The test diff does not apply to the base commit, so no test was run: "
                    f"{words.git_reason(exc)}.",
                )
            missing = [name for name in self.files if not _exists(worktree, name)]
            if missing:
                return (
                    "no_tests",
                    f"The test files {', '.join(missing)} are not in the test diff; no test was run.",
                )
            on_base = await self._run("base_with_tests", worktree, self.files, own=True)
            if on_base.build_failure:
                return "environment_error", _build_broken("On the base commit with the new tests", on_base)
            if on_base.ran_nothing:
                return "no_tests", f"No test was collected from {', '.join(self.files)} on the base commit."
            if not fix_diff.strip():
                shown = (
                    words.failed_on_base(on_base) if on_base.failing else words.did_not_fail_on_base(on_base)
                )
                return "no_fix", f"There is no fix to verify; {shown}."
            if not on_base.failing:
                return "tests_do_not_reproduce", f"{words.capital(words.did_not_fail_on_base(on_base))}."
            try:
                await self.repo.apply(worktree, fix_diff)
            except GitError as exc:
                return "fix_does_not_pass", (
                    "The fix diff does not apply on top of the base commit with the new tests, "
                    f"so the fix was not run: {words.git_reason(exc)}."
                )
            fixed = await self._run("fixed_with_tests", worktree, self.files, own=True)
            if fixed.build_failure:
                return "build_failed", _build_failed(fixed)
            if not fixed.passing:
                return (
                    "fix_does_not_pass",
                    f"{words.capital(words.still_fails(fixed))}; {words.failed_on_base(on_base)}.",
                )
            if fixed.whole:  # the runner ran the whole suite already: that was the suite with the fix
                self.runs["fixed_suite"] = fixed
            elif (suite := await self._run("fixed_suite", worktree)).build_failure:
                return "build_failed", _build_failed(suite)
            return None

    async def _run(
        self, phase: str, worktree: Path, paths: Sequence[str] = (), *, own: bool = False
    ) -> PhaseRun:
        """Run ``phase``; ``own``: the phase's tests are those in the new test files."""
        keep = (lambda node: belongs_to(node, self.files)) if own else None
        run = await self.runner.run(phase, worktree, paths, keep=keep)
        self.runs[phase] = run
        return run


@asynccontextmanager
async def _worktree(repo: GitRepo, path: Path, base: str) -> AsyncIterator[Path]:
    """A fresh worktree at ``path`` on ``base`` (a leftover one is removed first), removed afterwards
    even when the body fails or is cancelled."""
    try:
        await repo.remove_worktree(path)
        yield await repo.add_worktree(path, base)
    finally:
        removal = asyncio.ensure_future(repo.remove_worktree(path))
        try:
            await asyncio.shield(removal)
        except asyncio.CancelledError:
            await removal  # cancelled during cleanup: finish removing before giving up
            raise


async def _together(first: Awaitable[A], second: Awaitable[B]) -> tuple[A, B]:
    """Both results; when one fails (or the caller is cancelled) the other is cancelled and awaited, so
    no phase outlives the verification and every worktree's cleanup has run."""
    one, two = asyncio.ensure_future(first), asyncio.ensure_future(second)
    try:
        await asyncio.gather(one, two)
    except BaseException:
        for task in (one, two):
            task.cancel()
        await asyncio.gather(one, two, return_exceptions=True)
        raise
    return one.result(), two.result()


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
