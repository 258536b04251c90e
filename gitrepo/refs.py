"""Reading refs: the commit a revision names, a branch's tip."""

from gitrepo.command import Git
from gitrepo.errors import GitError


async def commit_of(git: Git, revision: str) -> str | None:
    """The full sha of the commit ``revision`` names, or None when it names none."""
    result = await git.run(
        "rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}", ok=(0, 1)
    )
    return result.stdout.strip() if result.returncode == 0 else None


async def resolve_commit(git: Git, revision: str) -> str:
    """The full sha of ``revision`` (a sha, branch or ref), which must name a commit."""
    sha = await commit_of(git, revision)
    if sha is None:
        raise GitError(f"{revision!r} is not a commit in {git.repo}; fetch it or pass an existing commit sha")
    return sha


async def branch_head(git: Git, branch: str) -> str | None:
    """The commit ``refs/heads/<branch>`` points to, or None when there is no such branch."""
    return await commit_of(git, f"refs/heads/{branch}")
