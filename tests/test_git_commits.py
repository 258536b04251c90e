"""GitRepo.commit_on_branch: plumbing commits, replays, revisions; diffstat and branch_head."""

from pathlib import Path

import pytest

from demo.playground import Playground
from gitrepo import CommitSpec, GitRepo, branch_name
from gitrepo.errors import GitError
from tests.git_fixtures import AUTHOR, git, playground_fixture, repo_fixture  # noqa: F401 (fixtures)

BUGGY = "        todo.completed = not todo.completed\n"
FIXED = "        todo.completed = True\n"
BRANCH = branch_name("PROJ-7", "run1")


async def diffs(repo: GitRepo, tmp_path: Path, base: str) -> tuple[str, str]:
    """The fix diff and the test diff of the todo bug, made in a worktree as the agents would."""
    work = await repo.add_worktree(tmp_path / "work", base)
    service = work / "todo" / "service.py"
    service.write_text(service.read_text().replace(BUGGY, FIXED))
    (work / "tests" / "test_regression.py").write_text("def test_twice():\n    assert True\n")
    fix = await repo.worktree_diff(work, base, include=lambda p: not p.startswith("tests/"))
    tests = await repo.worktree_diff(work, base, include=lambda p: p.startswith("tests/"))
    await repo.remove_worktree(work)
    return fix, tests


def log(repo: Path, revisions: str) -> list[str]:
    return git(repo, "log", "--format=%H|%P|%an <%ae>|%cn <%ce>|%B%x00", revisions).split("\0\n")[:-1]


