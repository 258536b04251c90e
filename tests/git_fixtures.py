"""Real git repositories with a bare ``origin`` for the git layer's tests and later users.

Import the fixtures (named ``playground``, ``make_repo`` and ``repo``) into a test module to use them::

    from tests.git_fixtures import repo_fixture, playground_fixture  # noqa: F401 (fixtures)

Git runs without global or system config (``ISOLATED_ENV``), so a developer's settings never matter.
"""

import os
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from demo.playground import Playground, create_playground, create_repo
from gitrepo import GitRepo

ISOLATED_ENV = {
    "PATH": os.environ.get("PATH", os.defpath),
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}
"""Pass as ``GitRepo(path, env=ISOLATED_ENV)``: no ``~/.gitconfig`` or ``/etc/gitconfig`` is read."""
AUTHOR = "Nightshift Bot <bot@nightshift.invalid>"
SMALL_FILES = {
    "README.md": "# calc\n",
    "calc/__init__.py": "",
    "calc/ops.py": "def add(a, b):\n    return a - b\n",
    "tests/test_ops.py": "from calc.ops import add\n\n\ndef test_zero():\n    assert add(0, 0) == 0\n",
}
"""A tiny repository with a bug (``add`` subtracts) that its one test does not catch."""


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` without user config; return stdout; fail the test on a non-zero exit."""
    env = {**ISOLATED_ENV, "GIT_AUTHOR_NAME": "Someone", "GIT_AUTHOR_EMAIL": "someone@example.com"}
    env |= {"GIT_COMMITTER_NAME": "Someone", "GIT_COMMITTER_EMAIL": "someone@example.com"}
    result = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"git {' '.join(args)} failed: {result.stderr}"
    return result.stdout


def commit_files(repo: Path, files: Mapping[str, str], message: str) -> str:
    """Write ``files`` into ``repo``, commit them on the current branch, return the new sha."""
    for name, content in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(content)
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", message)
    return git(repo, "rev-parse", "HEAD").strip()


def push_from_clone(origin: Path, clone: Path, files: Mapping[str, str], message: str) -> str:
    """Someone else's work: clone ``origin`` into ``clone``, commit ``files``, push main; return the sha."""
    git(origin.parent, "clone", "--quiet", str(origin), str(clone))
    sha = commit_files(clone, files, message)
    git(clone, "push", "--quiet", "origin", "main")
    return sha


@pytest.fixture(name="playground")
def playground_fixture(tmp_path: Path) -> Playground:
    """The demo todo service in ``tmp_path/sandbox/repo`` with a bare ``origin``."""
    return create_playground(tmp_path / "playground")


@pytest.fixture(name="make_repo")
def make_repo_fixture(tmp_path: Path) -> Callable[[Mapping[str, str]], Playground]:
    """Build a repository (with a bare ``origin``) from a dict of files: ``make_repo({"a.py": "..."})``."""
    count = 0

    def make(files: Mapping[str, str]) -> Playground:
        nonlocal count
        count += 1
        return create_repo(tmp_path / f"made-{count}", files)

    return make


@pytest.fixture(name="repo")
def repo_fixture(playground: Playground) -> GitRepo:
    """A ``GitRepo`` on the playground checkout, isolated from user git config."""
    return GitRepo(playground.repo, env=ISOLATED_ENV)
