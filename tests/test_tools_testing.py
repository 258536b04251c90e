"""run_tests and run_test_command: real pytest subprocesses, counts, timeouts that kill the whole group."""

import asyncio
from pathlib import Path

import pytest

from tests.tools_fixtures import TEST_COMMAND, all_dead, make_context, tool_ctx_fixture, workspace_fixture  # noqa: F401 (fixtures)
from tools import ToolContext, builtin_registry, run_test_command
from tools.testing import parse_summary

FAILING = "from calc.ops import sub\n\n\ndef test_sub_backwards():\n    assert sub(3, 5) == 2\n"
BROKEN = "import calc.missing_module\n\n\ndef test_never_runs():\n    pass\n"
SKIPPED = "import pytest\n\n\n@pytest.mark.skip(reason='later')\ndef test_later():\n    pass\n"
HANGING = """\
import os
import subprocess
import sys
import time
from pathlib import Path


def test_hangs():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    Path(os.environ["PIDS_FILE"]).write_text(f"{os.getpid()} {child.pid}")
    time.sleep(60)
"""


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("1 failed, 2 passed in 0.1s", (2, 1, 0, 0)),
        ("========= 1 failed, 2 passed, 1 skipped in 0.12s =========", (2, 1, 0, 1)),
        ("== 3 passed, 1 warning ==", (3, 0, 0, 0)),
        ("5 errors in 0.31s", (0, 0, 5, 0)),
        ("1 error in 0.05s", (0, 0, 1, 0)),
        ("2 failed, 1 passed, 3 errors in 1.02s (0:00:01)", (1, 2, 3, 0)),
        ("=== no tests ran in 0.01s ===", (0, 0, 0, 0)),
        ("no tests ran", (0, 0, 0, 0)),
        ("4 passed, 1 xfailed, 1 xpassed, 2 deselected in 0.50s", (4, 0, 0, 0)),
    ],
)
def test_summary_line_parsing(line: str, expected: tuple[int, int, int, int]) -> None:
    summary = parse_summary(f"tests/test_x.py ..F\nsome output\n{line}\n")
    assert summary is not None
    assert (summary.passed, summary.failed, summary.errors, summary.skipped) == expected
    assert summary.line == line.strip("= ")


@pytest.mark.parametrize(
    "output", ["", "Traceback (most recent call last):\nImportError: no pytest\n", "3 passed the test\n"]
)
def test_no_summary_line_means_none(output: str) -> None:
    assert parse_summary(output) is None


async def test_passing_suite(tool_ctx: ToolContext) -> None:
    outcome = await builtin_registry().select(["run_tests"])[0].invoke(tool_ctx, {})
    assert not outcome.is_error
    assert outcome.data == {
        "passed": 2, "failed": 0, "errors": 0, "skipped": 0, "exit_code": 0, "timed_out": False
    }  # fmt: skip
    assert outcome.text.startswith("tests: 2 passed, 0 failed, 0 errors, 0 skipped (exit code 0")
    assert "2 passed in" in outcome.text


async def test_failing_erroring_and_skipped_tests_are_counted(tool_ctx: ToolContext, workspace: Path) -> None:
    (workspace / "tests/test_failing.py").write_text(FAILING)
    (workspace / "tests/test_broken.py").write_text(BROKEN)
    (workspace / "tests/test_skipped.py").write_text(SKIPPED)
    run = await run_test_command(workspace, TEST_COMMAND, env=tool_ctx.env, timeout_s=60)
    assert run.exit_code != 0
    assert (run.passed, run.failed, run.errors) == (0, 0, 1), "a collection error stops the whole run"
    assert run.summary is not None and "error" in run.summary

    (workspace / "tests/test_broken.py").unlink()
    run = await run_test_command(workspace, TEST_COMMAND, env=tool_ctx.env, timeout_s=60)
    assert (run.passed, run.failed, run.errors, run.skipped) == (2, 1, 0, 1)
    assert run.exit_code == 1 and not run.timed_out
    assert "test_sub_backwards" in run.output


async def test_run_tests_on_one_path_or_node(tool_ctx: ToolContext, workspace: Path) -> None:
    (workspace / "tests/test_failing.py").write_text(FAILING)
    tool = builtin_registry().select(["run_tests"])[0]
    one_file = await tool.invoke(tool_ctx, {"path": "tests/test_failing.py"})
    assert one_file.data is not None and (one_file.data["passed"], one_file.data["failed"]) == (0, 1)
    one_test = await tool.invoke(tool_ctx, {"path": "tests/test_ops.py::test_add"})
    assert one_test.data is not None and (one_test.data["passed"], one_test.data["failed"]) == (1, 0)
    outside = await tool.invoke(tool_ctx, {"path": "../elsewhere"})
    assert outside.is_error and outside.data is None


async def test_a_missing_test_program_is_a_clear_error(workspace: Path, tmp_path: Path) -> None:
    ctx = make_context(workspace, tmp_path / "state", test_command="no-such-test-runner -q")
    outcome = await builtin_registry().select(["run_tests"])[0].invoke(ctx, {})
    assert outcome.is_error
    assert "'no-such-test-runner -q' could not start" in outcome.text


async def test_a_hanging_suite_is_killed_without_blocking_the_loop(
    tool_ctx: ToolContext, workspace: Path, tmp_path: Path
) -> None:
    (workspace / "tests/test_hang.py").write_text(HANGING)
    pids_file = tmp_path / "pids"
    env = {**tool_ctx.env, "PIDS_FILE": str(pids_file)}
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticking = asyncio.create_task(ticker())
    try:
        run = await run_test_command(
            workspace, TEST_COMMAND, env=env, timeout_s=4, paths=["tests/test_hang.py"]
        )
    finally:
        ticking.cancel()
    assert run.timed_out and run.summary is None
    assert ticks > 40, f"the event loop was blocked: only {ticks} ticks in {run.duration_s:.1f} s"
    pids = [int(pid) for pid in pids_file.read_text().split()]
    assert len(pids) == 2, "the hanging test should have started before the timeout"
    assert all_dead(pids), "pytest and its child must be killed with the group"


async def test_run_tests_reports_a_timeout_as_an_error(workspace: Path, tmp_path: Path) -> None:
    (workspace / "tests/test_hang.py").write_text(HANGING)
    ctx = make_context(workspace, tmp_path / "state", test_timeout_s=0.5)
    ctx.env["PIDS_FILE"] = str(tmp_path / "pids")
    outcome = await builtin_registry().select(["run_tests"])[0].invoke(ctx, {"path": "tests/test_hang.py"})
    assert outcome.is_error
    assert outcome.text.startswith("the test run timed out after")
    assert outcome.data is not None and outcome.data["timed_out"] is True
