"""run_tests and run_test_command: real test runs in the sandbox, counts from the JUnit report or the
runner's summary, projects' own pytest configuration, timeouts that kill every process."""

import shlex
import sys
from pathlib import Path

import pytest

from tests.tools_fixtures import (  # noqa: F401 (fixtures)
    TEST_COMMAND,
    git,
    make_context,
    make_repo,
    none_running,
    processes_running,
    tool_ctx_fixture,
    workspace_fixture,
)
from tests.waiting import Ticks
from tools import ToolContext, builtin_registry, run_test_command
from tools.runner_reports import Counts, parse_summary, strip_ansi
from tools.runners import parse_test_command
from tools.testing import TestRun

FAILING = "from calc.ops import sub\n\n\ndef test_sub_backwards():\n    assert sub(3, 5) == 2\n"
BROKEN = "import calc.missing_module\n\n\ndef test_never_runs():\n    pass\n"
SKIPPED = "import pytest\n\n\n@pytest.mark.skip(reason='later')\ndef test_later():\n    pass\n"
HANGING = """\
import subprocess


def test_hangs():
    subprocess.Popen(["sleep", "6301"])
    subprocess.run(["sleep", "6302"])
"""
WRITES_BESIDE_ITSELF = """\
from pathlib import Path


def test_writes():
    Path(__file__).with_name("left_behind.txt").write_text("x")
    Path("calc/ops.py").write_text("broken = True\\n")
"""


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("1 failed, 2 passed in 0.1s", (2, 1, 0, 0)),
        ("========= 1 failed, 2 passed, 1 skipped in 0.12s =========", (2, 1, 0, 1)),
        ("== 3 passed, 1 warning ==", (3, 0, 0, 0)),
        ("5 errors in 0.31s", (0, 0, 5, 0)),
        ("2 failed, 1 passed, 3 errors in 1.02s (0:00:01)", (1, 2, 3, 0)),
        ("=== no tests ran in 0.01s ===", (0, 0, 0, 0)),
        ("4 passed, 1 xfailed, 1 xpassed, 2 deselected in 0.50s", (4, 0, 0, 0)),
    ],
)
def test_pytest_summary_line_parsing(line: str, expected: tuple[int, int, int, int]) -> None:
    summary = parse_summary(f"tests/test_x.py ..F\nsome output\n{line}\n")
    assert summary is not None
    assert summary.counts == Counts(*expected)
    assert summary.line == line.strip("= ")


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        ("Ran 3 tests in 0.001s\n\nOK\n", Counts(passed=3)),
        ("Ran 4 tests in 0.010s\n\nFAILED (failures=1, errors=2)\n", Counts(passed=1, failed=1, errors=2)),
        ("Ran 3 tests in 0.002s\n\nOK (skipped=1, expected failures=1)\n", Counts(passed=1, skipped=2)),
        ("Ran 2 tests in 0.002s\n\nFAILED (unexpected successes=1)\n", Counts(passed=1, failed=1)),
        ("Ran 0 tests in 0.000s\n\nNO TESTS RAN\n", Counts()),
    ],
)
def test_unittest_summary_parsing(tail: str, expected: Counts) -> None:
    summary = parse_summary(f".F\n{'-' * 70}\n{tail}")
    assert summary is not None and summary.counts == expected


@pytest.mark.parametrize(
    "output", ["", "Traceback (most recent call last):\nImportError: no pytest\n", "3 passed the test\n"]
)
def test_no_summary_line_means_none(output: str) -> None:
    assert parse_summary(output) is None


def test_colour_codes_are_stripped_before_parsing() -> None:
    coloured = "\x1b[32m\x1b[1m2 passed\x1b[0m\x1b[32m in 0.01s\x1b[0m"
    summary = parse_summary(strip_ansi(coloured))
    assert summary is not None and summary.counts == Counts(passed=2)


@pytest.mark.parametrize(
    ("command", "kind"),
    [
        ("python -m pytest -q", "pytest"),
        (".venv/bin/pytest -x", "pytest"),
        ("python -m unittest discover", "unittest"),
        ("python manage.py test", "django"),
        ("python src/manage.py test hc --parallel 4", "django"),
        ("django-admin test --settings site.test", "django"),
        ("python test.py", "other"),
        ("python manage.py runserver", "other"),
        ("make test", "other"),
    ],
)
def test_runner_kind(command: str, kind: str) -> None:
    assert parse_test_command(command).kind == kind


