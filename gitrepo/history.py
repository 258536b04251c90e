"""Reading past commits: their parents and messages, for a revision range or a list of commits."""

from dataclasses import dataclass

from gitrepo.command import Git
from gitrepo.errors import GitError

_FIELD, _RECORD = "\x1f", "\x1e"


@dataclass(frozen=True, slots=True)
class PastCommit:
    sha: str
    parents: tuple[str, ...]
    message: str

    @property
    def subject(self) -> str:
        return self.message.strip().splitlines()[0] if self.message.strip() else ""

    @property
    def body(self) -> str:
        """The message after the subject line."""
        return self.message.strip().partition("\n")[2].strip()


async def past_commits(git: Git, revisions: list[str], *, limit: int | None, walk: bool) -> list[PastCommit]:
    """The commits of ``revisions``, newest first: a revision range walked (``walk``), or exactly the
    commits named, in the order given. A revision git does not know raises GitError saying which."""
    for revision in revisions:
        if revision.startswith("-"):
            raise GitError(f"{revision!r} is not a revision (it starts with '-')")
    options = [] if walk else ["--no-walk=unsorted"]
    count = [f"--max-count={limit}"] if limit is not None and walk else []
    result = await git.run(
        "log", *options, *count, f"--format=%H{_FIELD}%P{_FIELD}%B{_RECORD}", *revisions, "--", ok=(0, 128)
    )
    if result.returncode != 0:
        said = result.stderr.strip().splitlines()
        raise GitError(
            f"git cannot read {' '.join(revisions)!r} in {git.repo}: {said[0] if said else 'unknown error'}"
        )
    commits = []
    for record in result.stdout.split(_RECORD):
        if not record.strip():
            continue
        sha, parents, message = record.lstrip("\n").split(_FIELD, 2)
        commits.append(PastCommit(sha, tuple(parents.split()), message))
    return commits
