"""HookRunner with real hook scripts: stdin payload, vetoes, timeouts, crashes, concurrency, env."""

import asyncio
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from config import HookSpec
from hooks import OUTPUT_CAP, HookRunner
from tests.waiting import Ticks, eventually

PATH = "/usr/local/bin:/usr/bin:/bin"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The scrubbed environment a caller would build: no secrets, just enough to run programs."""
    return {"PATH": PATH, "HOME": str(tmp_path), "NIGHTSHIFT_RUN_ID": "run-42"}


def script(tmp_path: Path, name: str, body: str, *, python: bool = False) -> str:
    """Write an executable hook script and return its path."""
    path = tmp_path / name
    shebang = f"#!{sys.executable}" if python else "#!/bin/bash"
    path.write_text(f"{shebang}\n{body}\n")
    path.chmod(0o755)
    return str(path)


def hook(event: str, *command: str, timeout_s: float = 10.0) -> HookSpec:
    return HookSpec(event=event, command=list(command), timeout_s=timeout_s)  # type: ignore[arg-type]


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is ``pgid``, from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, _ppid, pgrp = stat[stat.rindex(")") + 2 :].split()[:3]
        if int(pgrp) == pgid and state not in ("Z", "X"):
            members.append(int(entry.name))
    return members


async def test_payload_arrives_on_stdin_as_json(env: dict[str, str]) -> None:
    runner = HookRunner([hook("after_tool", "cat")], env=env)

    (result,) = await runner.fire("after_tool", {"tool": "shell", "ok": True, "args": {"cmd": "ls"}})

    assert result.ok and result.error is None and not result.timed_out
    assert result.command == ("cat",)
    assert json.loads(result.stdout) == {
        "event": "after_tool",
        "tool": "shell",
        "ok": True,
        "args": {"cmd": "ls"},
    }


async def test_hook_that_ignores_a_large_payload_still_succeeds(env: dict[str, str]) -> None:
    runner = HookRunner([hook("run_started", "true")], env=env)

    (result,) = await runner.fire("run_started", {"ticket": "x" * 1_000_000})

    assert result.ok


async def test_chatty_hook_output_is_capped(tmp_path: Path, env: dict[str, str]) -> None:
    chatty = script(tmp_path, "chatty.py", "import sys\nsys.stdout.write('y' * 5_000_000)", python=True)
    runner = HookRunner([hook("after_agent", chatty)], env=env)

    (result,) = await runner.fire("after_agent", {})

    assert result.ok
    assert result.stdout == "y" * OUTPUT_CAP


async def test_veto_returns_the_hooks_stderr_as_the_reason(tmp_path: Path, env: dict[str, str]) -> None:
    allow = script(tmp_path, "allow.sh", "exit 0")
    deny = script(tmp_path, "deny.sh", 'echo "no writes after 5pm" >&2\nexit 1')
    runner = HookRunner([hook("before_tool", allow), hook("before_tool", deny)], env=env)

    assert await runner.veto({"tool": "write_file", "arguments": {"path": "a.py"}}) == "no writes after 5pm"


async def test_veto_without_stderr_names_the_hook_and_exit_status(
    tmp_path: Path, env: dict[str, str]
) -> None:
    deny = script(tmp_path, "deny quietly.sh", "exit 3")
    runner = HookRunner([hook("before_tool", deny)], env=env)

    assert await runner.veto({"tool": "shell"}) == f"vetoed by hook '{deny}' (exit 3)"


async def test_hooks_that_allow_do_not_veto(tmp_path: Path, env: dict[str, str]) -> None:
    allow = script(tmp_path, "allow.sh", "cat >/dev/null; exit 0")
    runner = HookRunner([hook("before_tool", allow), hook("after_tool", "false")], env=env)

    assert await runner.veto({"tool": "shell"}) is None


async def test_hung_hook_is_killed_with_its_process_group_while_the_loop_keeps_running(
    tmp_path: Path, env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    pids = tmp_path / "pids"
    hang = script(tmp_path, "hang.sh", f"sleep 30 &\necho $$ > {pids}\nsleep 30")
    runner = HookRunner([hook("on_error", hang, timeout_s=0.5)], env=env)
    started = time.monotonic()
    async with Ticks() as ticks:
        with caplog.at_level(logging.WARNING, logger="nightshift.hooks"):
            (result,) = await runner.fire("on_error", {"error": "boom"})
    elapsed = time.monotonic() - started

    assert elapsed < 10  # nowhere near the 30 s the hook wanted
    assert ticks.count >= 10  # other coroutines ran while the hook hung
    assert result.timed_out and result.exit_code is None and not result.ok
    pgid = int(pids.read_text())
    await eventually(lambda: not group_members(pgid))  # the background sleep is gone too
    assert f"hook {hang} for event on_error timed out after 0.5 s" in caplog.text


async def test_cancelled_fire_kills_the_hook_group(tmp_path: Path, env: dict[str, str]) -> None:
    pids = tmp_path / "pids"
    hang = script(tmp_path, "hang.sh", f"sleep 30 &\necho $$ > {pids}\nsleep 30")
    runner = HookRunner([hook("before_agent", hang, timeout_s=60)], env=env)

    firing = asyncio.create_task(runner.fire("before_agent", {}))
    await eventually(lambda: pids.exists() and pids.read_text().strip() != "")
    pgid = int(pids.read_text())
    assert group_members(pgid)
    firing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await firing

    await eventually(lambda: not group_members(pgid))


async def test_hung_before_tool_hook_does_not_veto(tmp_path: Path, env: dict[str, str]) -> None:
    hang = script(tmp_path, "hang.sh", "exec sleep 30")
    runner = HookRunner([hook("before_tool", hang, timeout_s=0.3)], env=env)

    assert await runner.veto({"tool": "shell"}) is None


async def test_missing_or_not_executable_hook_is_logged_and_does_not_raise(
    tmp_path: Path, env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    missing = str(tmp_path / "no-such-hook")
    not_executable = tmp_path / "plain.sh"
    not_executable.write_text("#!/bin/bash\nexit 0\n")
    runner = HookRunner(
        [hook("pr_opened", missing), hook("pr_opened", str(not_executable)), hook("before_tool", missing)],
        env=env,
    )

    with caplog.at_level(logging.WARNING, logger="nightshift.hooks"):
        first, second = await runner.fire("pr_opened", {"url": "https://example.test/pr/1"})
        vetoed = await runner.veto({"tool": "shell"})

    for result in (first, second):
        assert result.exit_code is None and not result.timed_out
        assert result.error is not None and result.error.startswith("could not be started")
    assert vetoed is None  # a hook that cannot start does not block tools
    assert f"hook {missing} for event pr_opened could not be started" in caplog.text
    assert f"hook {not_executable} for event pr_opened could not be started" in caplog.text
    assert f"hook {missing} for event before_tool could not be started" in caplog.text


async def test_hook_that_raises_is_logged_with_its_error(
    tmp_path: Path, env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    crash = script(tmp_path, "crash.py", "raise RuntimeError('jira is down')", python=True)
    runner = HookRunner([hook("approved", crash)], env=env)

    with caplog.at_level(logging.WARNING, logger="nightshift.hooks"):
        (result,) = await runner.fire("approved", {"run": "r1"})

    assert result.exit_code == 1 and result.error == "exited with status 1"
    assert "Traceback" in result.stderr
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert f"hook {crash} for event approved exited with status 1" in record.getMessage()
    assert "RuntimeError: jira is down" in record.getMessage()


async def test_every_hook_for_the_event_runs_concurrently_and_no_other(
    tmp_path: Path, env: dict[str, str]
) -> None:
    # Each hook announces itself, then waits for the other: run one after the other, both would fail.
    def rendezvous(me: str, other: str) -> str:
        body = (
            f"touch {tmp_path / me}\n"
            f"for _ in $(seq 200); do [ -e {tmp_path / other} ] && exit 0; sleep 0.02; done\nexit 1"
        )
        return script(tmp_path, f"{me}.sh", body)

    elsewhere = script(tmp_path, "elsewhere.sh", f"touch {tmp_path / 'elsewhere'}")
    runner = HookRunner(
        [
            hook("briefing_posted", rendezvous("first", "second")),
            hook("after_agent", elsewhere),
            hook("briefing_posted", rendezvous("second", "first")),
        ],
        env=env,
    )

    results = await runner.fire("briefing_posted", {"ts": "1700000000.1"})

    assert [Path(r.command[0]).name for r in results] == ["first.sh", "second.sh"]
    assert all(r.ok for r in results)
    assert not (tmp_path / "elsewhere").exists()


async def test_hook_environment_is_exactly_the_one_given(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake-must-not-leak")
    monkeypatch.setenv("UNRELATED_HOST_VARIABLE", "1")
    runner = HookRunner([hook("run_failed", "env", "-0")], env=env)

    (result,) = await runner.fire("run_failed", {"reason": "tests still fail"})

    seen = dict(item.split("=", 1) for item in result.stdout.split("\0") if item)
    assert seen == env


async def test_hooks_run_in_the_given_directory(tmp_path: Path, env: dict[str, str]) -> None:
    workdir = tmp_path / "worktree"
    workdir.mkdir()
    runner = HookRunner([hook("before_agent", "pwd")], env=env, cwd=workdir)

    (result,) = await runner.fire("before_agent", {})

    assert result.stdout.strip() == str(workdir)


async def test_unknown_event_is_a_programming_error(env: dict[str, str]) -> None:
    runner = HookRunner([], env=env)

    with pytest.raises(ValueError, match="unknown hook event 'before_tools'"):
        await runner.fire("before_tools", {})


async def test_event_without_hooks_starts_no_process(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_process(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"a process was started: {args}")

    monkeypatch.setattr(asyncio, "create_subprocess_exec", no_process)
    empty = HookRunner([], env=env)
    other = HookRunner([hook("pr_opened", "true")], env=env)

    assert await empty.fire("after_tool", {"tool": "shell"}) == []
    assert await empty.veto({"tool": "shell"}) is None
    assert await other.fire("after_tool", {"tool": "shell"}) == []
