"""Every common runner read test by test: ``python -m unittest discover``, plain ``python -m unittest``
and Django's ``manage.py test`` (Django from a local wheel, installed by the project's own set-up).
A right fix is verified as "1 new test"; a wrong fix that breaks an existing test is a regression that
names it; a discover command is given several new test files the way discover takes them."""

import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from config import EnvironmentSettings, SafetySettings, Settings
from demo.playground import Playground
from documents.facts import TestCounts
from environment.prepare import Environments
from safety.sandbox import Environment, Sandbox
from tests.git_fixtures import make_repo_fixture  # noqa: F401 (fixtures)
from tests.verify_fixtures import Project
from tests.wheels import repack

PRICES = '''\
def discount(price_cents: int, percent: int) -> int:
    """The price after ``percent`` off, in whole cents, half a cent rounded up."""
    return price_cents * (100 - percent) // 100


def total(prices: list[int]) -> int:
    return sum(prices)
'''
BUGGY = "    return price_cents * (100 - percent) // 100\n"
RIGHT = "    return (price_cents * (100 - percent) + 50) // 100\n"
WRONG = "    return -(-price_cents * (100 - percent) // 100)\n"
"""Rounds every fraction up: the new test passes, ``test_thirty_percent_off`` breaks."""

EXISTING_TESTS = """\
import unittest

from shop.prices import discount, total


class PriceTest(unittest.TestCase):
    def test_no_discount(self):
        self.assertEqual(discount(1000, 0), 1000)

    def test_thirty_percent_off(self):
        self.assertEqual(discount(1003, 30), 702)

    def test_total(self):
        self.assertEqual(total([100, 250]), 350)
"""
LABEL_TESTS = """\
import unittest

from shop.prices import total


class LabelTest(unittest.TestCase):
    def test_empty_total(self):
        self.assertEqual(total([]), 0)
"""


def new_test_file(name: str, price: int, percent: int, expected: int) -> str:
    return (
        "import unittest\n\nfrom shop.prices import discount\n\n\n"
        f"class {name}(unittest.TestCase):\n"
        f"    def test_rounds_half_a_cent_up(self):\n"
        f"        self.assertEqual(discount({price}, {percent}), {expected})\n"
    )


HALF_CENT = new_test_file("HalfCentTest", 999, 50, 500)
"""Fails on the base commit (499)."""
SHOP = {
    "shop/__init__.py": "",
    "shop/prices.py": PRICES,
    "tests/__init__.py": "",
    "tests/test_prices.py": EXISTING_TESTS,
    "tests/test_labels.py": LABEL_TESTS,
}
"""A unittest project laid out as Python-Markdown is: a ``tests`` package beside the code."""


def fix(project: Project, line: str) -> dict[str, str]:
    return project.edited("shop/prices.py", BUGGY, line)


@pytest.fixture(name="shop")
def shop_fixture(make_repo: Callable[[Mapping[str, str]], Playground], tmp_path: Path) -> Project:
    return Project(make_repo(SHOP), tmp_path)


DISCOVER = f"{sys.executable} -m unittest discover tests"
PLAIN = f"{sys.executable} -m unittest"


@pytest.mark.parametrize("command", [DISCOVER, PLAIN], ids=["discover", "plain"])
async def test_a_unittest_project_verifies_the_right_fix_with_one_new_test(
    shop: Project, command: str
) -> None:
    facts = await shop.verify(
        fix=fix(shop, RIGHT), tests={"tests/test_half_cent.py": HALF_CENT}, command=command
    )

    assert facts.verdict == "verified", facts.detail
    assert facts.detail == (
        "1 new test failed on the base commit, and 1 new test passed with the fix; "
        "all 4 existing tests still pass."
    )
    assert facts.base_with_tests == TestCounts(failed=1)
    assert facts.fixed_with_tests == TestCounts(passed=1)
    assert facts.base_suite == facts.fixed_suite == TestCounts(passed=4)
    module = "test_half_cent" if command == DISCOVER else "tests.test_half_cent"
    assert facts.new_tests.names == [f"{module}.HalfCentTest.test_rounds_half_a_cent_up"]
    shop.assert_clean()


@pytest.mark.parametrize("command", [DISCOVER, PLAIN], ids=["discover", "plain"])
async def test_a_wrong_fix_that_breaks_an_existing_unittest_test_is_a_regression_naming_it(
    shop: Project, command: str
) -> None:
    facts = await shop.verify(
        fix=fix(shop, WRONG), tests={"tests/test_half_cent.py": HALF_CENT}, command=command
    )

    module = "test_prices" if command == DISCOVER else "tests.test_prices"
    assert facts.verdict == "regression", facts.detail
    assert facts.detail.startswith(
        f"The fix breaks 1 test that passed on the base commit: {module}.PriceTest.test_thirty_percent_off. "
        "1 new test failed on the base commit, and 1 new test passed with the fix."
    )
    assert facts.broken.names == [f"{module}.PriceTest.test_thirty_percent_off"]
    assert facts.fixed_suite == TestCounts(passed=3, failed=1)
    shop.assert_clean()


