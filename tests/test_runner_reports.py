"""Reading what runners report: unittest's verbose lines (real unittest output), and a JUnit report
written by hostile repository code."""

import subprocess
import sys
import tracemalloc
from pathlib import Path

from tools.runner_reports import read_report
from tools.unittest_output import read_verbose

SUITE = """\
import unittest


class A(unittest.TestCase):
    def test_ok(self):
        print("this test talks", end="")

    def test_documented(self):
        \"\"\"A docstring's first line is printed between the name and the result.\"\"\"

    def test_fail(self):
        self.assertEqual(1, 2)

    def test_error(self):
        raise KeyError("x")

    @unittest.skip("later")
    def test_skipped(self):
        pass

    @unittest.expectedFailure
    def test_expected_failure(self):
        self.assertEqual(1, 2)

    @unittest.expectedFailure
    def test_unexpected_success(self):
        pass

    def test_subtests(self):
        for i in range(3):
            with self.subTest(i=i):
                self.assertLess(i, 1)


class B(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        raise RuntimeError("class set-up")

    def test_never_runs(self):
        pass
"""


def verbose_output(tmp_path: Path) -> str:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests/__init__.py").write_text("")
    (tmp_path / "tests/test_a.py").write_text(SUITE)
    (tmp_path / "tests/test_broken.py").write_text("from nowhere import thing\n")
    done = subprocess.run(
        [sys.executable, "-m", "unittest", "-v"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    return done.stdout + done.stderr


def test_unittest_verbose_lines_give_each_tests_outcome(tmp_path: Path) -> None:
    report = read_verbose(verbose_output(tmp_path))

    assert report is not None
    outcomes = {node: case.outcome for node, case in report.cases.items()}
    assert outcomes == {
        "tests.test_a.A.test_ok": "passed",
        "tests.test_a.A.test_documented": "passed",
        "tests.test_a.A.test_fail": "failed",
        "tests.test_a.A.test_error": "error",
        "tests.test_a.A.test_skipped": "skipped",
        "tests.test_a.A.test_expected_failure": "skipped",
        "tests.test_a.A.test_unexpected_success": "failed",
        "tests.test_a.A.test_subtests": "failed",
        "tests.test_a.B.setUpClass": "error",
        "tests.test_broken": "error",
    }
    broken = report.cases["tests.test_broken"]
    assert broken.collection_error == "ModuleNotFoundError: No module named 'nowhere'"


def test_the_older_spelling_and_a_run_that_did_not_finish() -> None:
    before_311 = (
        "test_one (tests.test_a.A) ... ok\ntest_two (tests.test_a.A) ... FAIL\n\n" + "=" * 70 + "\n"
        "FAIL: test_two (tests.test_a.A)\n" + "-" * 70 + "\nAssertionError: 1 != 2\n\n" + "-" * 70 + "\n"
        "Ran 2 tests in 0.001s\n\nFAILED (failures=1)\n"
    )
    report = read_verbose(before_311)
    assert report is not None
    assert {node: case.outcome for node, case in report.cases.items()} == {
        "tests.test_a.A.test_one": "passed",
        "tests.test_a.A.test_two": "failed",
    }
    unfinished = "test_one (tests.test_a.A.test_one) ... ok\ntest_two (tests.test_a.A.test_two) ... "
    assert read_verbose(unfinished) is None
    cut = "test_nine (tests.test_a.A.test_nine) ... ok\n" + "-" * 70 + "\nRan 9 tests in 0.010s\n\nOK\n"
    assert read_verbose(cut) is None, "fewer lines than tests run: the start of the output was cut"


def billion_laughs(path: Path) -> Path:
    """A JUnit-shaped report whose one failure message expands to 10**12 bytes."""
    entities = ['<!ENTITY a0 "' + "x" * 1000 + '">'] + [
        f'<!ENTITY a{i} "' + f"&a{i - 1};" * 10 + '">' for i in range(1, 10)
    ]
    path.write_text(
        "<?xml version='1.0'?>\n<!DOCTYPE testsuites [\n" + "\n".join(entities) + "\n]>\n"
        "<testsuites><testsuite><testcase classname='t' name='x'><failure message='m'>&a9;</failure>"
        "</testcase></testsuite></testsuites>\n"
    )
    return path


def test_an_entity_bomb_is_refused_before_it_grows(tmp_path: Path) -> None:
    bomb = billion_laughs(tmp_path / "report.xml")

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        report = read_report(bomb)
        grew = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()

    assert report is None
    assert grew < 1_000_000, f"reading the bomb allocated {grew} bytes"
