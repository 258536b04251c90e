"""Worktrees: add and remove them idempotently, read what an agent changed, apply a diff to one.

A worktree's changes are read through a temporary index (``GIT_INDEX_FILE``): a copy of the worktree's
own index (its stat cache keeps ``git add -A`` fast) takes every change, untracked files included, and
``write-tree`` turns it into a tree that diffs against any commit. The worktree's real index, its
HEAD and its files are never touched by reading, and applying a patch changes the files only.
"""

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from gitrepo.command import Git
from gitrepo.errors import GitError
from gitrepo.refs import resolve_commit

APPLY = ("apply", "--whitespace=nowarn")
"""Whitespace is applied as written, whatever ``apply.whitespace`` the repository sets."""
_PATHSPEC_BATCH = 500
"""Paths per ``diff-tree`` call, well under any command-line length limit."""


@dataclass(frozen=True)
class Worktree:
    path: Path
    head: str | None
    branch: str | None
    """The ref checked out there (``refs/heads/main``), None when detached."""
    prunable: bool
    """Registered, but its directory is gone (``git worktree prune`` will drop it)."""


async def list_worktrees(git: Git) -> list[Worktree]:
    """Every worktree git knows about, the main checkout first."""
    text = await git.out("worktree", "list", "--porcelain")
    worktrees = []
    for block in text.split("\n\n"):
        fields = dict(line.partition(" ")[::2] for line in block.splitlines() if line)
        if "worktree" in fields:
            path, head, branch = Path(fields["worktree"]), fields.get("HEAD"), fields.get("branch")
            worktrees.append(Worktree(path, head, branch, "prunable" in fields))
    return worktrees


def _inspect(path: Path) -> tuple[Path, bool, bool]:
    """``path`` resolved, whether it exists, whether it is a directory with something in it."""
    target = path.resolve()
    return target, target.exists(), target.is_dir() and any(target.iterdir())


async def add_worktree(git: Git, path: Path, commit: str) -> Path:
    """A worktree at ``path`` detached at ``commit``; an existing one there at that commit is reused."""
    sha = await resolve_commit(git, commit)
    async with git.lock():
        target, exists, occupied = await asyncio.to_thread(_inspect, path)
        registered = next((w for w in await list_worktrees(git) if w.path == target), None)
        if registered is not None and not registered.prunable and exists:
            if registered.head == sha:
                return target
            raise GitError(
                f"worktree {target} already exists at commit {registered.head}, not {sha}; "
                "remove it first (remove_worktree) or choose another path"
            )
        if registered is not None:
            await git.run("worktree", "prune")
        if occupied:
            raise GitError(
                f"cannot create a worktree at {target}: the directory exists, is not empty and is not a "
                f"worktree of {git.repo}; remove it or choose another path"
            )
        await git.run("worktree", "add", "--detach", "--quiet", str(target), sha)
    return target


async def remove_worktree(git: Git, path: Path) -> None:
    """Remove the worktree at ``path`` with any changes in it; nothing to remove is fine."""
    async with git.lock():
        target, exists, _ = await asyncio.to_thread(_inspect, path)
        if exists and any(w.path == target and not w.prunable for w in await list_worktrees(git)):
            await git.run("worktree", "remove", "--force", "--force", str(target))
        await git.run("worktree", "prune")


async def reset_worktree(git: Git, path: Path, commit: str) -> None:
    """Put the worktree at ``path`` back to exactly ``commit``: tracked changes undone, every untracked
    and ignored file removed. Works inside the worktree only, so it needs no repository lock."""
    sha = await resolve_commit(git, commit)
    await git.run("checkout", "--force", "--quiet", "--detach", sha, cwd=path)
    await git.run("clean", "-ffdxq", cwd=path)


@asynccontextmanager
async def _scratch_index(
    git: Git, worktree: Path, copy_of: Path | None = None
) -> AsyncIterator[dict[str, str]]:
    """``GIT_INDEX_FILE`` pointing to a throwaway copy of ``worktree``'s index (or of ``copy_of``). The
    copy keeps the index's times: git trusts an entry's cached stat only for files changed before the
    index was written, so a copy dated now would hide a same-size change made in the same second."""
    real = copy_of or Path(
        await git.out("rev-parse", "--path-format=absolute", "--git-path", "index", cwd=worktree)
    )
    with tempfile.TemporaryDirectory(prefix="nightshift-index-") as scratch:
        index = Path(scratch) / "index"
        env = {"GIT_INDEX_FILE": str(index)}
        try:
            await asyncio.to_thread(shutil.copy2, real, index)
        except FileNotFoundError:
            await git.run("read-tree", "HEAD", cwd=worktree, env=env)
        yield env