@pytest.mark.parametrize(
    ("command", "paths", "argv"),
    [
        ("python -m pytest -q", ["tests/test_a.py::test_x"], "python -m pytest -q tests/test_a.py::test_x"),
        ("python -m unittest", ["tests/test_a.py", "tests/sub/test_b.py"],
         "python -m unittest tests.test_a tests.sub.test_b -v"),
        ("python -m unittest -b tests.test_old", [], "python -m unittest -b tests.test_old -v"),
        ("python -m unittest -b tests.test_old", ["tests/test_a.py::A::test_x"],
         "python -m unittest -b tests.test_a.A.test_x -v"),
        # discover takes at most three positional arguments: the tests are named with -k, relative to the
        # directory discover imports them from (its top level, by default its start)
        ("python -m unittest discover tests", ["tests/test_a.py", "tests/test_b.py", "tests/test_c.py",
                                              "tests/test_d.py"],
         "python -m unittest discover tests -k 'test_a.*' -k 'test_b.*' -k 'test_c.*' -k 'test_d.*' -v"),
        ("python -m unittest discover -s tests -t . -p '*_test.py'", ["tests/x_test.py"],
         "python -m unittest discover -s tests -t . -p '*_test.py' -k 'tests.x_test.*' -v"),
        ("python manage.py test --parallel 2 hc", ["hc/api/tests/test_x.py"],
         "python manage.py test --parallel 2 hc.api.tests.test_x --verbosity 2"),
        ("python manage.py test", [], "python manage.py test --verbosity 2"),
        ("python src/manage.py test", ["src/shop/tests.py"],
         "python src/manage.py test shop.tests --verbosity 2"),
        ("python test.py", ["test.py"], "python test.py"),
    ],
)  # fmt: skip
def test_each_runner_is_given_tests_the_way_it_takes_them(command: str, paths: list[str], argv: str) -> None:
    assert shlex.join(parse_test_command(command).argv_for(paths)) == argv


def test_a_path_a_discover_command_never_runs_is_refused() -> None:
    command = parse_test_command("python -m unittest discover -s tests")
    assert command.label("other/test_x.py") is None
    with pytest.raises(ValueError, match=r"other/test_x\.py is outside tests"):
        command.argv_for(["other/test_x.py"])


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
    run = await _run(tool_ctx, workspace)
    assert run.exit_code != 0
    assert run.counts is not None and run.counts.errors == 1, "a collection error stops the whole run"
    assert run.report is not None and run.report.collection_errors()

    (workspace / "tests/test_broken.py").unlink()
    run = await _run(tool_ctx, workspace)
    assert run.counts == Counts(passed=2, failed=1, skipped=1)
    assert run.exit_code == 1 and not run.timed_out
    assert "test_sub_backwards" in run.output


async def test_a_project_configured_pytest_is_run_as_configured(tmp_path: Path) -> None:
    """addopts with --color=yes and -p, filterwarnings = error, minversion, testpaths: counts still
    come out right, with no colour codes left in what the model sees."""
    files = {
        "calc/__init__.py": "",
        "calc/ops.py": "def add(a, b):\n    return a + b\n",
        "checks/test_ops.py": "from calc.ops import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n\n\n"
        "def test_wrong():\n    assert add(1, 2) == 4\n",
        "ignored/test_elsewhere.py": "def test_never_collected():\n    raise AssertionError\n",
        "pyproject.toml": "[tool.pytest.ini_options]\nminversion = '7.0'\n"
        "addopts = '--color=yes -p no:asyncio -p no:doctest -rA --strict-markers'\n"
        "filterwarnings = ['error']\ntestpaths = ['checks']\n",
    }
    workspace = make_repo(tmp_path / "project", files)
    ctx = make_context(workspace, tmp_path / "state")
    outcome = await builtin_registry().select(["run_tests"])[0].invoke(ctx, {})
    assert outcome.data is not None
    assert (outcome.data["passed"], outcome.data["failed"], outcome.data["errors"]) == (1, 1, 0)
    assert "\x1b[" not in outcome.text
    assert "test_wrong" in outcome.text


async def test_a_root_level_unittest_script_reports_its_counts(tmp_path: Path) -> None:
    files = {
        "lib.py": "def double(x):\n    return x * 3\n",
        "test.py": "import unittest\n\nfrom lib import double\n\n\nclass T(unittest.TestCase):\n"
        "    def test_one(self):\n        self.assertEqual(double(0), 0)\n\n"
        "    def test_two(self):\n        self.assertEqual(double(2), 4)\n\n\n"
        "if __name__ == '__main__':\n    unittest.main()\n",
    }
    workspace = make_repo(tmp_path / "project", files)
    ctx = make_context(workspace, tmp_path / "state", test_command=f"{sys.executable} test.py")
    outcome = await builtin_registry().select(["run_tests"])[0].invoke(ctx, {"path": "test.py"})
    assert outcome.data is not None
    assert (outcome.data["passed"], outcome.data["failed"]) == (1, 1)
    assert "runs its whole suite; it takes no paths" in outcome.text


