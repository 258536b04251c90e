"""``GitRepo``: the local checkout Nightshift fixes, its worktrees, branches and ``origin``."""

import asyncio
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from gitrepo import commits as _commits
from gitrepo import worktrees
from gitrepo.command import Git
from gitrepo.commits import CommitSpec
from gitrepo.errors import GitError
from gitrepo.history import PastCommit, past_commits
from gitrepo.names import BRANCH_PREFIX
from gitrepo.refs import branch_head, commit_of, resolve_commit


@dataclass(frozen=True, slots=True)
class PushOutcome:
    """What ``GitRepo.fast_forward`` did, and git's words for it."""

    state: Literal["pushed", "already", "refused"]
    detail: str


class GitRepo:
    """One local checkout (the main working tree, not a worktree) shared by every run.

    Every method is idempotent, so a replayed workflow step repeats it safely. Create one ``GitRepo``
    per checkout path: the lock that serialises worktree and ref changes is keyed by that path.
    """

    def __init__(self, path: Path, *, env: Mapping[str, str] | None = None) -> None:
        """``env`` is the environment git's own variables are taken from (default ``os.environ``);
        only an allowlist reaches git (see ``gitrepo.command``)."""
        self.path = path.resolve()
        self._git = Git(self.path, env)

    @classmethod
    async def holding_only(
        cls, source: Path, commit: str, target: Path, *, branch: str = "main"
    ) -> "GitRepo":
        """A new repository at ``target`` holding ``commit`` of the repository at ``source`` and its
        history, and nothing else: made by fetching that one commit, never by pruning a copy, so it has
        no later commit, no tag, no other ref, no remote and no reflog; ``branch`` points at ``commit``.
        ``target`` must not exist yet."""
        await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
        await Git(target.parent).run("init", "--quiet", f"--initial-branch={branch}", "--", str(target))
        git = Git(target)
        await git.run("fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--", str(source), commit)
        ref = f"refs/heads/{branch}"
        await git.run("-c", "core.logAllRefUpdates=false", "update-ref", ref, f"{commit}^{{commit}}")
        return cls(target)

    async def has_origin(self) -> bool:
        return "origin" in await self._remotes()

    async def default_branch(self) -> str:
        """``origin/HEAD``'s branch if set, else the first existing of ``init.defaultBranch``, the
        checked-out branch, ``main``, ``master``."""
        git = self._git
        if await self.has_origin():
            origin_head = await git.run("symbolic-ref", "--quiet", "refs/remotes/origin/HEAD", ok=(0, 1))
            if origin_head.returncode == 0:
                return origin_head.stdout.strip().removeprefix("refs/remotes/origin/")
        configured = await git.run("config", "--get", "init.defaultBranch", ok=(0, 1))
        current = await git.run("symbolic-ref", "--quiet", "--short", "HEAD", ok=(0, 1))
        names = (configured.stdout.strip(), current.stdout.strip(), "main", "master")
        candidates = dict.fromkeys(name for name in names if name)
        for name in candidates:
            if await branch_head(git, name) or await commit_of(git, f"refs/remotes/origin/{name}"):
                return name
        raise GitError(
            f"cannot tell the default branch of {self.path}: origin/HEAD is not set and none of "
            f"{', '.join(candidates)} exists; run `git remote set-head origin --auto` or create the branch"
        )

    async def sync(self) -> str:
        """Bring the default branch up to date with ``origin`` and return its commit (the run's base).

        With ``origin``: fetch, then fast-forward the local branch (its ref only, or the checkout that
        has it checked out, which must have no uncommitted changes to tracked files). A local branch
        with commits ``origin`` lacks is refused, never merged or reset. Without ``origin``: the
        default branch's commit as it is.
        """
        git = self._git
        async with git.lock():
            if not await self.has_origin():
                branch = await self.default_branch()
                head = await branch_head(git, branch)
                if head is None:
                    raise GitError(f"the default branch {branch!r} of {self.path} has no commits yet")
                return head
            await self._remember_credentials("origin")
            await git.run("fetch", "--prune", "--quiet", "origin")
            if await commit_of(git, "refs/remotes/origin/HEAD") is None:
                # Learn origin's default branch; an empty remote has none, and the fallbacks apply.
                await git.run("remote", "set-head", "origin", "--auto", ok=(0, 1, 128))
            branch = await self.default_branch()
            upstream = await commit_of(git, f"refs/remotes/origin/{branch}")
            if upstream is None:
                raise GitError(f"origin has no branch {branch!r} to sync {self.path} with; push it first")
            local = await branch_head(git, branch)
            if local is None:
                await git.run("update-ref", "-m", "nightshift: sync", f"refs/heads/{branch}", upstream, "")
            elif local != upstream:
                await self._fast_forward(branch, local, upstream)
            return upstream

    async def add_worktree(self, path: Path, commit: str) -> Path:
        """A worktree at ``path`` detached at ``commit`` (returned resolved). One already there at that
        commit is reused as it is; a registration whose directory is gone is pruned and re-added. A
        commit this clone lacks is fetched from ``origin`` (``fetch_commit``)."""
        await self.fetch_commit(commit)
        return await worktrees.add_worktree(self._git, path, commit)

    async def fetch_commit(self, commit: str) -> None:
        """Make sure ``commit`` is in this clone: fetch ``origin`` when it is not. Another worker's clone
        may have fetched a newer default branch and recorded its commit as a run's base."""
        if await commit_of(self._git, commit) is None and await self.has_origin():
            await self._remember_credentials("origin")
            await self._git.run("fetch", "--quiet", "origin")

    async def fetch_branch(self, branch: str) -> str | None:
        """``branch`` as ``origin`` has it, brought into this clone (another worker may have pushed it
        since this one last saw it); where it points, or None when neither ``origin`` nor this clone
        has it. Without ``origin``, or when ``origin`` lacks the branch, the local branch is left as is.
        """
        git = self._git
        ref = f"refs/heads/{branch}"
        if await self.has_origin():
            await self._remember_credentials("origin")
            tracking = f"refs/remotes/origin/{branch}"
            fetched = await git.run("fetch", "--quiet", "origin", f"+{ref}:{tracking}", ok=(0, 128))
            if fetched.returncode == 0:
                upstream = await resolve_commit(git, tracking)
                async with git.lock():
                    await git.run("update-ref", "-m", "nightshift: fetch", ref, upstream)
                return upstream
            if "couldn't find remote ref" not in fetched.stderr:
                raise GitError(
                    f"cannot fetch {branch} from origin into {self.path}: {git.scrub(fetched.stderr.strip())}"
                )
        return await branch_head(git, branch)

    async def reset_worktree(self, path: Path, commit: str) -> None:
        """Undo every change in the worktree at ``path`` and detach it at ``commit``."""
        await worktrees.reset_worktree(self._git, path, commit)

    async def remove_worktree(self, path: Path) -> None:
        """Remove the worktree at ``path``, changes and all; a missing one is fine. Prunes."""
        await worktrees.remove_worktree(self._git, path)

    async def worktree_diff(self, worktree: Path, base: str, *, include: Callable[[str], bool]) -> str:
        """A patch from ``base`` to the files in ``worktree`` now (untracked files too, ignored files
        not), for the repository-relative paths ``include`` accepts. ``base`` may be any commit: a
        revision diffs the code agent's worktree against the fix branch's tip."""
        return await worktrees.worktree_diff(self._git, worktree, base, include)

    async def commit_diff(self, base: str, head: str, *, include: Callable[[str], bool]) -> str:
        """A patch from commit ``base`` to commit ``head`` for the paths ``include`` accepts, made as
        ``worktree_diff`` makes its own (so it applies to a worktree of ``base``)."""
        return await worktrees.tree_diff(self._git, base, head, include)

    async def diff_to_applied(
        self, parent: str, base: str, diffs: Sequence[str], *, include: Callable[[str], bool]
    ) -> str:
        """A patch from commit ``parent`` to ``base`` with ``diffs`` applied, for the paths ``include``
        accepts: what a commit on ``parent`` must change for its tree to be exactly those diffs."""
        await self.fetch_commit(parent)
        tree = await _commits.tree_with(self._git, base, diffs)
        return await worktrees.tree_diff(self._git, parent, tree, include)

    async def changed_paths(self, worktree: Path, base: str) -> list[str]:
        """Repository-relative paths whose content in ``worktree`` differs from ``base``, sorted."""
        return await worktrees.changed_paths(self._git, worktree, base)

    async def apply(self, worktree: Path, diff: str) -> None:
        """Apply ``diff`` to ``worktree`` (files and index), all or nothing; an already applied or
        empty diff is a no-op."""
        await worktrees.apply(self._git, worktree, diff)

    async def commit_on_branch(
        self, branch: str, base: str, commits: Sequence[CommitSpec], *, author: str
    ) -> list[str]:
        """Commit each spec on ``branch`` on top of ``base`` without touching any checkout; ``base`` is
        the parent of the first new commit (for a revision: the branch's current tip). Returns the new
        (or, on a replay, the existing) shas oldest first. See ``gitrepo.commits``."""
        await self.fetch_commit(base)
        return await _commits.commit_on_branch(self._git, branch, base, commits, author)

    async def push(self, branch: str, remote: str = "origin", *, keep: Sequence[str] = ()) -> bool:
        """Push ``branch`` to the same name on ``remote``; False when there is no such remote.

        Nightshift's own ``fix/`` branches are pushed with ``--force-with-lease`` (the remote must be
        where we last saw it); any other branch only fast-forwards. ``keep``: refs outside
        ``refs/heads`` (``revision_ref``) pushed in the same command, set to what they are here.
        Pushing what is already there succeeds.
        """
        if remote not in await self._remotes():
            return False
        if await branch_head(self._git, branch) is None:
            raise GitError(f"there is no branch {branch!r} in {self.path} to push")
        await self._remember_credentials(remote)
        ref = f"refs/heads/{branch}"
        lease = [f"--force-with-lease={ref}"] if branch.startswith(BRANCH_PREFIX) else []
        kept = [f"+{name}:{name}" for name in keep]
        await self._git.run("push", "--quiet", *lease, remote, f"{ref}:{ref}", *kept)
        return True

    async def fast_forward(self, branch: str, commit: str) -> PushOutcome:
        """Move ``branch`` on ``origin`` to ``commit`` by a plain push: never forced, so ``origin``
        takes it only when ``commit`` descends from where the branch is there. Idempotent: a branch
        already at ``commit`` is left alone (``"already"``). ``"refused"``, with git's words, when the
        branch moved elsewhere meanwhile; ``GitError`` when the push failed otherwise (no answer, a hook
        that declined, a full disk): the same push may succeed later."""
        if not await self.has_origin():
            raise GitError(f"{self.path} has no remote 'origin' to push {branch} to")
        await self._remember_credentials("origin")
        git, ref = self._git, f"refs/heads/{branch}"
        listed = (await git.out("ls-remote", "origin", ref)).split()
        if listed and listed[0] == commit:
            return PushOutcome("already", f"origin's {branch} is at {commit[:12]} already")
        pushed = await git.run("push", "--porcelain", "origin", f"{commit}:{ref}", ok=(0, 1))
        if pushed.returncode == 0:
            return PushOutcome("pushed", f"pushed {commit[:12]} to origin's {branch}")
        words = git.scrub(f"{pushed.stdout.strip()} {pushed.stderr.strip()}".strip())
        if re.search(r"non-fast-forward|fetch first|\[rejected\]", words):
            why = f"origin refused {commit[:12]} on {branch}: not a fast-forward ({words})"
            return PushOutcome("refused", why)
        raise GitError(f"cannot push {commit[:12]} to origin's {branch}: {words}", stderr=words)

    async def set_ref(self, ref: str, commit: str) -> None:
        """Point ``ref`` (a full ref name) at ``commit`` in this clone."""
        async with self._git.lock():
            await self._git.run(
                "update-ref", "-m", "nightshift: keep", ref, await resolve_commit(self._git, commit)
            )

    async def fetch_ref(self, ref: str) -> str | None:
        """``ref`` (a full ref name) as ``origin`` has it, brought into this clone under the same name;
        where it points, or None when neither ``origin`` nor this clone has it."""
        if await self.has_origin():
            await self._remember_credentials("origin")
            fetched = await self._git.run("fetch", "--quiet", "origin", f"+{ref}:{ref}", ok=(0, 128))
            if fetched.returncode != 0 and "couldn't find remote ref" not in fetched.stderr:
                raise GitError(f"cannot fetch {ref} from origin: {self._git.scrub(fetched.stderr.strip())}")
        return await commit_of(self._git, ref)

    async def move_branch(self, branch: str, commit: str | None) -> None:
        """Point Nightshift's ``branch`` at ``commit``, or delete it (None), here and on ``origin``.

        This may take away commits reviewers saw (a revision that was asked to change, or one not
        chosen): the caller says so where the reviewers look. The push has an explicit lease on where
        ``origin``'s branch is now; a branch already where it should be is left alone (a replay).
        """
        if not branch.startswith(BRANCH_PREFIX):
            raise GitError(f"only Nightshift's own {BRANCH_PREFIX} branches are moved, not {branch!r}")
        git, ref = self._git, f"refs/heads/{branch}"
        async with git.lock():
            if commit is None:
                await git.run("update-ref", "-m", "nightshift: take down", "-d", ref)
            else:
                await git.run("update-ref", "-m", "nightshift: move", ref, await resolve_commit(git, commit))
        if not await self.has_origin():
            return
        await self._remember_credentials("origin")
        listed = (await git.out("ls-remote", "origin", ref)).split()
        there = listed[0] if listed else None
        if there == commit:
            return
        await git.run(
            "push", "--quiet", f"--force-with-lease={ref}:{there or ''}", "origin", f"{commit or ''}:{ref}"
        )
        tracking = f"refs/remotes/origin/{branch}"
        await git.run("update-ref", *(["-d", tracking] if commit is None else [tracking, commit]))

    async def drop_refs(self, prefix: str) -> None:
        """Delete every ref under ``prefix`` (``run_refs``) here and on ``origin``."""
        git = self._git
        local = (await git.out("for-each-ref", "--format=%(refname)", prefix)).split()
        async with git.lock():
            for ref in local:
                await git.run("update-ref", "-d", ref)
        if await self.has_origin():
            await self._remember_credentials("origin")
            remote = [
                line.split()[1] for line in (await git.out("ls-remote", "origin", f"{prefix}*")).splitlines()
            ]
            if remote:
                await git.run("push", "--quiet", "origin", *(f":{ref}" for ref in remote))

    async def commit(self, revision: str) -> str | None:
        """The full sha of the commit ``revision`` names, None when it names none."""
        return await commit_of(self._git, revision)

    async def past_commits(
        self, revisions: list[str], *, limit: int | None = None, walk: bool = True
    ) -> list[PastCommit]:
        """Commits from history, newest first (see ``gitrepo.history``); reads only."""
        return await past_commits(self._git, revisions, limit=limit, walk=walk)

    async def resolve(self, revision: str) -> str:
        """The full sha of ``revision``; GitError saying so when it names no commit here."""
        return await resolve_commit(self._git, revision)

    async def branch_head(self, branch: str) -> str | None:
        """The commit ``branch`` points to, None when it does not exist."""
        return await branch_head(self._git, branch)

    async def files_at(self, commit: str) -> dict[str, str]:
        """Every file of ``commit``: repository-relative path -> blob sha."""
        out = (await self._git.run("ls-tree", "-r", "-z", "--full-tree", commit)).stdout
        files: dict[str, str] = {}
        for entry in out.split("\0"):
            meta, _, path = entry.partition("\t")
            if path:
                files[path] = meta.split()[-1]
        return files

    async def read_at(self, commit: str, path: str) -> str | None:
        """The text of ``path`` in ``commit``; None when the commit has no such file."""
        result = await self._git.run("show", f"{commit}:{path}", ok=(0, 128))
        return result.stdout if result.returncode == 0 else None

    async def ignore_locally(self, patterns: Sequence[str]) -> None:
        """Add ``patterns`` to the repository's own ``info/exclude`` (every worktree shares it) once."""
        common = Path(await self._git.out("rev-parse", "--path-format=absolute", "--git-common-dir"))
        exclude = common / "info" / "exclude"
        async with self._git.lock():
            lines = exclude.read_text(encoding="utf-8").splitlines() if exclude.exists() else []
            missing = [pattern for pattern in patterns if pattern not in lines]
            if missing:
                exclude.parent.mkdir(parents=True, exist_ok=True)
                with exclude.open("a", encoding="utf-8") as out:
                    out.write(("\n" if lines and lines[-1] else "") + "\n".join(missing) + "\n")

    async def diffstat(self, base: str, head: str) -> str:
        """``git diff --stat`` from ``base`` to ``head``: one line per file and a summary line."""
        return await self._git.out("diff", "--stat", "--no-color", "--no-ext-diff", base, head, "--")

    async def _remotes(self) -> list[str]:
        return (await self._git.out("remote")).split()

    async def _remember_credentials(self, remote: str) -> None:
        """Have credentials in ``remote``'s URLs redacted from every later message."""
        for flags in ((), ("--push",)):
            for url in (await self._git.out("remote", "get-url", "--all", *flags, remote)).splitlines():
                self._git.remember_url(url)

    async def _fast_forward(self, branch: str, local: str, upstream: str) -> None:
        git = self._git
        if not await git.succeeds("merge-base", "--is-ancestor", local, upstream):
            ahead = await git.out("rev-list", "--count", f"{upstream}..{local}")
            behind = await git.out("rev-list", "--count", f"{local}..{upstream}")
            if behind == "0":
                detail = f"is {ahead} commit(s) ahead of origin/{branch}"
            else:
                detail = f"has diverged from origin/{branch} ({ahead} local, {behind} remote commit(s))"
            raise GitError(
                f"cannot sync {self.path}: local branch {branch} {detail}; Nightshift only fast-forwards. "
                f"Push the local commits or reset the branch to origin/{branch}, then retry."
            )
        checkouts = await worktrees.list_worktrees(git)
        checkout = next((w for w in checkouts if w.branch == f"refs/heads/{branch}" and not w.prunable), None)
        if checkout is None:
            await git.run("update-ref", "-m", "nightshift: sync", f"refs/heads/{branch}", upstream, local)
            return
        status = await git.out("status", "--porcelain", "--untracked-files=no", cwd=checkout.path)
        changed = status.splitlines()
        if changed:
            raise GitError(
                f"cannot fast-forward {branch} in {checkout.path}: it has local changes to {len(changed)} "
                "tracked file(s); commit, stash or discard them, then retry"
            )
        await git.run("merge", "--ff-only", "--quiet", upstream, cwd=checkout.path)
