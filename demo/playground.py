"""Throwaway git repositories with a bare ``origin``, for the demo and for tests.

``create_playground`` copies ``demo/sample_repo`` (the todo service with one bug) so the original stays
clean; ``create_repo`` builds one from a dict of files. Either way ``dest/repo`` is a checkout of
``main`` with one commit, pushed to the bare ``dest/origin.git`` with ``origin/HEAD`` set, just like a
fresh clone of a hosted repository.

Git runs with no global or system config (``GIT_CONFIG_GLOBAL=/dev/null``), so a developer's settings
(signing, hooks, default branch) cannot change what gets built.
"""

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from config import EnvironmentSettings

SAMPLE_REPO = Path(__file__).resolve().parent / "sample_repo"
"""The demo project: a todo service whose ``complete()`` toggles instead of setting ``completed``."""
DEMO_AUTHOR = ("Nightshift Demo", "demo@nightshift.invalid")
SAMPLE_ENVIRONMENT = EnvironmentSettings(
    test_command=f"{sys.executable} -m pytest -q", variables={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
)
"""How the sample repositories' tests run: no set-up, the interpreter that runs Nightshift, and none of
the pytest plugins installed beside it (the samples use none, and loading them costs over a second of
CPU per test run)."""
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache", ".ruff_cache")


class PlaygroundError(Exception):
    """A git command that failed while building a playground; the message holds the command and stderr."""


@dataclass(frozen=True)
class Playground:
    repo: Path
    """The working checkout (branch ``main``, one commit, ``origin`` set)."""
    origin: Path
    """The bare repository ``origin`` points to."""


def create_playground(dest: Path, *, source: Path = SAMPLE_REPO) -> Playground:
    """A copy of ``source`` (default: the sample repo) committed in ``dest/repo``, pushed to
    ``dest/origin.git``. ``dest/repo`` must not exist yet."""
    repo = dest / "repo"
    shutil.copytree(source, repo, ignore=_IGNORED)
    return _publish(repo, dest / "origin.git")


def create_repo(dest: Path, files: Mapping[str, str]) -> Playground:
    """A repository holding ``files`` (relative path -> text) committed in ``dest/repo``, pushed to
    ``dest/origin.git``. ``dest/repo`` must not exist yet."""
    repo = dest / "repo"
    repo.mkdir(parents=True)
    for name, content in files.items():
        target = repo / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    return _publish(repo, dest / "origin.git")


def clone(playground: Playground, dest: Path) -> Path:
    """Another checkout of the playground's ``origin`` at ``dest`` (another worker's clone), set up as
    ``dest/repo`` is: ``main`` checked out, ``origin/HEAD`` set, the demo author configured."""
    dest = dest.resolve()
    _git(playground.origin.parent, "clone", "--quiet", str(playground.origin), str(dest))
    name, email = DEMO_AUTHOR
    _git(dest, "config", "user.name", name)
    _git(dest, "config", "user.email", email)
    return dest


def _publish(repo: Path, origin: Path) -> Playground:
    repo, origin = repo.resolve(), origin.resolve()  # git runs elsewhere: a relative path would move
    name, email = DEMO_AUTHOR
    _git(repo, "init", "--quiet", "--initial-branch=main")
    _git(repo, "config", "user.name", name)
    _git(repo, "config", "user.email", email)
    _git(repo, "add", "--all")
    _git(repo, "commit", "--quiet", "--message", "Initial commit")
    _git(repo.parent, "init", "--quiet", "--bare", "--initial-branch=main", str(origin))
    _git(repo, "remote", "add", "origin", str(origin))
    _git(repo, "push", "--quiet", "--set-upstream", "origin", "main")
    _git(repo, "remote", "set-head", "origin", "main")
    return Playground(repo=repo, origin=origin)


def _git(cwd: Path, *args: str) -> None:
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "LC_ALL": "C",
    }
    result = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        command = " ".join(("git", *args))
        raise PlaygroundError(f"`{command}` in {cwd} failed ({result.returncode}): {result.stderr.strip()}")


def environment_toml(environment: EnvironmentSettings = SAMPLE_ENVIRONMENT) -> str:
    """``environment``'s test command and variables as the ``[environment]`` table of a nightshift.toml
    (TOML basic strings read JSON string escapes)."""
    variables = ", ".join(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in environment.variables.items())
    return (
        f"[environment]\ntest_command = {json.dumps(environment.test_command)}\n"
        f"variables = {{ {variables} }}\n"
    )
