"""A hostile test file, run through run_tests and through verification in the real bubblewrap sandbox:
every attempt to steal credentials or reach out fails or stays inside, nothing of it reaches a diff
or the model, and a fork bomb or a runaway allocation is stopped with a clear message."""

import socket
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from config import SafetySettings
from gitrepo import GitRepo
from safety.sandbox import Environment
from safety.secret_scan import SecretScanner
from tests.hostile import FORK_BOMB, MEMORY_HOG, bot_with_secrets, hostile_test, probe_results
from tests.tools_fixtures import TEST_COMMAND, git, make_context, make_repo, none_running
from tests.waiting import Ticks
from tools import ToolContext, builtin_registry
from verify import verify

SECRETS = {"OPENAI_API_KEY": "sk-live-0123456789abcdefXYZ", "SLACK_BOT_TOKEN": "xoxb-9999-8888-stolenvalue"}
REGRESSION = "from calc.ops import sub\n\n\ndef test_sub_order():\n    assert sub(5, 3) == 2\n"


class Listener:
    """A TCP server on the host's loopback that records every connection it gets."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.connections = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self.socket.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


@pytest.fixture
def bot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """The bot's own places, with something worth stealing in each, and its secrets in its environment."""
    home = bot_with_secrets(tmp_path, monkeypatch, SECRETS)
    state = tmp_path / "state"
    state.mkdir()
    (state / "nightshift.sqlite").write_text("the runs' database\n")
    checkout = make_repo(tmp_path / "main-checkout")
    return {"home": home, "state": state, "checkout": checkout}


def context(workspace: Path, bot: dict[str, Path], **limits: int) -> ToolContext:
    """A tool context in ``workspace`` whose sandbox keeps its state in the bot's state directory."""
    safety = SafetySettings.model_validate(limits)
    return make_context(
        workspace, bot["state"], secrets=SECRETS.values(), safety=safety, test_command=f"{TEST_COMMAND} -rP"
    )


def hostile(bot: dict[str, Path], listener: Listener, workspace: Path) -> str:
    return hostile_test(
        read={
            "bot HOME": bot["home"] / ".ssh/id_ed25519",
            "state directory": bot["state"] / "nightshift.sqlite",
            "main checkout": bot["checkout"] / "calc/ops.py",
            "worktree by its host path": workspace / "calc/ops.py",
        },
        write={
            "bot HOME": bot["home"] / ".bashrc",
            "state directory": bot["state"] / "planted",
            "main checkout": bot["checkout"] / "planted.py",
            "system file": Path("/etc/passwd"),
            "new file at the root": Path("/etc/hostname"),
        },
        port=listener.port,
        allocate=512 * 1024 * 1024,
    )


def assert_nothing_escaped(bot: dict[str, Path], listener: Listener, *texts: str) -> None:
    assert listener.connections == 0
    assert not (bot["home"] / ".bashrc").exists() and not (bot["state"] / "planted").exists()
    assert not (bot["checkout"] / "planted.py").exists()
    assert (bot["home"] / ".ssh/id_ed25519").read_text() == "PRIVATE KEY\n"
    assert SecretScanner(SECRETS).find(*texts) == []


async def test_a_hostile_test_file_is_contained_in_run_tests(
    tmp_path: Path, bot: dict[str, Path], listener: Listener
) -> None:
    workspace = make_repo(tmp_path / "repo")
    (workspace / "tests/test_bootstrap.py").write_text(hostile(bot, listener, workspace))
    ctx = context(workspace, bot, memory_limit_mb=256)

    outcome = (
        await builtin_registry().select(["run_tests"])[0].invoke(ctx, {"path": "tests/test_bootstrap.py"})
    )

    results = probe_results(outcome.text)
    assert outcome.data is not None and outcome.data["passed"] == 1, outcome.text
    assert set(results) == {
        "proc_environ", "read bot HOME", "read state directory", "read main checkout",
        "read worktree by its host path", "write bot HOME", "write state directory", "write main checkout",
        "write system file", "write new file at the root", "tcp", "http via proxy", "memory",
    }  # fmt: skip
    assert all(result.startswith("contained") for result in results.values()), results
    assert results["memory"] == "contained: MemoryError"
    assert not (workspace / "tests/stolen.txt").exists(), (
        "a file written beside the test vanishes with the run"
    )
    assert git(workspace, "status", "--porcelain") == "?? tests/test_bootstrap.py\n"
    assert_nothing_escaped(bot, listener, outcome.text)


async def test_a_hostile_test_file_is_contained_in_verification(
    tmp_path: Path, bot: dict[str, Path], listener: Listener
) -> None:
    """Through all four phases: the right fix is still verified, and nothing the file wrote or read
    reaches the verdict's excerpts."""
    repo_path = make_repo(tmp_path / "repo", {
        "calc/__init__.py": "", "calc/ops.py": "def sub(a, b):\n    return b - a\n", "tests/__init__.py": "",
    })  # fmt: skip
    repo = GitRepo(repo_path)
    base = git(repo_path, "rev-parse", "HEAD").strip()
    agent = await repo.add_worktree(tmp_path / "agent", base)
    (agent / "calc/ops.py").write_text("def sub(a, b):\n    return a - b\n")
    (agent / "tests/test_sub.py").write_text(REGRESSION + "\n\n" + hostile(bot, listener, agent))
    fix = await repo.worktree_diff(agent, base, include=lambda p: not p.startswith("tests/"))
    tests = await repo.worktree_diff(agent, base, include=lambda p: p.startswith("tests/"))
    ctx = context(repo_path, bot, memory_limit_mb=256)

    facts = await verify(
        repo, base=base, fix_diff=fix, test_diff=tests, test_files=["tests/test_sub.py"],
        workdir=tmp_path / "verify", test_command=ctx.test_command, timeout_s=120, sandbox=ctx.sandbox,
        environment=Environment(),
    )  # fmt: skip

    assert facts.verdict == "verified", facts.detail
    assert_nothing_escaped(bot, listener, facts.detail, *facts.excerpts.values())


async def test_a_fork_bomb_is_stopped_at_the_process_limit_without_blocking_the_bot(
    tmp_path: Path, bot: dict[str, Path]
) -> None:
    workspace = make_repo(tmp_path / "repo")
    bomb = f"tests/test_bomb_{uuid.uuid4().hex[:12]}.py"
    (workspace / bomb).write_text(FORK_BOMB)
    ctx = context(workspace, bot, process_limit=64)
    run_tests = builtin_registry().select(["run_tests"])[0]
    async with Ticks() as ticks:
        outcome = await run_tests.invoke(ctx, {"path": bomb})
    assert outcome.is_error
    assert outcome.text.startswith("the test run was stopped by the sandbox: it ran more than 64 processes")
    assert ticks.count > 10, "the bot's event loop kept running"
    assert none_running(f"{sys.executable} -m pytest", marker=bomb), "every process of the sandbox is gone"


async def test_memory_spread_over_processes_is_stopped_at_the_total_limit(
    tmp_path: Path, bot: dict[str, Path]
) -> None:
    workspace = make_repo(tmp_path / "repo")
    (workspace / "tests/test_hog.py").write_text(MEMORY_HOG)
    ctx = context(workspace, bot, memory_limit_mb=256)

    outcome = (
        await builtin_registry()
        .select(["shell"])[0]
        .invoke(ctx, {"command": "python -m pytest -q tests/test_hog.py", "timeout": 60})
    )

    assert outcome.is_error
    assert outcome.text.startswith("stopped by the sandbox: its processes used more than 256 MB of memory")
