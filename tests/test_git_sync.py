"""GitRepo.sync and default_branch against a real bare origin."""

from pathlib import Path

import pytest

from demo.playground import Playground
from gitrepo import GitRepo
from gitrepo.errors import GitError
from tests.git_fixtures import (  # noqa: F401
    ISOLATED_ENV,
    commit_files,
    git,
    playground_fixture,
    push_from_clone,
    repo_fixture,
)


def head_of(path: Path, ref: str = "HEAD") -> str:
    return git(path, "rev-parse", ref).strip()


async def test_sync_without_changes_returns_the_head_of_main(repo: GitRepo, playground: Playground) -> None:
    assert await repo.has_origin()
    assert await repo.default_branch() == "main"
    assert await repo.sync() == head_of(playground.repo)


async def test_sync_fast_forwards_the_checkout_after_origin_moves(
    repo: GitRepo, playground: Playground, tmp_path: Path
) -> None:
    pushed = push_from_clone(
        playground.origin, tmp_path / "other", {"NOTES.md": "from a colleague\n"}, "Add notes"
    )

    base = await repo.sync()

    assert base == pushed
    assert head_of(playground.repo, "refs/heads/main") == pushed
    assert (playground.repo / "NOTES.md").read_text() == "from a colleague\n"
    assert await repo.sync() == pushed  # a replay changes nothing


async def test_sync_moves_main_when_it_is_not_checked_out(
    repo: GitRepo, playground: Playground, tmp_path: Path
) -> None:
    git(playground.repo, "checkout", "--quiet", "--detach")
    pushed = push_from_clone(playground.origin, tmp_path / "other", {"NOTES.md": "x\n"}, "Add notes")

    assert await repo.sync() == pushed
    assert head_of(playground.repo, "refs/heads/main") == pushed
    assert not (playground.repo / "NOTES.md").exists()  # the detached checkout was left alone


async def test_sync_refuses_a_diverged_default_branch(
    repo: GitRepo, playground: Playground, tmp_path: Path
) -> None:
    push_from_clone(playground.origin, tmp_path / "other", {"NOTES.md": "theirs\n"}, "Their commit")
    local = commit_files(playground.repo, {"LOCAL.md": "mine\n"}, "My commit")

    with pytest.raises(GitError, match=r"local branch main has diverged from origin/main") as caught:
        await repo.sync()

    assert "only fast-forwards" in str(caught.value)
    assert head_of(playground.repo) == local  # nothing was merged or reset


async def test_sync_refuses_unpushed_local_commits(repo: GitRepo, playground: Playground) -> None:
    commit_files(playground.repo, {"LOCAL.md": "mine\n"}, "Unpushed")

    with pytest.raises(GitError, match=r"main is 1 commit\(s\) ahead of origin/main"):
        await repo.sync()


async def test_sync_refuses_to_fast_forward_over_local_changes(
    repo: GitRepo, playground: Playground, tmp_path: Path
) -> None:
    before = head_of(playground.repo)
    push_from_clone(playground.origin, tmp_path / "other", {"README.md": "new readme\n"}, "Change readme")
    (playground.repo / "README.md").write_text("my unsaved edit\n")

    with pytest.raises(GitError, match=r"local changes to 1 tracked file"):
        await repo.sync()

    assert head_of(playground.repo) == before
    assert (playground.repo / "README.md").read_text() == "my unsaved edit\n"


async def test_sync_without_origin_returns_the_default_branch_head(playground: Playground) -> None:
    git(playground.repo, "remote", "remove", "origin")
    repo = GitRepo(playground.repo, env=ISOLATED_ENV)

    assert not await repo.has_origin()
    assert await repo.default_branch() == "main"
    assert await repo.sync() == head_of(playground.repo)


async def test_default_branch_follows_origin_head(repo: GitRepo, playground: Playground) -> None:
    git(playground.repo, "branch", "trunk")
    git(playground.repo, "push", "--quiet", "origin", "trunk")
    git(playground.repo, "remote", "set-head", "origin", "trunk")

    assert await repo.default_branch() == "trunk"


async def test_default_branch_without_origin_head_uses_config_then_the_current_branch(
    repo: GitRepo, playground: Playground
) -> None:
    git(playground.repo, "remote", "set-head", "origin", "--delete")
    git(playground.repo, "checkout", "--quiet", "-b", "feature")
    assert await repo.default_branch() == "feature"

    git(playground.repo, "branch", "trunk")
    git(playground.repo, "config", "init.defaultBranch", "trunk")
    assert await repo.default_branch() == "trunk"


async def test_sync_learns_a_missing_origin_head(repo: GitRepo, playground: Playground) -> None:
    git(playground.repo, "remote", "set-head", "origin", "--delete")
    git(playground.repo, "checkout", "--quiet", "-b", "feature")

    assert await repo.sync() == head_of(playground.repo, "main")
    assert (
        git(playground.repo, "symbolic-ref", "refs/remotes/origin/HEAD").strip() == "refs/remotes/origin/main"
    )
