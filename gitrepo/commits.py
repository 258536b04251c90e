"""Commits on a branch, made with plumbing: no checkout's files, index or HEAD ever move.

Each ``CommitSpec`` diff is applied to a scratch index (``read-tree`` the parent, ``apply --cached``,
``write-tree``), ``commit-tree`` makes the commit and one compare-and-swap ``update-ref`` moves the
branch, so a crash leaves either the old branch or the new one, never half of it.

Semantics of ``base``: the parent of the first new commit. The branch must be missing or at ``base``
(then the commits are added), or already hold exactly the planned commits on top of ``base`` (a replay:
the existing shas are returned and nothing is written). A revision passes ``base=<current branch tip>``
and the new specs, so the branch grows by fast-forward. Any other branch state is refused.
"""

import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gitrepo.command import Git
from gitrepo.errors import GitError
from gitrepo.refs import branch_head, resolve_commit
from gitrepo.worktrees import APPLY

_AUTHOR = re.compile(r"^\s*([^<>]*?)\s*<([^<>\s]+)>\s*$")


@dataclass(frozen=True)
class CommitSpec:
    """One commit to make: its message and the diff (from the previous commit) it records."""

    message: str
    diff: str


@dataclass(frozen=True)
class _Planned:
    tree: str
    message: str


def author_env(author: str) -> dict[str, str]:
    """Author and committer variables for ``"Name <email>"``."""
    match = _AUTHOR.match(author)
    if match is None or not match.group(1):
        raise GitError(f"commit author {author!r} must look like 'Name <email@example.com>'")
    name, email = match.groups()
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }


async def commit_on_branch(
    git: Git, branch: str, base: str, commits: Sequence[CommitSpec], author: str
) -> list[str]:
    """Make ``commits`` (empty diffs skipped) on ``branch`` on top of ``base``; see the module docstring.

    Returns the shas of the commits on top of ``base``, oldest first (``[]`` when every diff was empty;
    the branch is then left as it was).
    """
    identity = author_env(author)
    if not await git.succeeds("check-ref-format", f"refs/heads/{branch}"):
        raise GitError(f"{branch!r} is not a valid branch name; build it with branch_name()")
    parent = await resolve_commit(git, base)
    planned = await _plan(git, parent, commits)
    async with git.lock():
        tip = await branch_head(git, branch)
        if tip is not None and tip != parent:
            existing = await _commits_on_top(git, parent, tip)
            if existing is not None and [commit for _, commit in existing] == planned:
                return [sha for sha, _ in existing]
            raise GitError(
                f"branch {branch} is at {tip[:12]}, which is neither the base {parent[:12]} nor these "
                f"{len(planned)} commit(s) on top of it; refusing to overwrite it. To add commits to the "
                "branch, pass its current tip as the base."
            )
        shas: list[str] = []
        for commit in planned:
            result = await git.run(
                "commit-tree", "--no-gpg-sign", commit.tree, "-p", shas[-1] if shas else parent, "-F", "-",
                stdin=commit.message, env=identity,
            )  # fmt: skip
            shas.append(result.stdout.strip())
        if shas:
            ref = f"refs/heads/{branch}"
            await git.run("update-ref", "-m", "nightshift: commit", ref, shas[-1], tip or "")
    return shas


async def tree_with(git: Git, base: str, diffs: Sequence[str]) -> str:
    """The tree of ``base`` with ``diffs`` applied one after the other (empty ones skipped)."""
    planned = await _plan(git, await resolve_commit(git, base), [CommitSpec("tree", diff) for diff in diffs])
    return planned[-1].tree if planned else await git.out("rev-parse", f"{base}^{{tree}}")


async def _plan(git: Git, parent: str, commits: Sequence[CommitSpec]) -> list[_Planned]:
    """The tree and normalised message of each commit; diffs that change nothing are dropped."""
    planned: list[_Planned] = []
    with tempfile.TemporaryDirectory(prefix="nightshift-commit-") as scratch:
        env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        await git.run("read-tree", parent, env=env)
        tree = await git.out("write-tree", env=env)
        for spec in commits:
            message = spec.message.strip()
            if not message:
                raise GitError("a commit message is empty; every CommitSpec needs a message")
            if not spec.diff.strip():
                continue
            try:
                await git.run(*APPLY, "--cached", "-", stdin=spec.diff, env=env)
            except GitError as exc:
                raise GitError(
                    f"the diff for commit {message.splitlines()[0]!r} does not apply on top of "
                    f"{parent[:12]} and the commits before it: {exc.stderr}",
                    command=exc.command,
                    returncode=exc.returncode,
                    stderr=exc.stderr,
                ) from exc
            new_tree = await git.out("write-tree", env=env)
            if new_tree != tree:
                planned.append(_Planned(new_tree, message + "\n"))
                tree = new_tree
    return planned


async def _commits_on_top(git: Git, parent: str, tip: str) -> list[tuple[str, _Planned]] | None:
    """The commits from ``parent`` (exclusive) to ``tip``, if they form one straight line on it."""
    if not await git.succeeds("merge-base", "--is-ancestor", parent, tip):
        return None
    chain: list[tuple[str, _Planned]] = []
    expected_parent = parent
    for line in (await git.out("rev-list", "--reverse", "--parents", f"{parent}..{tip}")).splitlines():
        sha, *parents = line.split()
        if parents != [expected_parent]:
            return None
        raw = (await git.run("cat-file", "commit", sha)).stdout
        header, _, message = raw.partition("\n\n")
        tree = header.splitlines()[0].removeprefix("tree ")
        chain.append((sha, _Planned(tree, message)))
        expected_parent = sha
    return chain
