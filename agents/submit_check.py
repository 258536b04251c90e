"""The code agent's look before it submits: its own diff and a short checklist (``AgentSpec.submit_check``).

SWE-agent shows the agent its diff when it submits and asks it to rerun its reproduction and remove
scratch files; this is that step. The first valid ``submit_fix`` gets this text back instead of being
accepted; the second submits. The diff is the one Nightshift will take: the worktree against its HEAD
(the base commit), untracked files included, test files left out (they are never part of the fix).
"""

from pydantic import BaseModel

import prompts
from documents.diffstat import diff_files
from documents.facts import FileChange
from gitrepo.command import Git
from gitrepo.worktrees import changed_paths, worktree_diff
from safety.fence import fence, untrusted
from tools import ToolContext

DIFF_CHARS = 12_000
"""A longer diff is cut in the check (the agent can read the rest with ``git diff``)."""
_STATUS = {"added": "new", "deleted": "deleted", "renamed": "renamed", "copied": "copied"}


async def check_fix(ctx: ToolContext, submission: BaseModel) -> str:
    """The diff ``submit_fix`` would hand in now, each file marked (new files stand out: scratch files
    are new files), the test files that will be dropped, and the checklist."""
    git = Git(ctx.workspace)
    is_test = ctx.write_rules.is_test_file
    diff = await worktree_diff(git, ctx.workspace, "HEAD", lambda path: not is_test(path))
    dropped = [path for path in await changed_paths(git, ctx.workspace, "HEAD") if is_test(path)]
    if diff.strip():
        shown = f"{fence('diff', untrusted(diff, DIFF_CHARS))}\n\nFiles: {_files(diff_files(diff))}."
    else:
        shown = (
            "(no change: your worktree holds no change to a non-test file, so submitting now hands in no "
            "fix. That is right only when you found no safe fix; say what you found.)"
        )
    if dropped:
        shown += (
            f"\nChanges to test files are not part of a fix and will be dropped: {', '.join(dropped)}. "
            "Restore them."
        )
    return prompts.load("submit_check").strip().format(diff=shown)


def _files(changes: list[FileChange]) -> str:
    return "; ".join(f"{change.path} ({_what(change)})" for change in changes)


def _what(change: FileChange) -> str:
    status = _STATUS.get(change.status, "changed")
    if change.binary:
        return f"{status}, binary"
    return f"{status}, +{change.added} -{change.removed}"
