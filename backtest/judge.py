"""Judging a case's run against the upstream tests, which the agents never saw.

The agents' fix (their code changes, without their tests) is applied to the parent with the commit's
own test files added, and the verifier's phases run in the sandbox: the case is *fixed* when the
upstream tests pass with the agents' fix and nothing that passed on the parent breaks (the verifier's
``verified``). How the agents' fix differs from the upstream one is kept for the report.
"""

from dataclasses import dataclass

from backtest.cases import Case, Checker
from documents.facts import VERDICT_TEXT
from gitrepo.errors import GitError


@dataclass(frozen=True)
class Judgement:
    fixed: bool
    detail: str
    """What the upstream tests said, as the verifier words it."""
    against_upstream: str
    """The patch from the upstream fix to the agents' fix (code only); empty when they are the same."""


async def judge(checker: Checker, case: Case, agents_fix: str) -> Judgement:
    if not agents_fix.strip():
        return Judgement(False, "The agents submitted no fix; nothing was run.", "")
    name = f"judge-{case.commit.sha[:12]}"
    checked = await checker.verify(name, case.parent, agents_fix, case.test_diff, case.test_files)
    fixed = checked.verdict == "verified"
    detail = (
        checked.detail if fixed else f"{VERDICT_TEXT.get(checked.verdict, checked.verdict)}: {checked.detail}"
    )
    return Judgement(fixed, detail, await _against_upstream(checker, case, agents_fix))


async def _against_upstream(checker: Checker, case: Case, agents_fix: str) -> str:
    """The agents' fix as a patch on top of the upstream commit, test files left out."""
    repo = checker.repo
    worktree = await repo.add_worktree(checker.workdir / f"compare-{case.commit.sha[:12]}", case.parent)
    try:
        try:
            await repo.apply(worktree, agents_fix)
        except GitError as exc:
            return f"(the agents' fix does not apply to the parent: {exc})"
        return await repo.worktree_diff(
            worktree, case.commit.sha, include=lambda path: not case.is_test(path)
        )
    finally:
        await repo.remove_worktree(worktree)
