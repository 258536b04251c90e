"""GitRepo.add_worktree / remove_worktree: isolation, idempotence, stale registrations, concurrency."""

import asyncio
import shutil
from pathlib import Path

import pytest

from demo.playground import Playground
from gitrepo import GitRepo
from gitrepo.errors import GitError
from tests.git_fixtures import commit_files, git, playground_fixture, repo_fixture  # noqa: F401 (fixtures)


def registered(repo_path: Path) -> list[str]:
    listing = git(repo_path, "worktree", "list", "--porcelain")
    return [line.removeprefix("worktree ") for line in listing.splitlines() if line.startswith("worktree ")]


async def test_worktrees_at_base_are_independent(
    repo: GitRepo, playground: Playground, tmp_path: Path
) -> None:
    base = await repo.sync()
    code = await repo.add_worktree(tmp_path / "wt" / "code", base)
    test = await repo.add_worktree(tmp_path / "wt" / "test", base)

    (code / "todo" / "service.py").write_text("# rewritten by the code agent\n")
    (code / "NEW.md").write_text("new\n")

    assert "class TodoService" in (test / "todo" / "service.py").read_text()
    assert not (test / "NEW.md").exists()
    assert "class TodoService" in (playground.repo / "todo" / "service.py").read_text()
    assert git(test, "rev-parse", "HEAD").strip() == base
    assert git(code, "status", "--porcelain", "--branch").startswith("## HEAD (no branch)")


async def test_add_worktree_twice_reuses_the_first_with_its_changes(repo: GitRepo, tmp_path: Path) -> None:
    base = await repo.sync()
    first = await repo.add_worktree(tmp_path / "code", base)
    (first / "WORK.md").write_text("agent work in progress\n")

    second = await repo.add_worktree(tmp_path / "code", "main")

    assert second == first
    assert (second / "WORK.md").read_text() == "agent work in progress\n"
    assert len(registered(repo.path)) == 2


async def test_add_worktree_refuses_a_worktree_at_another_commit(
    repo: GitRepo, playground: Playground, tmp_path: Path
) -> None:
    old = await repo.sync()
    await repo.add_worktree(tmp_path / "code", old)
    new = commit_files(playground.repo, {"x.txt": "x\n"}, "Move main")

    with pytest.raises(GitError, match=r"already exists at commit .* remove it first"):
        await repo.add_worktree(tmp_path / "code", new)


async def test_add_worktree_refuses_a_foreign_directory(repo: GitRepo, tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("not ours\n")

    with pytest.raises(GitError, match=r"not empty and is not a worktree"):
        await repo.add_worktree(tmp_path / "busy", await repo.sync())
    assert (tmp_path / "busy" / "keep.txt").read_text() == "not ours\n"


async def test_add_worktree_replaces_a_stale_registration(repo: GitRepo, tmp_path: Path) -> None:
    base = await repo.sync()
    path = await repo.add_worktree(tmp_path / "code", base)
    shutil.rmtree(path)  # a crash or a cleanup job removed the directory behind git's back

    again = await repo.add_worktree(tmp_path / "code", base)

    assert (again / "todo" / "service.py").exists()
    assert registered(repo.path).count(str(again)) == 1


async def test_add_worktree_refuses_an_unknown_commit(repo: GitRepo, tmp_path: Path) -> None:
    with pytest.raises(GitError, match=r"'no-such-branch' is not a commit"):
        await repo.add_worktree(tmp_path / "code", "no-such-branch")


async def test_remove_worktree_is_idempotent(repo: GitRepo, tmp_path: Path) -> None:
    path = await repo.add_worktree(tmp_path / "code", await repo.sync())
    (path / "dirty.txt").write_text("uncommitted\n")

    await repo.remove_worktree(path)
    await repo.remove_worktree(path)
    await repo.remove_worktree(tmp_path / "never-existed")

    assert not path.exists()
    assert registered(repo.path) == [str(repo.path)]


async def test_concurrent_add_worktree_calls_all_succeed(repo: GitRepo, tmp_path: Path) -> None:
    base = await repo.sync()
    paths = [tmp_path / "runs" / f"agent-{n}" for n in range(6)]

    created = await asyncio.gather(*(repo.add_worktree(path, base) for path in paths))

    assert sorted(registered(repo.path)[1:]) == sorted(str(path) for path in created)
    for path in created:
        assert git(path, "rev-parse", "HEAD").strip() == base
    await asyncio.gather(*(repo.remove_worktree(path) for path in created))
    assert registered(repo.path) == [str(repo.path)]
