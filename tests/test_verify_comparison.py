"""Tests compared by what they are: a test that already fails on the base commit is the base commit's,
wherever it lives; renamed parametrized ids are not comparable; a run that reports no counts is evidence
of nothing; the base commit's suite runs once per commit, environment and command, for every worker."""

import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from demo.playground import Playground
from documents.facts import TestCounts
from store.base_suites import BaseSuites
from store.runs import Store
from tests.git_fixtures import make_repo_fixture  # noqa: F401 (fixtures)
from tests.postgres_fixtures import PG_TEST_TIMEOUT_S
from tests.verify_fixtures import PYTEST, Project
from verify.cache import BaseSuiteCache, cached_base_suite, suite_key

pytest_plugins = ["tests.postgres_fixtures"]

SPLIT = '''\
def split(total_cents: int, people: int) -> list[int]:
    """Shares of ``total_cents`` that add up to it, the first ones a cent larger when it does not divide."""
    share = total_cents // people
    return [share] * people
'''
SPLIT_BUGGY = "    return [share] * people\n"
SPLIT_RIGHT = (
    "    rest = total_cents - share * people\n"
    "    return [share + (1 if i < rest else 0) for i in range(people)]\n"
)
BUDGET_TESTS = """\
import socket

from budget.split import split


def test_even_split():
    assert split(900, 3) == [300, 300, 300]


def test_exchange_rates_are_reachable():
    socket.getaddrinfo("api.exchangerate.example", 443)
"""
"""As in ihatemoney: tests inside the package as ``*_test.py``, one of which needs DNS and so fails
offline, on every commit."""
NEW_BUDGET_TEST = "\n\ndef test_uneven_split_adds_up():\n    assert sum(split(1000, 3)) == 1000\n"
BUDGET = {"budget/__init__.py": "", "budget/split.py": SPLIT, "budget/tests/budget_test.py": BUDGET_TESTS}


@pytest.fixture(name="budget")
def budget_fixture(make_repo: Callable[[Mapping[str, str]], Playground], tmp_path: Path) -> Project:
    return Project(make_repo(BUDGET), tmp_path)


@pytest.mark.parametrize("parallel", [True, False], ids=["phases-at-once", "one-after-another"])
async def test_a_new_test_beside_one_that_already_fails_verifies_the_right_fix(
    budget: Project, parallel: bool
) -> None:
    tests = {"budget/tests/budget_test.py": BUDGET_TESTS + NEW_BUDGET_TEST}

    facts = await budget.verify(
        fix=budget.edited("budget/split.py", SPLIT_BUGGY, SPLIT_RIGHT), tests=tests, parallel=parallel
    )

    offline = "budget/tests/budget_test.py::test_exchange_rates_are_reachable"
    assert facts.verdict == "verified", facts.detail
    assert facts.base_with_tests == TestCounts(failed=1)
    assert facts.fixed_with_tests == TestCounts(passed=1)
    assert facts.new_tests.names == ["budget/tests/budget_test.py::test_uneven_split_adds_up"]
    assert facts.already_failing.names == [offline]
    assert facts.detail == (
        "1 new test failed on the base commit, and 1 new test passed with the fix; the existing test that "
        "passed on the base commit still passes; 1 test already fails on the base commit and is not "
        f"counted against the fix ({offline})."
    )
    budget.assert_clean()


LISTS = '''\
def natural_list(items: list) -> str:
    """``1, 2 and 3``."""
    if len(items) == 1:
        return str(items[0])
    if len(items) == 2:
        return f"{items[0]} and {items[1]}"
    return ", ".join(str(item) for item in items[:-1]) + f" and {items[-1]}"
'''
LIST_CASES = [
    '([["1", "2", "3"]], "1, 2 and 3"),',
    '([["one", "two", "three"]], "one, two and three"),',
    '([["one", "two"]], "one and two"),',
    '([["one"]], "one"),',
    '([[""]], ""),',
    '([[1, 2, 3]], "1, 2 and 3"),',
    '([[1, "two"]], "1 and two"),',
]


def list_tests(cases: list[str]) -> str:
    rows = "".join(f"        {case}\n" for case in cases)
    return (
        "import pytest\n\nfrom lists import natural_list\n\n\n"
        f'@pytest.mark.parametrize(\n    "test_args, expected",\n    [\n{rows}    ],\n)\n'
        "def test_natural_list(test_args, expected):\n    assert natural_list(*test_args) == expected\n"
    )


