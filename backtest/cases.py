"""Picking cases from history: past commits that fixed a bug and added the tests that prove it.

A commit is a case when it is not a merge, changes both code and tests (by the project's own test
patterns at its parent), and, checked for real in the sandbox by the verifier itself: the parent's
existing suite passes, the commit's test files fail on the parent, and they pass with the commit's
code without breaking anything that passed. Every other commit is skipped with the reason, in the
words of ``REASONS`` (documented in docs/backtest.md): the verifier's verdict decides it first.

The checks run on the checker's repository, a full clone of the user's: no agent ever sees it.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from config import Settings
from documents.diffstat import diff_files
from documents.facts import VerificationFacts
from environment.layout import project_test_patterns
from environment.prepare import Environments
from gitrepo import GitRepo
from gitrepo.history import PastCommit
from safety.sandbox import Sandbox
from safety.writes import WriteRules
from verify import verify
from workflow.engine import start_sandbox

MERGE = "a merge commit"
ROOT = "a root commit (no parent)"
NO_TEST_CHANGE = "no test change"
NO_CHANGE = "no change to code or tests"
TESTS_ONLY = "no code change (tests only)"
PARENT_FAILS = "the parent's existing suite fails"
NOT_CHECKED = "it could not be checked"
VERDICT_REASONS = {
    "environment_error": "the parent's suite cannot run in the repository's environment",
    "not_run": "the test command cannot run",
    "no_tests": "its new tests could not be run",
    "tests_do_not_reproduce": "its new tests already pass on the parent",
    "fix_does_not_pass": "its new tests fail on the commit itself",
    "regression": "the commit breaks tests that passed on its parent",
    "build_failed": "the [environment] build fails on the commit itself",
}
"""Why a commit whose change the verifier did not call ``verified`` is no case, by verdict."""
REASONS = (
    MERGE, ROOT, NO_TEST_CHANGE, NO_CHANGE, TESTS_ONLY, *VERDICT_REASONS.values(), PARENT_FAILS, NOT_CHECKED
)  # fmt: skip
"""Every reason a commit is skipped for, in the order they are decided."""


@dataclass(frozen=True)
class Case:
    """A past fix to replay: the repository at ``parent``, judged by the commit's own tests."""

    commit: PastCommit
    parent: str
    fix_diff: str
    """The upstream fix: the commit's changes to everything but test files."""
    test_diff: str
    """The upstream tests: the commit's changes to test files, which the agents never see."""
    test_files: list[str]
    """The test files the commit adds or changes."""
    is_test: Callable[[str], bool]


@dataclass(frozen=True)
class Skipped:
    commit: PastCommit
    reason: str
    detail: str = ""


@dataclass(frozen=True)
class Checker:
    """What a real check needs: the repository (the backtest's private clone), the sandbox and the
    repository's environments, and a directory for the verifier's worktrees."""

    repo: GitRepo
    settings: Settings
    sandbox: Sandbox
    environments: Environments
    workdir: Path

    @classmethod
    async def start(cls, repo: GitRepo, settings: Settings, state: Path) -> "Checker":
        """A checker of ``repo`` with a sandbox and environments of its own, kept in ``state``."""
        await asyncio.to_thread(state.mkdir, parents=True, exist_ok=True)
        sandbox = await start_sandbox(settings, state, repo.path)
        return cls(repo, settings, sandbox, Environments(repo, settings, sandbox, state), state / "checks")

    async def verify(
        self, name: str, base: str, fix_diff: str, test_diff: str, test_files: list[str]
    ) -> VerificationFacts:
        """The verifier's four phases on ``base`` with ``fix_diff`` and ``test_diff``, in the sandbox."""
        prepared = await self.environments.prepare(base)
        if not prepared.ok:
            return VerificationFacts(verdict="environment_error", detail=prepared.detail)
        return await verify(
            self.repo,
            base=base,
            fix_diff=fix_diff,
            test_diff=test_diff,
            test_files=test_files,
            workdir=self.workdir / name,
            test_command=self.settings.environment.test_command,
            timeout_s=self.settings.tools.test_timeout_s,
            sandbox=self.sandbox,
            environment=prepared.environment,
            parallel=self.settings.environment.parallel_phases,
        )


async def qualify(checker: Checker, commit: PastCommit) -> Case | Skipped:
    """``commit`` as a case, or why it is none (cheap reasons first, then the real test runs)."""
    if len(commit.parents) != 1:
        return Skipped(commit, MERGE if commit.parents else ROOT)
    parent = commit.parents[0]
    repo = checker.repo
    patterns = await project_test_patterns(repo, parent, checker.settings)
    is_test = WriteRules("any", patterns).is_test_file
    fix_diff = await repo.commit_diff(parent, commit.sha, include=lambda path: not is_test(path))
    test_diff = await repo.commit_diff(parent, commit.sha, include=is_test)
    test_files = [change.path for change in diff_files(test_diff) if change.status != "deleted"]
    if not test_files:
        return Skipped(commit, NO_TEST_CHANGE if fix_diff else NO_CHANGE)
    if not fix_diff:
        return Skipped(commit, TESTS_ONLY)
    checked = await checker.verify(f"qualify-{commit.sha[:12]}", parent, fix_diff, test_diff, test_files)
    if checked.verdict != "verified":
        return Skipped(commit, VERDICT_REASONS.get(checked.verdict, NOT_CHECKED), checked.detail)
    base_suite = checked.base_suite
    if base_suite is not None and base_suite.failed + base_suite.errors:
        return Skipped(commit, PARENT_FAILS, f"On the parent: {base_suite.summary()}.")
    return Case(commit, parent, fix_diff, test_diff, test_files, is_test)
