"""The demo todo service: its suite passes, misses the one bug, and a regression test catches it."""

import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from demo.playground import SAMPLE_REPO, Playground, create_repo
from tests.git_fixtures import SMALL_FILES, git, make_repo_fixture, playground_fixture  # noqa: F401 (fixtures)

BUGGY = "        todo.completed = not todo.completed\n"
FIXED = "        todo.completed = True\n"
REGRESSION_TEST = (
    "from todo import TodoService\n\n\n"
    "def test_completing_twice_keeps_the_todo_completed():\n"
    "    service = TodoService()\n"
    "    todo = service.add('ship the release')\n"
    "    service.complete(todo.id)\n"
    "    assert service.complete(todo.id).completed is True\n"
)


def run_suite(repo: Path) -> subprocess.CompletedProcess[str]:
    """``python -m pytest -q`` from the repository root, as a developer would run it (no install)."""
    env = {"PATH": os.environ.get("PATH", os.defpath), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=repo, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def summary(result: subprocess.CompletedProcess[str]) -> str:
    match = re.search(r"^(\d+ (?:passed|failed).*) in [\d.]+s", result.stdout, re.MULTILINE)
    assert match, result.stdout + result.stderr
    return match.group(1)


def test_the_playground_is_a_clean_pushed_copy(playground: Playground) -> None:
    assert git(playground.repo, "status", "--porcelain") == ""
    assert git(playground.repo, "log", "--format=%an <%ae>") == "Nightshift Demo <demo@nightshift.invalid>\n"
    assert git(playground.origin, "rev-parse", "main") == git(playground.repo, "rev-parse", "HEAD")
    assert (
        git(playground.repo, "symbolic-ref", "refs/remotes/origin/HEAD").strip() == "refs/remotes/origin/main"
    )
    assert (SAMPLE_REPO / "todo" / "service.py").read_text().count(BUGGY) == 1


def test_the_shipped_suite_passes_and_misses_the_bug(playground: Playground) -> None:
    result = run_suite(playground.repo)

    assert result.returncode == 0, result.stdout + result.stderr
    passed = int(summary(result).split()[0])
    assert 8 <= passed <= 12


def test_a_regression_test_fails_on_the_bug_and_passes_with_the_one_line_fix(playground: Playground) -> None:
    (playground.repo / "tests" / "test_regression.py").write_text(REGRESSION_TEST)

    broken = run_suite(playground.repo)
    assert broken.returncode == 1
    assert summary(broken).startswith("1 failed")
    assert "test_completing_twice_keeps_the_todo_completed" in broken.stdout

    service = playground.repo / "todo" / "service.py"
    service.write_text(service.read_text().replace(BUGGY, FIXED))
    fixed = run_suite(playground.repo)
    assert fixed.returncode == 0, fixed.stdout
    assert git(playground.repo, "diff", "--numstat") == "1\t1\ttodo/service.py\n"


def test_make_repo_builds_a_pushed_repository_from_files(
    make_repo: Callable[[Mapping[str, str]], Playground],
) -> None:
    first = make_repo(SMALL_FILES)
    second = make_repo({"only.txt": "one file\n"})

    assert first.repo != second.repo
    assert git(first.repo, "ls-files").split() == sorted(SMALL_FILES)
    assert (first.repo / "calc" / "ops.py").read_text() == SMALL_FILES["calc/ops.py"]
    assert git(second.origin, "rev-parse", "main") == git(second.repo, "rev-parse", "HEAD")


def test_a_relative_destination_builds_the_playground_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    made = create_repo(Path("relative"), SMALL_FILES)

    assert made.origin == tmp_path / "relative" / "origin.git" and made.origin.is_dir()
    assert git(made.repo, "remote", "get-url", "origin").strip() == str(made.origin)
