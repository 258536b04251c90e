"""verify(): real git worktrees, real pytest (and unittest) subprocesses, real verdicts."""

import asyncio
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from demo.playground import Playground
from documents.facts import TestCounts
from gitrepo.errors import GitError
from safety import sandbox as commands
from tests.git_fixtures import ISOLATED_ENV, git, make_repo_fixture, playground_fixture  # noqa: F401 (fixtures)
from tests.test_sample_repo import BUGGY, FIXED
from tests.tools_fixtures import none_running, processes_running
from tests.verify_fixtures import PYTEST, Project, registered
from verify import base_worktree_path, verify

REGRESSION_FILE = "tests/test_complete_twice.py"
REGRESSION_TESTS = """\
from todo import TodoService


def test_completing_twice_keeps_the_todo_completed():
    service = TodoService()
    todo = service.add("ship the release")
    service.complete(todo.id)
    assert service.complete(todo.id).completed is True


def test_completing_a_reopened_todo_completes_it_again():
    service = TodoService()
    todo = service.add("water the plants")
    service.complete(todo.id)
    service.reopen(todo.id)
    service.complete(todo.id)
    service.complete(todo.id)
    assert service.get(todo.id).completed is True
"""
PASSING_TESTS = """\
from todo import TodoService


def test_completing_once_completes():
    service = TodoService()
    todo = service.add("ship the release")
    assert service.complete(todo.id).completed is True
"""
HANGING_TESTS = """\
import subprocess


def test_hangs():
    subprocess.run(["sleep", "6401"])
"""

PRICING = {
    "pricing/__init__.py": "",
    "pricing/money.py": (
        'def format_cents(cents: int) -> str:\n    return f"{cents // 100}.{cents % 100:02d}"\n'
    ),
    "pricing/cart.py": (
        "def total_cents(lines: list[tuple[float, int]]) -> int:\n"
        '    """Sum of price * quantity over the lines, in cents."""\n'
        "    return int(sum(price * quantity for price, quantity in lines) * 100)\n"
    ),
    "tests/test_money.py": (
        "from pricing.money import format_cents\n\n\n"
        "def test_format_cents():\n    assert format_cents(1234) == '12.34'\n\n\n"
        "def test_format_small_amounts():\n    assert format_cents(5) == '0.05'\n"
    ),
    "tests/test_cart.py": (
        "from pricing.cart import total_cents\n\n\n"
        "def test_whole_prices():\n    assert total_cents([(2.0, 3), (1.0, 1)]) == 700\n\n\n"
        "def test_empty_cart():\n    assert total_cents([]) == 0\n"
    ),
}
"""A second buggy project: ``total_cents`` truncates (0.29 * 100 is 28.999...) instead of rounding."""
PRICING_FIX = {
    "pricing/money.py": PRICING["pricing/money.py"]
    + (
        "\n\ndef round_cents(amount: float) -> int:\n"
        '    """An amount in currency units as whole cents, rounded half away from zero."""\n'
        "    return int(abs(amount) * 100 + 0.5) * (1 if amount >= 0 else -1)\n"
    ),
    "pricing/cart.py": (
        "from pricing.money import round_cents\n\n\n"
        "def total_cents(lines: list[tuple[float, int]]) -> int:\n"
        '    """Sum of price * quantity over the lines, in cents."""\n'
        "    return round_cents(sum(price * quantity for price, quantity in lines))\n"
    ),
}
UNITTEST_PRICING = {
    **{name: text for name, text in PRICING.items() if not name.startswith("tests/")},
    "tests/__init__.py": "",
    "tests/test_money.py": (
        "import unittest\n\nfrom pricing.money import format_cents\n\n\n"
        "class FormatTest(unittest.TestCase):\n"
        "    def test_format_cents(self):\n        self.assertEqual(format_cents(1234), '12.34')\n"
    ),
}
"""The pricing project with a unittest suite (tests/ is a package, so ``python -m unittest`` finds it)."""
UNITTEST_TESTS = {
    "tests/test_rounding.py": (
        "import unittest\n\nfrom pricing.money import round_cents\n\n\n"
        "class RoundingTest(unittest.TestCase):\n"
        "    def test_rounds(self):\n        self.assertEqual(round_cents(0.29), 29)\n"
    ),
}
PRICING_TESTS = {
    "tests/test_rounding.py": (
        "from pricing.cart import total_cents\nfrom pricing.money import round_cents\n\n\n"
        "def test_round_cents_rounds_instead_of_truncating():\n    assert round_cents(0.29) == 29\n\n\n"
        "def test_cart_total_of_odd_cents():\n    assert total_cents([(0.29, 1), (0.57, 3)]) == 200\n"
    ),
}


