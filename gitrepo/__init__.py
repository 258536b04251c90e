"""Nightshift's git layer: the shared checkout, per-agent worktrees, fix branches, ``origin``.

All of it is real ``git`` run as subprocesses (``command``): a scrubbed environment, no hooks, errors
as ``gitrepo.GitError`` with credentials redacted. Every operation is idempotent, because a
durable workflow step may run again after a crash.

- ``repo``: ``GitRepo``, the public surface (sync, worktrees, diffs, commits, push);
- ``worktrees``: add/remove worktrees, snapshot a worktree's files as a tree, apply a patch;
- ``commits``: ``CommitSpec`` and commits made with plumbing, never in a checkout;
- ``refs``: reading commits and branch tips; ``names``: ``branch_name``, ``revision_ref``.
"""

from gitrepo.commits import CommitSpec
from gitrepo.errors import GitError
from gitrepo.names import BRANCH_PREFIX, branch_name, revision_ref, run_refs
from gitrepo.repo import GitRepo, PushOutcome

__all__ = [
    "BRANCH_PREFIX",
    "CommitSpec",
    "GitError",
    "GitRepo",
    "PushOutcome",
    "branch_name",
    "revision_ref",
    "run_refs",
]
