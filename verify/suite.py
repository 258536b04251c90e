"""Did the existing suite survive the fix? The base_suite run against the fixed_suite run.

With per-test outcomes on both sides the check is per test (``verify.compare``): every test that passed
on the base commit must pass with the fix, ids on one side only are not comparable, and the base
commit's own failures are reported, never counted. Without them on one side (a runner that prints no
per-test lines, pytest that crashed before writing its report) only counts are compared, and the detail
says so: no more failures and errors than on the base commit, and at least as many passes. Counts can
hide one test breaking while another starts to pass.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from documents.facts import TestCounts
from documents.phrases import plural
from verify import words
from verify.compare import compare_suites
from verify.phases import PhaseRun, test_counts
from verify.words import seconds


@dataclass(frozen=True)
class SuiteCheck:
    ok: bool
    clause: str
    """What was compared and found, as a clause of the detail sentence."""
    counts: TestCounts
    """The fixed_suite counts to report: the existing tests only, as far as they can be told apart."""
    broken: list[str] = field(default_factory=list)
    already_failing: list[str] = field(default_factory=list)
    not_comparable: list[str] = field(default_factory=list)
    undecided: bool = False
    """Nothing could be compared: the base commit's suite did not finish (timed out, or was stopped)."""


def check_suite(before: PhaseRun, after: PhaseRun, owns: Callable[[str], bool]) -> SuiteCheck:
    """Compare the suite on base (``before``) with the suite with the fix (``after``); ``owns`` picks
    the test diff's tests, which are judged on their own and left out here."""
    if before.run.timed_out or before.run.stopped:
        how = f"timed out after {seconds(before)}" if before.run.timed_out else f"was {before.run.stopped}"
        clause = f"the existing suite {how} on the base commit, so regressions could not be checked"
        return SuiteCheck(False, clause, after.counts, undecided=True)
    if after.run.timed_out:
        clause = f"the suite timed out after {seconds(after)} with the fix, so regressions were not checked"
        return SuiteCheck(False, clause, after.counts)
    if before.run.no_tests:
        clause = "the existing suite has no tests (none ran on the base commit), so nothing could break"
        return SuiteCheck(True, clause, after.counts)
    if before.report is not None and after.report is not None:
        return _by_test(before, after, owns)
    side = "the base commit" if before.report is None else "the fix"
    if before.run.kind == "pytest":
        why = f"pytest wrote no report with {side}"
    elif after.whole:
        why = "the test command runs its whole suite and prints no per-test lines"
    else:
        why = f"the test command printed no per-test lines with {side}"
    return _by_counts(before, after, why)


def _by_test(before: PhaseRun, after: PhaseRun, owns: Callable[[str], bool]) -> SuiteCheck:
    assert before.report is not None and after.report is not None
    found = compare_suites(before.report, after.report, owns)
    counts = test_counts(found.existing.counts())
    also = words.already_failing(found.already_failing, found.now_passing) + words.not_comparable(
        found.not_comparable
    )
    if found.broken:
        clause = (
            f"the fix breaks {plural(len(found.broken), 'test')} that passed on the base commit: "
            f"{words.named(found.broken)}{also}"
        )
        return SuiteCheck(False, clause, counts, found.broken, found.already_failing, found.not_comparable)
    passed = len(found.still_passing)
    every = "the existing test" if passed == 1 else f"all {passed} existing tests"
    verb = "passes" if passed == 1 else "pass"
    if passed == len(before.report.cases) and not also:
        clause = f"{every} still {verb}"
    else:
        clause = f"{every} that passed on the base commit still {verb}{also}"
    return SuiteCheck(True, clause, counts, [], found.already_failing, found.not_comparable)


def _by_counts(before: PhaseRun, after: PhaseRun, why: str) -> SuiteCheck:
    was, now = before.counts, after.counts
    bad_was, bad_now = was.failed + was.errors, now.failed + now.errors
    ok = bad_now <= bad_was and now.passed >= was.passed
    clause = (
        f"with the fix the suite shows {now.summary()}, against {was.summary()} on the base commit "
        f"({'no more' if bad_now <= bad_was else 'more'} failures, "
        f"{'no fewer' if now.passed >= was.passed else 'fewer'} passes; counts only: {why})"
    )
    return SuiteCheck(ok, clause, after.counts)