@pytest.fixture(name="todo")
def todo_fixture(playground: Playground, tmp_path: Path) -> Project:
    return Project(playground, tmp_path)


@pytest.fixture(name="pricing")
def pricing_fixture(make_repo: Callable[[Mapping[str, str]], Playground], tmp_path: Path) -> Project:
    return Project(make_repo(PRICING), tmp_path)


def one_line_fix(todo: Project) -> dict[str, str]:
    return todo.edited("todo/service.py", BUGGY, FIXED)


async def test_the_real_one_line_fix_with_real_regression_tests_is_verified(todo: Project) -> None:
    facts = await todo.verify(fix=one_line_fix(todo), tests={REGRESSION_FILE: REGRESSION_TESTS})

    assert facts.verdict == "verified", facts.detail
    assert facts.base_suite == TestCounts(passed=11)
    assert facts.base_with_tests == TestCounts(failed=2)
    assert facts.fixed_with_tests == TestCounts(passed=2)
    assert facts.fixed_suite == TestCounts(passed=11)
    assert facts.detail == (
        "2 new tests failed on the base commit, and 2 new tests passed with the fix; "
        "all 11 existing tests still pass."
    )
    assert "test_completing_twice_keeps_the_todo_completed" in facts.excerpts["base_with_tests"]
    assert "2 failed" in facts.excerpts["base_with_tests"]
    assert list(facts.excerpts) == ["base_suite", "base_with_tests", "fixed_with_tests", "fixed_suite"]
    assert "generated xml file" not in facts.excerpts["fixed_suite"]
    todo.assert_clean()


async def test_tests_that_pass_on_base_do_not_reproduce_the_bug(todo: Project) -> None:
    facts = await todo.verify(fix=one_line_fix(todo), tests={REGRESSION_FILE: PASSING_TESTS})

    assert facts.verdict == "tests_do_not_reproduce"
    assert facts.base_with_tests == TestCounts(passed=1)
    assert facts.fixed_with_tests is None and facts.fixed_suite is None
    assert "do not fail on the base commit (1 passed, 0 failed)" in facts.detail
    todo.assert_clean()


async def test_a_wrong_fix_does_not_pass_and_shows_the_failure(todo: Project) -> None:
    wrong = todo.edited("todo/service.py", BUGGY, "        todo.completed = bool(todo.completed)\n")

    facts = await todo.verify(fix=wrong, tests={REGRESSION_FILE: REGRESSION_TESTS})

    assert facts.verdict == "fix_does_not_pass"
    assert facts.fixed_with_tests == TestCounts(failed=2)
    assert facts.detail == (
        "With the fix, 2 of 2 new tests still fail (0 passed, 2 failed); "
        "2 new tests failed on the base commit."
    )
    excerpt = facts.excerpts["fixed_with_tests"]
    assert "FAILED tests/test_complete_twice.py::test_completing_twice_keeps_the_todo_completed" in excerpt
    assert "assert False is True" in excerpt
    todo.assert_clean()


async def test_a_fix_that_breaks_an_existing_test_is_a_regression_naming_it(todo: Project) -> None:
    fix = todo.edited("todo/service.py", BUGGY, FIXED)
    fix["todo/service.py"] = fix["todo/service.py"].replace("title.strip()", "title.rstrip()")

    facts = await todo.verify(fix=fix, tests={REGRESSION_FILE: REGRESSION_TESTS})

    assert facts.verdict == "regression"
    assert facts.fixed_with_tests == TestCounts(passed=2)
    assert facts.base_suite == TestCounts(passed=11)
    assert facts.fixed_suite == TestCounts(passed=10, failed=1)
    assert facts.detail.startswith(
        "The fix breaks 1 test that passed on the base commit: "
        "tests/test_service.py::test_add_strips_the_title. "
    )
    assert "test_add_strips_the_title" in facts.excerpts["fixed_suite"]
    todo.assert_clean()


async def test_without_a_fix_the_new_tests_still_run_on_base(todo: Project) -> None:
    facts = await todo.verify(tests={REGRESSION_FILE: REGRESSION_TESTS})

    assert facts.verdict == "no_fix"
    assert facts.base_with_tests == TestCounts(failed=2)
    assert facts.base_suite is None and facts.fixed_with_tests is None
    assert facts.detail == "There is no fix to verify; 2 new tests failed on the base commit."
    todo.assert_clean()


