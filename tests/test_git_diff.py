"""GitRepo.worktree_diff / changed_paths / apply: read an agent's work, replay it in a fresh worktree."""

import asyncio
import logging
import time
from pathlib import Path

import pytest

from demo.playground import Playground
from gitrepo import GitRepo
from gitrepo.errors import GitError
from tests.git_fixtures import git, playground_fixture, repo_fixture  # noqa: F401 (fixtures)

BUGGY = "        todo.completed = not todo.completed\n"
FIXED = "        todo.completed = True\n"
REGRESSION_TEST = (
    "from todo import TodoService\n\n\n"
    "def test_completing_twice_keeps_the_todo_completed():\n"
    "    service = TodoService()\n"
    "    todo = service.add('x')\n"
    "    service.complete(todo.id)\n"
    "    assert service.complete(todo.id).completed is True\n"
)


def is_test(path: str) -> bool:
    return path.startswith("tests/") or Path(path).name.startswith("test_")


def hold_index_lock(worktree: Path) -> Path:
    """Create ``worktree``'s ``index.lock`` as a git process writing its index would."""
    lock = Path(git(worktree, "rev-parse", "--path-format=absolute", "--git-path", "index.lock").strip())
    lock.write_text("")
    return lock


def fix_bug(worktree: Path) -> None:
    service = worktree / "todo" / "service.py"
    service.write_text(service.read_text().replace(BUGGY, FIXED))


async def test_worktree_diff_splits_fix_and_tests_and_includes_new_files(
    repo: GitRepo, tmp_path: Path
) -> None:
    base = await repo.sync()
    work = await repo.add_worktree(tmp_path / "code", base)
    fix_bug(work)
    (work / "CHANGELOG.md").write_text("- complete() is idempotent\n")  # new, untracked
    (work / "tests" / "test_regression.py").write_text(REGRESSION_TEST)  # new, untracked
    (work / "todo" / "__pycache__").mkdir()
    (work / "todo" / "__pycache__" / "service.cpython-311.pyc").write_bytes(b"\0ignored")

    fix = await repo.worktree_diff(work, base, include=lambda path: not is_test(path))
    tests = await repo.worktree_diff(work, base, include=is_test)

    assert "+++ b/todo/service.py" in fix and f"+{FIXED}" in fix
    assert "+++ b/CHANGELOG.md" in fix
    assert "tests/" not in fix
    assert "+++ b/tests/test_regression.py" in tests and "todo/service.py" not in tests
    assert "__pycache__" not in fix + tests  # .gitignore'd files never count
    assert await repo.changed_paths(work, base) == [
        "CHANGELOG.md",
        "tests/test_regression.py",
        "todo/service.py",
    ]
    assert git(work, "status", "--porcelain") == (
        " M todo/service.py\n?? CHANGELOG.md\n?? tests/test_regression.py\n"
    )  # the worktree's own index is untouched: the new files are still untracked


async def test_worktree_diff_of_an_untouched_worktree_is_empty(repo: GitRepo, tmp_path: Path) -> None:
    base = await repo.sync()
    work = await repo.add_worktree(tmp_path / "idle", base)

    assert await repo.worktree_diff(work, base, include=lambda _: True) == ""
    assert await repo.changed_paths(work, base) == []


async def test_worktree_diff_handles_deletions_binary_files_and_odd_names(
    repo: GitRepo, tmp_path: Path
) -> None:
    base = await repo.sync()
    work = await repo.add_worktree(tmp_path / "code", base)
    (work / "README.md").unlink()
    (work / "logo.png").write_bytes(bytes(range(256)) * 4)
    (work / "notes with spaces [1].txt").write_text("odd name\n")
    diff = await repo.worktree_diff(work, base, include=lambda _: True)

    fresh = await repo.add_worktree(tmp_path / "verify", base)
    await repo.apply(fresh, diff)

    assert not (fresh / "README.md").exists()
    assert (fresh / "logo.png").read_bytes() == bytes(range(256)) * 4
    assert (fresh / "notes with spaces [1].txt").read_text() == "odd name\n"


