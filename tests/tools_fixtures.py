"""A real temporary git repository and a ToolContext working in it, for tools tests and later users.

Import the fixtures into a test module to use them (they are named ``workspace`` and ``tool_ctx``)::

    from tests.tools_fixtures import tool_ctx_fixture, workspace_fixture  # noqa: F401 (fixtures)
"""

import os
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import pytest

from config import SafetySettings, Settings, ToolsSettings
from demo.playground import SAMPLE_ENVIRONMENT
from environment.prepare import plain_environment
from safety.sandbox import Environment, Sandbox
from tools.context import ToolContext

SAMPLE_FILES = {
    "README.md": "# calc\n\nA tiny calculator used by the tools tests.\n",
    "calc/__init__.py": "",
    "calc/ops.py": ("def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"),
    "tests/__init__.py": "",
    "tests/test_ops.py": (
        "from calc.ops import add, sub\n"
        "\n"
        "\n"
        "def test_add():\n"
        "    assert add(2, 3) == 5\n"
        "\n"
        "\n"
        "def test_sub():\n"
        "    assert sub(5, 3) == 2\n"
    ),
}

TEST_COMMAND = SAMPLE_ENVIRONMENT.test_command
"""The venv's pytest (its installation is shown read-only in the sandbox)."""
TEST_FILES = ["tests/**", "test/**", "**/test_*.py", "**/*_test.py", "**/conftest.py"]


def git(workspace: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=workspace, check=True, capture_output=True, text=True)
    return result.stdout


def make_repo(path: Path, files: dict[str, str] | None = None) -> Path:
    """``git init`` a repository at ``path`` holding ``files`` (default: the calc package), committed."""
    path.mkdir(parents=True)
    for name, content in (SAMPLE_FILES if files is None else files).items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "tests@example.com")
    git(path, "config", "user.name", "Tests")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return path


def process_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting to be reaped counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def processes_running(prefix: str, marker: str = "") -> list[int]:
    """Host pids of live processes whose whole command line starts with ``prefix`` (``sleep 61``:
    ``sleep 6101``, not a shell that runs it) and holds ``marker`` (a name only this test uses, so that
    another pytest on a shared machine is not taken for ours). Sandboxed processes are included: their
    own PID namespace hides nothing from the host."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().rstrip(b"\0").split(b"\0")
        except OSError:
            continue
        line = b" ".join(argv).decode(errors="replace")
        if line.startswith(prefix) and marker in line and process_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def none_running(prefix: str, within_s: float = 5.0, *, marker: str = "") -> bool:
    """Poll until no process whose command line starts with ``prefix`` (and holds ``marker``) is left;
    False after ``within_s``."""
    deadline = time.monotonic() + within_s
    while processes_running(prefix, marker):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def all_dead(pids: Iterable[int], within_s: float = 5.0) -> bool:
    """Poll until every process in ``pids`` is gone; False if one is still alive after ``within_s``."""
    deadline = time.monotonic() + within_s
    while any(process_alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def make_context(
    workspace: Path,
    state_dir: Path,
    *,
    role: Literal["code", "test", "any"] = "any",
    secrets: Iterable[str] = (),
    safety: SafetySettings | None = None,
    test_command: str = TEST_COMMAND,
    environment: Environment | None = None,
    agent: str = "tester",
    repo_id: str = "calc",
    read_only_shell: bool = False,
    **tool_settings: Any,
) -> ToolContext:
    """A ToolContext for agent ``tester`` built the way the agent runner builds it, with a real sandbox."""
    settings = Settings(
        tools=ToolsSettings(**tool_settings),
        safety=safety or SafetySettings(),
        environment=SAMPLE_ENVIRONMENT.model_copy(update={"test_command": test_command}),
    )
    secrets = list(secrets)
    named = {f"SECRET_{number}": value for number, value in enumerate(secrets)}
    return ToolContext.create(
        workspace,
        agent=agent,
        role=role,
        settings=settings,
        state_dir=state_dir,
        repo_id=repo_id,
        secrets=named,
        sandbox=Sandbox.create(settings.safety, state_dir=state_dir, secrets=secrets),
        environment=environment or plain_environment(settings.environment),
        test_files=TEST_FILES,
        read_only_shell=read_only_shell,
    )


@pytest.fixture(name="workspace")
def workspace_fixture(tmp_path: Path) -> Path:
    """A committed git repository with a small Python package and its (passing) tests."""
    return make_repo(tmp_path / "repo")


@pytest.fixture(name="tool_ctx")
def tool_ctx_fixture(workspace: Path, tmp_path: Path) -> ToolContext:
    """A ToolContext (role 'any', default policy) in ``workspace``, state in ``tmp_path/state``."""
    return make_context(workspace, tmp_path / "state")