async def test_a_case_inserted_into_a_positional_parametrize_list_is_verified_and_renamed_ids_not_compared(
    make_repo: Callable[[Mapping[str, str]], Playground], tmp_path: Path
) -> None:
    """python-humanize #318: ``([[]], "")`` inserted at the fifth place renumbers the cases after it."""
    project = Project(
        make_repo({"lists/__init__.py": LISTS, "tests/test_lists.py": list_tests(LIST_CASES)}), tmp_path
    )
    inserted = [*LIST_CASES[:4], '([[]], ""),', *LIST_CASES[4:]]
    fix = project.edited(
        "lists/__init__.py",
        '    """``1, 2 and 3``."""\n',
        '    """``1, 2 and 3``."""\n    if not items:\n        return ""\n',
    )

    facts = await project.verify(fix=fix, tests={"tests/test_lists.py": list_tests(inserted)})

    assert facts.verdict == "verified", facts.detail
    test = "tests/test_lists.py::test_natural_list"
    assert facts.not_comparable.names == [
        f"{test}[test_args5-1, 2 and 3]",
        f"{test}[test_args6-1 and two]",
        f"{test}[test_args6-1, 2 and 3]",
        f"{test}[test_args7-1 and two]",
    ]
    assert facts.broken.count == 0
    assert (
        "4 test ids exist on one side only and are not comparable, neither broken nor fixed" in facts.detail
    )
    assert facts.base_suite == TestCounts(passed=7)
    project.assert_clean()


async def test_a_usage_error_on_the_base_commit_is_the_environments_with_the_runners_words(
    make_repo: Callable[[Mapping[str, str]], Playground], tmp_path: Path
) -> None:
    project = Project(make_repo(BUDGET), tmp_path)
    tests = {"budget/tests/budget_test.py": BUDGET_TESTS + NEW_BUDGET_TEST}
    command = f"{sys.executable} -m unittest discover -s budget --no-such-option"

    facts = await project.verify(
        fix=project.edited("budget/split.py", SPLIT_BUGGY, SPLIT_RIGHT), tests=tests, command=command
    )

    assert facts.verdict == "environment_error", facts.detail
    assert "reported no test counts (exit code 2)" in facts.detail
    assert "error: unrecognized arguments: --no-such-option" in facts.detail
    project.assert_clean()


async def test_new_tests_that_report_no_counts_are_not_run_never_a_failing_fix(budget: Project) -> None:
    """A test module that ends the runner as it is imported: no counts, so no evidence either way."""
    tests = {"budget/tests/quit_test.py": "import os\n\nos._exit(4)\n"}

    facts = await budget.verify(fix=budget.edited("budget/split.py", SPLIT_BUGGY, SPLIT_RIGHT), tests=tests)

    assert facts.verdict == "not_run", facts.detail
    assert facts.detail.startswith(
        "The new tests could not be run: the test command reported no test counts (exit code 4)"
    )
    budget.assert_clean()


@pytest.fixture(name="workers")
def workers_fixture(postgres_url: str) -> list[BaseSuites]:
    """Two workers' views of one PostgreSQL database."""
    return [BaseSuites(Store(postgres_url).engine) for _ in range(2)]


@pytest.mark.timeout(PG_TEST_TIMEOUT_S)
async def test_the_base_suite_runs_once_per_commit_for_every_worker(
    budget: Project, workers: list[BaseSuites]
) -> None:
    prepared = await budget.prepared()
    key = suite_key(budget.path.name, budget.base, prepared, PYTEST)  # as the pipeline keys it
    fix = budget.edited("budget/split.py", SPLIT_BUGGY, SPLIT_RIGHT)
    tests = {"budget/tests/budget_test.py": BUDGET_TESTS + NEW_BUDGET_TEST}
    first_worker, second_worker = (BaseSuiteCache(worker, key) for worker in workers)

    first = await budget.verify(fix=fix, tests=tests, cache=first_worker, environment=prepared.environment)
    second = await budget.verify(fix=fix, tests=tests, cache=second_worker, environment=prepared.environment)

    assert first.verdict == second.verdict == "verified", second.detail
    assert not first.phase_times["base_suite"].cached
    assert second.phase_times["base_suite"].cached, "the second run took the base suite from the database"
    assert second.base_suite == first.base_suite == TestCounts(passed=1, failed=1)
    assert second.already_failing == first.already_failing
    kept = await cached_base_suite(workers[1], key)
    assert kept is not None and kept.report is not None
    assert kept.report.failing() == {"budget/tests/budget_test.py::test_exchange_rates_are_reachable"}
    other_command = suite_key(budget.path.name, budget.base, prepared, "pytest -x")
    assert await cached_base_suite(workers[0], other_command) is None
    budget.assert_clean()


async def test_a_base_suite_that_does_not_finish_is_not_run_never_a_regression(
    make_repo: Callable[[Mapping[str, str]], Playground], tmp_path: Path
) -> None:
    hanging = {
        **BUDGET,
        "budget/tests/slow_test.py": "import time\n\n\ndef test_waits():\n    time.sleep(6401)\n",
    }
    project = Project(make_repo(hanging), tmp_path)

    facts = await project.verify(
        fix=project.edited("budget/split.py", SPLIT_BUGGY, SPLIT_RIGHT),
        tests={"budget/tests/uneven_test.py": "from budget.split import split\n" + NEW_BUDGET_TEST},
        timeout_s=4,
    )

    assert facts.verdict == "not_run", facts.detail
    assert "the existing suite timed out after 4." in facts.detail
    assert "on the base commit, so regressions could not be checked" in facts.detail
    project.assert_clean()