async def test_commit_on_branch_makes_a_fix_commit_and_a_test_commit(
    repo: GitRepo, playground: Playground, tmp_path: Path
) -> None:
    base = await repo.sync()
    fix, tests = await diffs(repo, tmp_path, base)
    status_before = git(playground.repo, "status", "--porcelain")

    shas = await repo.commit_on_branch(
        BRANCH, base, [CommitSpec("Fix complete() toggling\n\nPROJ-7", fix), CommitSpec("Add test", tests)],
        author=AUTHOR,
    )  # fmt: skip

    assert len(shas) == 2
    assert await repo.branch_head(BRANCH) == shas[1]
    newest, oldest = log(playground.repo, f"{base}..{BRANCH}")
    assert oldest.startswith(f"{shas[0]}|{base}|{AUTHOR}|{AUTHOR}|Fix complete() toggling\n\nPROJ-7\n")
    assert newest.startswith(f"{shas[1]}|{shas[0]}|{AUTHOR}|{AUTHOR}|Add test\n")
    assert git(playground.repo, "show", f"{shas[0]}:todo/service.py").count(FIXED) == 1
    assert git(playground.repo, "diff-tree", "--no-commit-id", "--name-only", "-r", shas[1]) == (
        "tests/test_regression.py\n"
    )
    # The main checkout did not move: same branch, same HEAD, same files.
    assert git(playground.repo, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    assert git(playground.repo, "rev-parse", "HEAD").strip() == base
    assert git(playground.repo, "status", "--porcelain") == status_before
    assert BUGGY in (playground.repo / "todo" / "service.py").read_text()


async def test_commit_on_branch_replayed_returns_the_same_commits(
    repo: GitRepo, playground: Playground, tmp_path: Path
) -> None:
    base = await repo.sync()
    fix, tests = await diffs(repo, tmp_path, base)
    specs = [CommitSpec("Fix", fix), CommitSpec("Test", tests)]

    first = await repo.commit_on_branch(BRANCH, base, specs, author=AUTHOR)
    again = await repo.commit_on_branch(BRANCH, base, specs, author=AUTHOR)

    assert again == first
    assert git(playground.repo, "rev-list", "--count", f"{base}..{BRANCH}").strip() == "2"


async def test_commit_on_branch_skips_empty_diffs(repo: GitRepo, tmp_path: Path) -> None:
    base = await repo.sync()
    fix, _ = await diffs(repo, tmp_path, base)

    shas = await repo.commit_on_branch(
        BRANCH, base, [CommitSpec("Fix", fix), CommitSpec("Tests", "")], author=AUTHOR
    )
    nothing = await repo.commit_on_branch("fix/empty", base, [CommitSpec("Nothing", "")], author=AUTHOR)

    assert len(shas) == 1
    assert nothing == []
    assert await repo.branch_head("fix/empty") is None


async def test_a_revision_adds_a_commit_on_the_same_branch(
    repo: GitRepo, playground: Playground, tmp_path: Path
) -> None:
    base = await repo.sync()
    fix, tests = await diffs(repo, tmp_path, base)
    first = await repo.commit_on_branch(
        BRANCH, base, [CommitSpec("Fix", fix), CommitSpec("Test", tests)], author=AUTHOR
    )
    # Review feedback: the code agent edits its worktree again; the new diff is taken against the tip.
    work = await repo.add_worktree(tmp_path / "revise", first[-1])
    service = work / "todo" / "service.py"
    service.write_text(
        service.read_text().replace(
            '"""Mark the todo as done."""', '"""Mark the todo as done (idempotent)."""'
        )
    )
    revision = await repo.worktree_diff(work, first[-1], include=lambda p: not p.startswith("tests/"))

    added = await repo.commit_on_branch(
        BRANCH, first[-1], [CommitSpec("Address review", revision)], author=AUTHOR
    )
    replayed = await repo.commit_on_branch(
        BRANCH, first[-1], [CommitSpec("Address review", revision)], author=AUTHOR
    )

    assert replayed == added and len(added) == 1
    assert git(playground.repo, "rev-list", "--reverse", f"{base}..{BRANCH}").split() == [*first, *added]
    assert "(idempotent)" in git(playground.repo, "show", f"{BRANCH}:todo/service.py")


async def test_commit_on_branch_refuses_to_overwrite_other_commits(repo: GitRepo, tmp_path: Path) -> None:
    base = await repo.sync()
    fix, tests = await diffs(repo, tmp_path, base)
    first = await repo.commit_on_branch(BRANCH, base, [CommitSpec("Fix", fix)], author=AUTHOR)

    with pytest.raises(GitError, match=r"refusing to overwrite it.*pass its current tip as the base"):
        await repo.commit_on_branch(BRANCH, base, [CommitSpec("Something else", tests)], author=AUTHOR)

    assert await repo.branch_head(BRANCH) == first[0]


async def test_commit_on_branch_reports_a_diff_that_does_not_apply(repo: GitRepo, tmp_path: Path) -> None:
    base = await repo.sync()
    fix, _ = await diffs(repo, tmp_path, base)

    with pytest.raises(GitError, match=r"the diff for commit 'Fix again' does not apply on top of"):
        await repo.commit_on_branch(
            BRANCH, base, [CommitSpec("Fix", fix), CommitSpec("Fix again", fix)], author=AUTHOR
        )
    assert await repo.branch_head(BRANCH) is None


async def test_commit_on_branch_rejects_a_malformed_author(repo: GitRepo, tmp_path: Path) -> None:
    base = await repo.sync()
    fix, _ = await diffs(repo, tmp_path, base)

    with pytest.raises(GitError, match=r"must look like 'Name <email@example.com>'"):
        await repo.commit_on_branch(BRANCH, base, [CommitSpec("Fix", fix)], author="just a name")


async def test_diffstat_summarises_the_branch(repo: GitRepo, tmp_path: Path) -> None:
    base = await repo.sync()
    fix, tests = await diffs(repo, tmp_path, base)
    shas = await repo.commit_on_branch(
        BRANCH, base, [CommitSpec("Fix", fix), CommitSpec("Test", tests)], author=AUTHOR
    )

    stat = await repo.diffstat(base, shas[-1])

    assert "todo/service.py" in stat and "tests/test_regression.py" in stat
    assert "2 files changed, 3 insertions(+), 1 deletion(-)" in stat