async def snapshot_tree(git: Git, worktree: Path) -> str:
    """The tree of everything in ``worktree`` now (tracked and untracked, minus ignored files)."""
    async with _scratch_index(git, worktree) as env:
        await git.run("add", "--all", "--", ".", cwd=worktree, env=env)
        return await git.out("write-tree", cwd=worktree, env=env)


async def _changed(git: Git, base: str, tree: str) -> list[str]:
    out = (await git.run("diff-tree", "-r", "-z", "--no-renames", "--name-only", base, tree)).stdout
    return sorted(path for path in out.split("\0") if path)


async def changed_paths(git: Git, worktree: Path, base: str) -> list[str]:
    """Repository-relative paths that differ between ``base`` and ``worktree``'s files, sorted."""
    return await _changed(git, base, await snapshot_tree(git, worktree))


async def worktree_diff(git: Git, worktree: Path, base: str, include: Callable[[str], bool]) -> str:
    """A binary-safe patch from ``base`` to ``worktree``'s files, for the paths ``include`` accepts.

    ``diff-tree`` (plumbing) is used so no diff setting of the repository (prefixes, textconv, external
    diff, colour) can make the patch unappliable. Renames show as delete + add, so each side of a
    rename is included or excluded on its own path.
    """
    return await tree_diff(git, base, await snapshot_tree(git, worktree), include)


async def tree_diff(git: Git, base: str, tree: str, include: Callable[[str], bool]) -> str:
    """The patch from ``base`` to ``tree`` (a tree or a commit) for the paths ``include`` accepts, made
    as ``worktree_diff`` makes its own."""
    paths = [path for path in await _changed(git, base, tree) if include(path)]
    patches = []
    for start in range(0, len(paths), _PATHSPEC_BATCH):
        batch = paths[start : start + _PATHSPEC_BATCH]
        result = await git.run(
            "--literal-pathspecs", "diff-tree", "-r", "-p", "--binary", "--full-index", "--no-renames",
            base, tree, "--", *batch,
        )  # fmt: skip
        patches.append(result.stdout)
    return "".join(patches)


async def apply(git: Git, worktree: Path, diff: str) -> None:
    """Apply ``diff`` to ``worktree``'s files, all or nothing.

    The worktree's own index is left as it was, so that it never names an object its commit does not
    hold (a sandbox shows the worktree's git with those objects only: ``safety.sandbox.gitview``). The
    patch goes through a scratch copy of the index that first takes whatever the worktree holds
    (``add --all``), as ``apply --index`` requires. A patch that is already applied (a replayed step) is
    a no-op. One that does not apply as is gets a three-way merge, but only after the merge was tried on
    a second scratch copy and came out clean, so a failure never leaves conflict markers behind.
    """
    if not diff.strip():
        return
    async with _scratch_index(git, worktree) as env:
        await git.run("add", "--all", "--", ".", cwd=worktree, env=env)
        try:
            await git.run(*APPLY, "--index", "-", cwd=worktree, stdin=diff, env=env)
            return
        except GitError as exc:
            first = exc
        reverse = ("--reverse", "--check", "--index", "-")
        applied = await git.run(*APPLY, *reverse, cwd=worktree, stdin=diff, env=env, ok=(0, 1, 128))
        if applied.returncode == 0:
            return
        try:
            async with _scratch_index(git, worktree, copy_of=Path(env["GIT_INDEX_FILE"])) as trial:
                await git.run(*APPLY, "--cached", "--3way", "-", cwd=worktree, stdin=diff, env=trial)
        except GitError:
            raise GitError(
                f"the patch does not apply to {worktree}, not even with a three-way merge; nothing was "
                f"changed. git said: {first.stderr}",
                command=first.command,
                returncode=first.returncode,
                stderr=first.stderr,
            ) from first
        await git.run(*APPLY, "--index", "--3way", "-", cwd=worktree, stdin=diff, env=env)
