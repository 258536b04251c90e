"""GitRepo.sync and default_branch against a real bare origin."""

from pathlib import Path

import pytest

from demo.sandbox import Sandbox
from tests.git_fixtures import ISOLATED_ENV, commit_files, git, push_from_clone, repo_fixture, sandbox_fixture  # noqa: F401
from workflow.errors import GitError, WorkflowError
from workflow.git import GitRepo


def head_of(path: Path, ref: str = "HEAD") -> str:
    return git(path, "rev-parse", ref).strip()


async def test_sync_without_changes_returns_the_head_of_main(repo: GitRepo, sandbox: Sandbox) -> None:
    assert await repo.has_origin()
    assert await repo.default_branch() == "main"
    assert await repo.sync() == head_of(sandbox.repo)


async def test_sync_fast_forwards_the_checkout_after_origin_moves(
    repo: GitRepo, sandbox: Sandbox, tmp_path: Path
) -> None:
    pushed = push_from_clone(
        sandbox.origin, tmp_path / "other", {"NOTES.md": "from a colleague\n"}, "Add notes"
    )

    base = await repo.sync()

    assert base == pushed
    assert head_of(sandbox.repo, "refs/heads/main") == pushed
    assert (sandbox.repo / "NOTES.md").read_text() == "from a colleague\n"
    assert await repo.sync() == pushed  # a replay changes nothing


async def test_sync_moves_main_when_it_is_not_checked_out(
    repo: GitRepo, sandbox: Sandbox, tmp_path: Path
) -> None:
    git(sandbox.repo, "checkout", "--quiet", "--detach")
    pushed = push_from_clone(sandbox.origin, tmp_path / "other", {"NOTES.md": "x\n"}, "Add notes")

    assert await repo.sync() == pushed
    assert head_of(sandbox.repo, "refs/heads/main") == pushed
    assert not (sandbox.repo / "NOTES.md").exists()  # the detached checkout was left alone


async def test_sync_refuses_a_diverged_default_branch(
    repo: GitRepo, sandbox: Sandbox, tmp_path: Path
) -> None:
    push_from_clone(sandbox.origin, tmp_path / "other", {"NOTES.md": "theirs\n"}, "Their commit")
    local = commit_files(sandbox.repo, {"LOCAL.md": "mine\n"}, "My commit")

    with pytest.raises(GitError, match=r"local branch main has diverged from origin/main") as caught:
        await repo.sync()

    assert isinstance(caught.value, WorkflowError)
    assert "only fast-forwards" in str(caught.value)
    assert head_of(sandbox.repo) == local  # nothing was merged or reset


async def test_sync_refuses_unpushed_local_commits(repo: GitRepo, sandbox: Sandbox) -> None:
    commit_files(sandbox.repo, {"LOCAL.md": "mine\n"}, "Unpushed")

    with pytest.raises(GitError, match=r"main is 1 commit\(s\) ahead of origin/main"):
        await repo.sync()


async def test_sync_refuses_to_fast_forward_over_local_changes(
    repo: GitRepo, sandbox: Sandbox, tmp_path: Path
) -> None:
    before = head_of(sandbox.repo)
    push_from_clone(sandbox.origin, tmp_path / "other", {"README.md": "new readme\n"}, "Change readme")
    (sandbox.repo / "README.md").write_text("my unsaved edit\n")

    with pytest.raises(GitError, match=r"local changes to 1 tracked file"):
        await repo.sync()

    assert head_of(sandbox.repo) == before
    assert (sandbox.repo / "README.md").read_text() == "my unsaved edit\n"


async def test_sync_without_origin_returns_the_default_branch_head(sandbox: Sandbox) -> None:
    git(sandbox.repo, "remote", "remove", "origin")
    repo = GitRepo(sandbox.repo, env=ISOLATED_ENV)

    assert not await repo.has_origin()
    assert await repo.default_branch() == "main"
    assert await repo.sync() == head_of(sandbox.repo)


async def test_default_branch_follows_origin_head(repo: GitRepo, sandbox: Sandbox) -> None:
    git(sandbox.repo, "branch", "trunk")
    git(sandbox.repo, "push", "--quiet", "origin", "trunk")
    git(sandbox.repo, "remote", "set-head", "origin", "trunk")

    assert await repo.default_branch() == "trunk"


async def test_default_branch_without_origin_head_uses_config_then_the_current_branch(
    repo: GitRepo, sandbox: Sandbox
) -> None:
    git(sandbox.repo, "remote", "set-head", "origin", "--delete")
    git(sandbox.repo, "checkout", "--quiet", "-b", "feature")
    assert await repo.default_branch() == "feature"

    git(sandbox.repo, "branch", "trunk")
    git(sandbox.repo, "config", "init.defaultBranch", "trunk")
    assert await repo.default_branch() == "trunk"


async def test_sync_learns_a_missing_origin_head(repo: GitRepo, sandbox: Sandbox) -> None:
    git(sandbox.repo, "remote", "set-head", "origin", "--delete")
    git(sandbox.repo, "checkout", "--quiet", "-b", "feature")

    assert await repo.sync() == head_of(sandbox.repo, "main")
    assert git(sandbox.repo, "symbolic-ref", "refs/remotes/origin/HEAD").strip() == "refs/remotes/origin/main"