async def test_discover_is_given_several_new_test_files_as_it_takes_them(shop: Project) -> None:
    """discover takes at most three positional arguments: four new files given as paths were a usage
    error, and that usage error was once read as the new tests failing."""
    tests = {
        "tests/test_round_half.py": HALF_CENT,
        "tests/test_round_quarter.py": new_test_file("QuarterTest", 1002, 25, 752),
        "tests/test_round_exact.py": new_test_file("ExactTest", 1000, 25, 750),
        "tests/test_round_tenth.py": new_test_file("TenthTest", 1005, 10, 905),
    }

    facts = await shop.verify(fix=fix(shop, RIGHT), tests=tests, command=DISCOVER)

    assert facts.verdict == "verified", facts.detail
    assert facts.base_with_tests == TestCounts(passed=1, failed=3)
    assert facts.fixed_with_tests == TestCounts(passed=4)
    assert facts.new_tests.count == 4
    assert facts.detail.startswith("3 of 4 new tests failed on the base commit (1 passed, 3 failed)")
    assert "Ran 4 tests" in facts.excerpts["fixed_with_tests"]
    shop.assert_clean()


MANAGE = """\
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
"""
SETTINGS = """\
SECRET_KEY = "tests-only"
INSTALLED_APPS = ["shop"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
USE_TZ = True
"""
DJANGO_TESTS = EXISTING_TESTS.replace(
    "import unittest\n", "from django.test import SimpleTestCase, TestCase\n"
)
DJANGO_TESTS = DJANGO_TESTS.replace("unittest.TestCase", "TestCase")
DJANGO_SHOP = {
    "manage.py": MANAGE,
    "site_config/__init__.py": "",
    "site_config/settings.py": SETTINGS,
    "requirements.txt": "django\n",
    "shop/__init__.py": "",
    "shop/prices.py": PRICES,
    "shop/tests/__init__.py": "",
    "shop/tests/test_prices.py": DJANGO_TESTS,
}
"""A Django service: its tests run with ``manage.py test``, the database set up by Django's runner."""
DJANGO_NEW = {"shop/tests/test_rounding.py": HALF_CENT.replace("unittest.TestCase", "SimpleTestCase").replace(
    "import unittest\n", "from django.test import SimpleTestCase\n"
)}  # fmt: skip
DJANGO_SETUP = (
    "python3 -m venv .venv && .venv/bin/pip install -q --no-index --find-links {wheels} -r requirements.txt"
)
DJANGO_COMMAND = ".venv/bin/python manage.py test"


@pytest.fixture(scope="module")
def django_wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("django-wheels")
    repack(folder, ["django"])
    return folder


async def django_project(
    make_repo: Callable[[Mapping[str, str]], Playground], tmp_path: Path, wheels: Path
) -> tuple[Project, Environment]:
    project = Project(make_repo(DJANGO_SHOP), tmp_path)
    settings = Settings(
        repo=project.path,
        data_dir=tmp_path / "state",
        environment=EnvironmentSettings(
            setup=DJANGO_SETUP.format(wheels=wheels), setup_network=False, read_only_paths=[wheels],
            test_command=DJANGO_COMMAND,
        ),
    )  # fmt: skip
    sandbox = Sandbox.create(SafetySettings(), state_dir=tmp_path / "state", hidden=[project.path])
    prepared = await Environments(project.repo, settings, sandbox, tmp_path / "state").prepare(project.base)
    assert prepared.ok, prepared.log
    return project, prepared.environment


async def test_a_django_project_verifies_the_right_fix_and_names_what_a_wrong_one_breaks(
    make_repo: Callable[[Mapping[str, str]], Playground], tmp_path: Path, django_wheels: Path
) -> None:
    project, environment = await django_project(make_repo, tmp_path, django_wheels)

    right = await project.verify(
        fix=fix(project, RIGHT), tests=DJANGO_NEW, command=DJANGO_COMMAND, environment=environment
    )
    wrong = await project.verify(
        fix=fix(project, WRONG), tests=DJANGO_NEW, command=DJANGO_COMMAND, environment=environment
    )

    assert right.verdict == "verified", right.detail
    assert right.detail == (
        "1 new test failed on the base commit, and 1 new test passed with the fix; "
        "all 3 existing tests still pass."
    )
    assert right.new_tests.names == ["shop.tests.test_rounding.HalfCentTest.test_rounds_half_a_cent_up"]
    assert "Ran 1 test" in right.excerpts["base_with_tests"]
    assert wrong.verdict == "regression", wrong.detail
    assert wrong.broken.names == ["shop.tests.test_prices.PriceTest.test_thirty_percent_off"]
    assert wrong.detail.startswith(
        "The fix breaks 1 test that passed on the base commit: shop.tests.test_prices.PriceTest."
        "test_thirty_percent_off."
    )
    project.assert_clean()