async def test_without_tests_the_suite_still_runs_before_and_after_the_fix(todo: Project) -> None:
    facts = await todo.verify(fix=one_line_fix(todo))

    assert facts.verdict == "no_tests"
    assert facts.base_suite == facts.fixed_suite == TestCounts(passed=11)
    assert facts.base_with_tests is None
    assert facts.detail == "There is no test diff, so the fix is unchecked; all 11 existing tests still pass."
    todo.assert_clean()


async def test_a_two_file_fix_in_another_project_is_verified_despite_an_import_error_on_base(
    pricing: Project,
) -> None:
    facts = await pricing.verify(fix=PRICING_FIX, tests=PRICING_TESTS)

    assert facts.verdict == "verified", facts.detail
    assert facts.base_with_tests == TestCounts(errors=1)
    assert facts.fixed_with_tests == TestCounts(passed=2)
    assert facts.base_suite == facts.fixed_suite == TestCounts(passed=4)
    assert (
        "could not even be collected on the base commit (ImportError: cannot import name 'round_cents'"
        in (facts.detail)
    )
    assert facts.detail.endswith("2 new tests passed with the fix; all 4 existing tests still pass.")
    pricing.assert_clean()


async def test_unittest_is_read_test_by_test(
    make_repo: Callable[[Mapping[str, str]], Playground], tmp_path: Path
) -> None:
    project = Project(make_repo(UNITTEST_PRICING), tmp_path)

    facts = await project.verify(
        fix=PRICING_FIX, tests=UNITTEST_TESTS, command=f"{sys.executable} -m unittest"
    )

    assert facts.verdict == "verified", facts.detail
    assert facts.detail == (
        "The new tests could not even be collected on the base commit (ImportError: cannot import name "
        "'round_cents' from 'pricing.money' (/workspace/pricing/money.py)), which counts as failing, and 1 "
        "new test passed with the fix; the existing test still passes."
    )
    assert facts.base_with_tests == TestCounts(errors=1)
    assert facts.fixed_with_tests == TestCounts(passed=1)
    assert facts.base_suite == facts.fixed_suite == TestCounts(passed=1)
    assert facts.new_tests.names == ["tests.test_rounding.RoundingTest.test_rounds"]
    assert "ImportError" in facts.excerpts["base_with_tests"]
    assert "Ran 2 tests" in facts.excerpts["fixed_suite"]
    project.assert_clean()


SCRIPT_SUITE = {
    "lib.py": "def double(x):\n    return x + x if x >= 0 else x\n",
    "test.py": (
        "import unittest\n\nfrom lib import double\n\n\nclass DoubleTest(unittest.TestCase):\n"
        "    def test_positive(self):\n        self.assertEqual(double(2), 4)\n"
        "\n\nif __name__ == '__main__':\n    unittest.main()\n"
    ),
}
"""A project whose unittest tests live in one root-level ``test.py``, run as ``python test.py``."""


async def test_a_whole_suite_script_is_verified_and_a_wrong_fix_is_not(
    make_repo: Callable[[Mapping[str, str]], Playground], tmp_path: Path
) -> None:
    project = Project(make_repo(SCRIPT_SUITE), tmp_path)
    tests = project.edited(
        "test.py",
        "\n\nif __name__",
        "\n    def test_negative(self):\n        self.assertEqual(double(-3), -6)\n\n\nif __name__",
    )
    command = f"{sys.executable} test.py"

    right = await project.verify(
        fix={"lib.py": "def double(x):\n    return x + x\n"}, tests=tests, command=command
    )
    wrong = await project.verify(
        fix={"lib.py": "def double(x):\n    return -6\n"}, tests=tests, command=command
    )

    assert right.verdict == "verified", right.detail
    assert right.base_suite == TestCounts(passed=1)
    assert right.base_with_tests == TestCounts(passed=1, failed=1)
    assert right.fixed_with_tests == right.fixed_suite == TestCounts(passed=2)
    assert "the test command runs its whole suite" in right.detail
    assert wrong.verdict == "fix_does_not_pass", wrong.detail
    project.assert_clean()