async def test_fix_and_test_diffs_apply_to_a_fresh_worktree(repo: GitRepo, tmp_path: Path) -> None:
    base = await repo.sync()
    code = await repo.add_worktree(tmp_path / "code", base)
    test = await repo.add_worktree(tmp_path / "test", base)
    fix_bug(code)
    (test / "tests" / "test_regression.py").write_text(REGRESSION_TEST)
    fix = await repo.worktree_diff(code, base, include=lambda path: not is_test(path))
    tests = await repo.worktree_diff(test, base, include=is_test)

    verify = await repo.add_worktree(tmp_path / "verify", base)
    await repo.apply(verify, fix)
    await repo.apply(verify, tests)
    await repo.apply(verify, fix)  # a replayed step: already applied, nothing happens
    await repo.apply(verify, "")

    assert FIXED in (verify / "todo" / "service.py").read_text()
    assert (verify / "tests" / "test_regression.py").read_text() == REGRESSION_TEST
    assert git(verify, "status", "--porcelain") == " M todo/service.py\n?? tests/test_regression.py\n"
    assert git(verify, "diff", "--cached") == "", "the index stays at the commit: nothing is staged"


async def test_apply_merges_a_diff_made_against_an_older_base(
    repo: GitRepo, playground: Playground, tmp_path: Path
) -> None:
    base = await repo.sync()
    code = await repo.add_worktree(tmp_path / "code", base)
    fix_bug(code)
    fix = await repo.worktree_diff(code, base, include=lambda _: True)
    # Meanwhile someone adds a line at the top of the same file, shifting the hunk's context.
    moved = await repo.add_worktree(tmp_path / "moved", base)
    service = moved / "todo" / "service.py"
    service.write_text("# Copyright 2024 Example\n" + service.read_text().replace('"""Mark', '"""Now mark'))

    await repo.apply(moved, fix)

    text = service.read_text()
    assert FIXED in text and text.startswith("# Copyright") and '"""Now mark' in text


async def test_apply_refuses_a_conflicting_diff_and_changes_nothing(repo: GitRepo, tmp_path: Path) -> None:
    base = await repo.sync()
    code = await repo.add_worktree(tmp_path / "code", base)
    fix_bug(code)
    fix = await repo.worktree_diff(code, base, include=lambda _: True)
    other = await repo.add_worktree(tmp_path / "other", base)
    service = other / "todo" / "service.py"
    conflicting = service.read_text().replace(BUGGY, "        todo.completed = bool(todo.completed) ^ True\n")
    service.write_text(conflicting)

    with pytest.raises(GitError, match=r"does not apply to .*nothing was changed"):
        await repo.apply(other, fix)

    assert service.read_text() == conflicting
    assert "<<<<<<<" not in service.read_text()
    assert git(other, "status", "--porcelain") == " M todo/service.py\n"  # unchanged, nothing staged


async def test_a_reset_waits_out_an_index_lock_held_by_another_git(
    repo: GitRepo, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    base = await repo.sync()
    work = await repo.add_worktree(tmp_path / "busy", base)
    fix_bug(work)
    lock = hold_index_lock(work)
    caplog.set_level(logging.DEBUG, logger="gitrepo")

    resetting = asyncio.create_task(repo.reset_worktree(work, base))
    deadline = time.monotonic() + 10
    while "git lock held, retrying" not in caplog.text:
        assert time.monotonic() < deadline and not resetting.done(), "the reset never hit the lock"
        await asyncio.sleep(0.01)
    await asyncio.to_thread(lock.unlink)  # the other process finishes
    await resetting

    assert BUGGY in (work / "todo" / "service.py").read_text()


async def test_apply_needs_no_lock_on_the_worktrees_index(repo: GitRepo, tmp_path: Path) -> None:
    """The patch goes through a scratch index: another git writing the worktree's index is no obstacle."""
    base = await repo.sync()
    work = await repo.add_worktree(tmp_path / "busy", base)
    hold_index_lock(work)
    diff = (
        "diff --git a/NEW.md b/NEW.md\nnew file mode 100644\n--- /dev/null\n+++ b/NEW.md\n@@ -0,0 +1 @@\n+x\n"
    )

    await repo.apply(work, diff)

    assert (work / "NEW.md").read_text() == "x\n"
