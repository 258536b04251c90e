"""A shell command that asks a sandbox's git everything it can say about the repository, and its answer.

Run ``probe_command(...)`` where an agent would (the shell tool), then ``Probe.parse`` the output and
compare it with what the commit's own history holds (``reachable``).
"""

import re
from dataclasses import dataclass
from pathlib import Path

from tests.git_fixtures import git

_SECTIONS = ("log", "rev-list", "refs", "objects", "files", "end")
_REMEMBERING = re.compile(
    r"^\./(refs|logs)/|/logs/|_HEAD$|^\./[A-Z_]*HEAD$|packed-refs|^\./worktrees/(?!workspace/)"
)
"""Files that could name a commit: refs, reflogs, pseudo-refs, packed refs, other worktrees."""
_OWN = {"./HEAD", "./worktrees/workspace/HEAD"}


def probe_command(*hidden: str) -> str:
    """Ask for each of the ``hidden`` commits by its sha, then for everything git and the file system show
    of ``/git``: every commit of ``log --all`` and ``rev-list --all``, every ref, every object in the store
    (loose and packed), and every file outside the object store."""
    asks = "".join(f"git cat-file -e {sha} 2>/dev/null && echo 'visible {sha}'; " for sha in hidden)
    return (
        f"{asks}"
        "echo '--- log'; git log --all --format=%H; "
        "echo '--- rev-list'; git rev-list --all; "
        "echo '--- refs'; git for-each-ref --format='%(refname)'; "
        "echo '--- objects'; git cat-file --batch-all-objects --batch-check='%(objectname)'; "
        "echo '--- files'; (cd /git && find . -type f ! -path './objects/*' | sort); "
        "echo '--- end'"
    )


@dataclass(frozen=True)
class Probe:
    visible: list[str]
    """The hidden commits git could read."""
    sections: dict[str, list[str]]

    @classmethod
    def parse(cls, output: str) -> "Probe":
        assert "--- end" in output, f"the probe did not finish:\n{output}"
        sections: dict[str, list[str]] = {}
        visible: list[str] = []
        current: str | None = None
        for line in output.splitlines():
            if line.startswith("--- ") and line[4:] in _SECTIONS:
                current = line[4:]
                sections[current] = []
            elif current is not None:
                sections[current].append(line)
            elif line.startswith("visible "):
                visible.append(line.removeprefix("visible "))
        return cls(visible, sections)

    @property
    def commits(self) -> set[str]:
        return set(self.sections["log"]) | set(self.sections["rev-list"])

    @property
    def objects(self) -> set[str]:
        return set(self.sections["objects"])

    @property
    def remembering(self) -> list[str]:
        """The files of ``/git`` that could name a commit, other than the view's and the worktree's HEAD
        (which name the commit itself)."""
        return [name for name in self.sections["files"] if name not in _OWN and _REMEMBERING.search(name)]


def reachable(repo: Path, commit: str) -> tuple[set[str], set[str]]:
    """The commits and the objects (commits, trees, blobs) that ``commit``'s history holds."""
    commits = set(git(repo, "rev-list", commit).split())
    objects = {line.split()[0] for line in git(repo, "rev-list", "--objects", commit).splitlines()}
    return commits, objects