async def test_tests_added_to_an_existing_file_are_new_and_the_old_ones_stay_existing(todo: Project) -> None:
    existing = "tests/test_service.py"
    appended = (todo.path / existing).read_text() + "\n\n" + REGRESSION_TESTS.split("\n", 2)[2]

    facts = await todo.verify(fix=one_line_fix(todo), tests={existing: appended})

    assert facts.verdict == "verified", facts.detail
    assert facts.base_with_tests == TestCounts(failed=2)
    assert facts.fixed_with_tests == TestCounts(passed=2)
    assert facts.base_suite == facts.fixed_suite == TestCounts(passed=11)
    assert facts.new_tests.names == [
        "tests/test_service.py::test_completing_a_reopened_todo_completes_it_again",
        "tests/test_service.py::test_completing_twice_keeps_the_todo_completed",
    ]
    assert facts.detail == (
        "2 new tests failed on the base commit, and 2 new tests passed with the fix; "
        "all 11 existing tests still pass."
    )
    todo.assert_clean()


async def test_a_test_file_without_tests_is_no_tests(todo: Project) -> None:
    facts = await todo.verify(
        fix=one_line_fix(todo), tests={"tests/test_helpers.py": "def helper():\n    pass\n"}
    )

    assert facts.verdict == "no_tests"
    assert facts.detail == "No test was collected from tests/test_helpers.py on the base commit."
    assert facts.base_with_tests == TestCounts()
    todo.assert_clean()


async def test_a_hanging_new_test_times_out_and_is_not_verified(pricing: Project) -> None:
    started = time.monotonic()

    facts = await pricing.verify(fix=PRICING_FIX, tests={"tests/test_hang.py": HANGING_TESTS}, timeout_s=3.0)

    assert time.monotonic() - started < 20
    assert facts.verdict == "tests_do_not_reproduce"
    assert facts.base_with_tests is not None and facts.base_with_tests.timed_out
    assert "timed out after 3." in facts.detail
    assert "timed out after" in facts.excerpts["base_with_tests"]
    pricing.assert_clean()


async def test_a_test_command_that_cannot_start_is_not_run_and_leaves_no_worktree(pricing: Project) -> None:
    facts = await pricing.verify(
        fix=PRICING_FIX, tests=PRICING_TESTS, command=str(pricing.tmp / "no-such-runner")
    )

    assert facts.verdict == "not_run"
    assert "could not start" in facts.detail
    pricing.assert_clean()


async def test_a_worktree_that_cannot_be_made_raises_and_the_other_is_removed(pricing: Project) -> None:
    occupied = base_worktree_path(pricing.workdir)
    occupied.mkdir()
    (occupied / "keep.txt").write_text("someone else's\n")

    with pytest.raises(GitError, match="not empty"):
        await pricing.verify(fix=PRICING_FIX, tests=PRICING_TESTS)

    assert registered(pricing.path) == [str(pricing.path)]
    assert not pricing.workdir.exists()
    assert (occupied / "keep.txt").read_text() == "someone else's\n"


async def test_cancelling_a_verification_kills_the_tests_and_removes_the_worktrees(pricing: Project) -> None:
    task = asyncio.create_task(pricing.verify(fix=PRICING_FIX, tests={"tests/test_hang.py": HANGING_TESTS}))
    deadline = time.monotonic() + 20
    while not processes_running("sleep 6401"):
        assert time.monotonic() < deadline, "the hanging test never started"
        await asyncio.sleep(0.05)

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    pricing.assert_clean()
    assert none_running("sleep 6401"), "the test processes are killed, not left sleeping"


async def test_a_suite_that_cannot_be_collected_on_base_is_the_environments_fault(
    make_repo: Callable[[Mapping[str, str]], Playground], tmp_path: Path
) -> None:
    """A conftest importing what the environment lacks breaks every run, with the right fix or a wrong
    one: the verdict says so instead of blaming the fix."""
    broken = {**PRICING, "tests/conftest.py": "import not_installed_anywhere\n"}
    project = Project(make_repo(broken), tmp_path)

    facts = await project.verify(fix=PRICING_FIX, tests=PRICING_TESTS)

    assert facts.verdict == "environment_error", facts.detail
    assert "ModuleNotFoundError: No module named 'not_installed_anywhere'" in facts.detail
    assert "not the fix" in facts.detail and "nightshift doctor" in facts.detail
    project.assert_clean()


async def test_test_files_outside_the_repository_are_refused(pricing: Project) -> None:
    facts = await verify(
        pricing.repo, base=pricing.base, fix_diff=await pricing.diff(PRICING_FIX),
        test_diff=await pricing.diff(PRICING_TESTS), test_files=["-p", "../elsewhere.py"],
        workdir=pricing.workdir, test_command=PYTEST, timeout_s=60, sandbox=pricing.sandbox,
        environment=commands.Environment(),
    )  # fmt: skip

    assert facts.verdict == "no_tests"
    assert "-p, ../elsewhere.py are not paths inside the repository" in facts.detail
    pricing.assert_clean()
