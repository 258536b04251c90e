"""Did the existing suite survive the fix? The base_suite run against the fixed_suite run.

With a JUnit report of both runs the check is per test: every node id that passed on the base commit
must pass with the fix (a test that disappeared counts as broken), and the fixed suite's counts are
those of the tests the base run knew. Without (another runner, or pytest crashed before writing its
report) only counts are compared: the fixed run's totals minus the new tests' own counts must show at
least as many passes as the base run; with no counts at all, the exit codes are compared. Counts can
hide one test breaking while another starts to pass; the detail says when only counts were compared.
"""

from dataclasses import dataclass

from documents.facts import TestCounts
from documents.phrases import plural
from verify.phases import PhaseRun, test_counts
from verify.words import seconds

MAX_NAMED = 10
"""Broken tests named in the detail; the rest are counted."""


@dataclass(frozen=True)
class SuiteCheck:
    ok: bool
    clause: str
    """What was compared and found, as a clause of the detail sentence."""
    counts: TestCounts
    """The fixed_suite counts to report: the existing tests only, as far as they can be told apart."""


def check_suite(before: PhaseRun, after: PhaseRun, new: PhaseRun | None) -> SuiteCheck:
    """Compare the suite on base (``before``) with the suite with the fix (``after``); ``new`` is the
    run of the new tests with the fix, whose counts are taken out of ``after`` when only counts exist."""
    if before.run.timed_out:
        clause = (
            f"the existing suite timed out after {seconds(before)} on the base commit, "
            "so regressions were not checked"
        )
        return SuiteCheck(False, clause, after.counts)
    if after.run.timed_out:
        clause = f"the suite timed out after {seconds(after)} with the fix, so regressions were not checked"
        return SuiteCheck(False, clause, after.counts)
    if before.run.no_tests:
        clause = "the existing suite has no tests (none ran on the base commit), so nothing could break"
        return SuiteCheck(True, clause, after.counts)
    if after.whole:
        return _whole(before, after)
    if before.report is not None:
        return _by_test(before, after, new)
    why = (
        "pytest wrote no report on the base commit"
        if before.run.kind == "pytest"
        else "the test command is not pytest"
    )
    return _by_counts(before, after, new, why)


def _whole(before: PhaseRun, after: PhaseRun) -> SuiteCheck:
    """A runner that only ever runs its whole suite: with the fix (and the new tests) all of it must pass,
    with at least as many passing tests as on the base commit."""
    if not (before.counts_known and after.counts_known):
        was, now = before.run.exit_code, after.run.exit_code
        ok = now == 0
        clause = (
            f"the whole suite exited with code {was} on the base commit and {now} with the fix "
            "(no counts reported)"
        )
        return SuiteCheck(ok, clause, after.counts)
    was, now = before.counts.passed, after.counts.passed
    ok = after.passing and now >= was
    verb = "passes" if after.passing else "fails"
    clause = (
        f"the whole suite ({after.counts.summary()}, new tests included) {verb} with the fix; "
        f"{plural(was, 'test')} passed on the base commit (the test command runs its whole suite, so the "
        "new and the existing tests are counted together)"
    )
    return SuiteCheck(ok, clause, after.counts)


def _by_test(before: PhaseRun, after: PhaseRun, new: PhaseRun | None) -> SuiteCheck:
    assert before.report is not None
    known = before.report.cases
    passed_before = before.report.passed()
    if after.report is None:
        counts = _minus(after.counts, new.counts) if new else after.counts
        passed_after: set[str] = set()
    else:
        counts = test_counts(after.report.select(lambda node: node in known).counts())
        passed_after = after.report.passed()
    broken = sorted(passed_before - passed_after)
    if broken:
        named = ", ".join(broken[:MAX_NAMED]) + (
            f" and {len(broken) - MAX_NAMED} more" if len(broken) > MAX_NAMED else ""
        )
        unreported = "" if after.report else " (pytest wrote no report with the fix; see its output)"
        broke = plural(len(broken), "test")
        clause = f"the fix breaks {broke} that passed on the base commit{unreported}: {named}"
        return SuiteCheck(False, clause, counts)
    if len(passed_before) == len(known):
        clause = f"all {plural(len(passed_before), 'existing test')} still pass"
    else:
        clause = (
            f"all {plural(len(passed_before), 'existing test')} that passed on the base commit still pass "
            f"({len(known) - len(passed_before)} did not pass there either)"
        )
    return SuiteCheck(True, clause, counts)


def _by_counts(before: PhaseRun, after: PhaseRun, new: PhaseRun | None, why: str) -> SuiteCheck:
    counts = _minus(after.counts, new.counts) if new else after.counts
    if before.counts_known and after.counts_known:
        was, now = before.counts.passed, counts.passed
        ok = now >= was
        relation = "as many as" if now == was else "more than" if ok else "fewer than"
        clause = (
            f"{plural(now, 'existing test')} passed with the fix, {relation} the {was} on the base commit "
            f"(counts only: {why})"
        )
        return SuiteCheck(ok, clause, counts)
    was, now = before.run.exit_code, after.run.exit_code
    ok = was != 0 or now == 0
    clause = (
        f"the suite exited with code {was} on the base commit and {now} with the fix (no counts reported)"
    )
    return SuiteCheck(ok, clause, counts)


def _minus(total: TestCounts, part: TestCounts) -> TestCounts:
    return TestCounts(
        passed=max(0, total.passed - part.passed),
        failed=max(0, total.failed - part.failed),
        errors=max(0, total.errors - part.errors),
        skipped=max(0, total.skipped - part.skipped),
        timed_out=total.timed_out,
    )