async def test_no_tests_is_not_a_passing_suite(tmp_path: Path) -> None:
    workspace = make_repo(tmp_path / "empty", {"lib.py": "X = 1\n"})
    ctx = make_context(workspace, tmp_path / "state")
    run = await _run(ctx, workspace)
    assert run.no_tests and run.exit_code == 5
    assert run.headline().startswith("tests: no tests ran")


async def test_files_the_tests_write_vanish_with_the_run(tool_ctx: ToolContext, workspace: Path) -> None:
    (workspace / "tests/test_writes.py").write_text(WRITES_BESIDE_ITSELF)
    run = await _run(tool_ctx, workspace, paths=["tests/test_writes.py"])
    assert run.counts == Counts(passed=1)
    assert not (workspace / "tests/left_behind.txt").exists()
    assert (workspace / "calc/ops.py").read_text().startswith("def add")
    assert git(workspace, "status", "--porcelain") == "?? tests/test_writes.py\n"


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
    tool_ctx: ToolContext, workspace: Path
) -> None:
    (workspace / "tests/test_hang.py").write_text(HANGING)
    async with Ticks() as ticks:
        run = await run_test_command(
            tool_ctx.sandbox, workspace, TEST_COMMAND, environment=tool_ctx.environment, timeout_s=4,
            paths=["tests/test_hang.py"],
        )  # fmt: skip
    assert run.timed_out and run.summary is None
    assert ticks.count > 40, f"the event loop was blocked: only {ticks.count} ticks in {run.duration_s:.1f} s"
    assert none_running("sleep 630"), "pytest and every process it started must be killed"


async def test_run_tests_reports_a_timeout_as_an_error(workspace: Path, tmp_path: Path) -> None:
    (workspace / "tests/test_hang.py").write_text(HANGING)
    ctx = make_context(workspace, tmp_path / "state", test_timeout_s=1)
    outcome = await builtin_registry().select(["run_tests"])[0].invoke(ctx, {"path": "tests/test_hang.py"})
    assert outcome.is_error
    assert outcome.text.startswith("the test run timed out after")
    assert outcome.data is not None and outcome.data["timed_out"] is True


async def _run(ctx: ToolContext, workspace: Path, paths: list[str] | None = None) -> TestRun:
    return await run_test_command(
        ctx.sandbox, workspace, ctx.test_command, environment=ctx.environment, timeout_s=60, paths=paths or []
    )


FIFO_REPORT = """\
import os


def pytest_unconfigure(config):
    report = "/outputs/report.xml"
    if os.path.exists(report):
        os.remove(report)
        os.mkfifo(report)  # a reader that waits for a writer would wait for good
"""


async def test_a_report_swapped_for_a_fifo_is_not_waited_for(tool_ctx: ToolContext, workspace: Path) -> None:
    (workspace / "conftest.py").write_text(FIFO_REPORT)

    run = await _run(tool_ctx, workspace)

    assert not run.timed_out and run.report is None
    assert run.counts is not None and run.counts.passed > 0, "counts from pytest's summary instead"


BOMB_REPORT = """\
import os


def pytest_unconfigure(config):
    report = "/outputs/report.xml"
    if os.path.exists(report):
        entities = ['<!ENTITY a0 "' + "x" * 1000 + '">']
        entities += [f'<!ENTITY a{i} "' + f"&a{i - 1};" * 10 + '">' for i in range(1, 10)]
        with open(report, "w") as out:
            out.write("<?xml version='1.0'?><!DOCTYPE testsuites [" + "".join(entities) + "]>")
            out.write("<testsuites><testsuite><testcase classname='t' name='x'>")
            out.write("<failure message='m'>&a9;</failure></testcase></testsuite></testsuites>")
"""


async def test_a_report_swapped_for_an_entity_bomb_is_refused(tool_ctx: ToolContext, workspace: Path) -> None:
    """The expansion is refused before it starts (``tests/test_runner_reports.py`` measures the memory)."""
    (workspace / "conftest.py").write_text(BOMB_REPORT)

    run = await _run(tool_ctx, workspace)

    assert not run.timed_out and run.report is None
    assert run.counts == Counts(passed=2), "counts from pytest's summary instead"
