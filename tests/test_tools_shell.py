"""shell: runs under the command policy in the sandbox at /workspace, is killed whole on timeout or
cancellation, sees no secrets and an empty HOME."""

import asyncio
from pathlib import Path
from typing import Any

import pytest

from config import Policy, SafetySettings
from tests.tools_fixtures import (  # noqa: F401 (fixtures)
    git,
    make_context,
    none_running,
    processes_running,
    tool_ctx_fixture,
    workspace_fixture,
)
from tools import ToolContext, ToolOutcome, builtin_registry


async def shell(ctx: ToolContext, command: str, **arguments: Any) -> ToolOutcome:
    return await builtin_registry().select(["shell"])[0].invoke(ctx, {"command": command, **arguments})


async def test_runs_in_the_workspace_and_reports_exit_code(tool_ctx: ToolContext, workspace: Path) -> None:
    outcome = await shell(tool_ctx, "pwd; echo to-stderr >&2; exit 3")
    assert not outcome.is_error
    lines = outcome.text.splitlines()
    assert lines[0] == "exit code 3"
    assert lines[1:] == ["/workspace", "to-stderr"]
    assert outcome.data == {"exit_code": 3, "timed_out": False}
    quiet = await shell(tool_ctx, "true")
    assert quiet.text == "exit code 0\n(no output)"


async def test_a_refused_command_leaves_no_trace(tool_ctx: ToolContext, workspace: Path) -> None:
    sibling = workspace.parent / "sibling"
    sibling.mkdir()
    outcome = await shell(tool_ctx, "rm -rf ..")
    assert outcome.is_error and outcome.text
    assert "exit code" not in outcome.text
    assert sibling.is_dir() and (workspace / "calc/ops.py").is_file()


async def test_the_result_says_when_the_policy_mounts_the_workspace_read_only(
    workspace: Path, tmp_path: Path
) -> None:
    ctx = make_context(workspace, tmp_path / "state", safety=SafetySettings(policy=Policy.ON_FAILURE))
    assert (await shell(ctx, "true")).text == "exit code 0\n(no output)"
    switched = (await shell(ctx, "exit 4")).text.splitlines()
    assert switched[0].startswith("(on_failure: a command has failed, so for the rest of this run the")
    assert switched[1] == "exit code 4"
    assert "mounted read-only" in (await shell(ctx, "true")).text.splitlines()[0]


async def test_a_read_only_shell_probes_but_never_writes_whatever_the_policy(
    workspace: Path, tmp_path: Path
) -> None:
    """The test agent's shell: a throwaway script runs (its scratch goes to the private /tmp), a write
    to the worktree fails, under the writable ``yolo`` policy too."""
    ctx = make_context(
        workspace,
        tmp_path / "state",
        role="test",
        read_only_shell=True,
        safety=SafetySettings(policy=Policy.YOLO),
    )
    probe = await shell(ctx, "python3 - <<'EOF'\nfrom calc.ops import add\nprint('add:', add(2, 3))\nEOF")
    write = await shell(ctx, "echo changed > calc/ops.py")

    assert probe.text.splitlines()[0] == (
        "(yolo: for you, every command runs, but the workspace is mounted read-only, so writes there fail "
        "with 'Read-only file system' (a private /tmp stays writable); change files with the file tools "
        "(edit_file, write_file).)"
    )
    assert probe.text.splitlines()[1:] == ["exit code 0", "add: 5"]
    assert "Read-only file system" in write.text
    assert git(workspace, "status", "--porcelain") == ""


async def test_timeout_kills_the_whole_process_group(workspace: Path, tmp_path: Path) -> None:
    ctx = make_context(workspace, tmp_path / "state", safety=SafetySettings(policy=Policy.YOLO))
    outcome = await shell(ctx, "sleep 6101 & echo started; sleep 6102", timeout=1)
    assert outcome.is_error
    assert outcome.text.splitlines() == [
        "timed out after 1 s; the command and its child processes were killed",
        "started",
    ]
    assert none_running("sleep 610"), "a background child of the command must die with it"


async def test_a_requested_timeout_is_capped(workspace: Path, tmp_path: Path) -> None:
    ctx = make_context(
        workspace, tmp_path / "state", safety=SafetySettings(policy=Policy.YOLO), max_shell_timeout_s=0.5
    )
    outcome = await shell(ctx, "sleep 30", timeout=600)
    assert outcome.text.splitlines()[:2] == [
        "(timeout capped at the maximum of 0.5 s)",
        "timed out after 0.5 s; the command and its child processes were killed",
    ]


async def test_secrets_are_not_in_the_environment(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-live-abcdefghijklmnop"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.setenv("SOME_HARMLESS_LOOKING_VAR", secret)
    ctx = make_context(workspace, tmp_path / "state", secrets=[secret])
    outcome = await shell(ctx, "env")
    assert not outcome.is_error
    assert "OPENAI_API_KEY" not in outcome.text
    assert secret not in outcome.text
    assert "PATH=" in outcome.text


async def test_home_is_empty_private_and_gone_afterwards(tool_ctx: ToolContext, workspace: Path) -> None:
    outcome = await shell(tool_ctx, 'echo "$HOME"; ls -A "$HOME" | wc -l; touch "$HOME/.tool-cache"')
    assert outcome.text.splitlines()[1:] == ["/home/sandbox", "0"]
    again = await shell(tool_ctx, 'ls -A "$HOME" | wc -l')
    assert again.text.splitlines()[1] == "0", "nothing of one command's HOME reaches the next"
    assert git(workspace, "status", "--porcelain") == ""  # and never part of the diff


async def test_cancelling_the_call_kills_the_command(workspace: Path, tmp_path: Path) -> None:
    ctx = make_context(workspace, tmp_path / "state", safety=SafetySettings(policy=Policy.YOLO))
    call = asyncio.create_task(shell(ctx, "sleep 6201 & sleep 6202"))
    for _ in range(200):  # the agent is cancelled (say, its time is up) once the command is running
        if len(processes_running("sleep 620")) == 2:
            break
        await asyncio.sleep(0.05)
    assert len(processes_running("sleep 620")) == 2
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert none_running("sleep 620"), "a cancelled call must not leave its processes running"


async def test_a_command_that_prints_without_end_is_stopped_at_the_output_limit(
    workspace: Path, tmp_path: Path
) -> None:
    ctx = make_context(workspace, tmp_path / "state", safety=SafetySettings(output_limit_mb=1))
    outcome = await shell(ctx, "yes nightshift", timeout=60)
    assert outcome.is_error
    assert outcome.text.startswith("stopped by the sandbox: it printed more than 1 MB")
    assert none_running("yes nightshift")
