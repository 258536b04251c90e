"""The clauses a verification's ``detail`` is built from, each from measured numbers only."""

from collections.abc import Sequence

from documents.facts import TestCounts
from documents.phrases import clip, plural
from gitrepo.errors import GitError
from verify.phases import PhaseRun

_MAX_REASON = 300
MAX_NAMED = 10
"""Tests named in a clause; the rest are counted."""


def seconds(run: PhaseRun) -> str:
    return f"{run.run.duration_s:.1f} s"


def capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def git_reason(exc: GitError) -> str:
    """What git said, on one line."""
    lines = [line.strip() for line in (exc.stderr or str(exc)).splitlines() if line.strip()]
    return clip("; ".join(lines), _MAX_REASON)


def total(counts: TestCounts) -> int:
    return counts.passed + counts.failed + counts.errors + counts.skipped


def named(tests: Sequence[str]) -> str:
    """``a, b and 3 more``."""
    shown = ", ".join(tests[:MAX_NAMED])
    return shown + (f" and {len(tests) - MAX_NAMED} more" if len(tests) > MAX_NAMED else "")


def collection_error(run: PhaseRun) -> str | None:
    """The first collection error among the phase's own tests (e.g. ``ImportError: cannot import ...``)."""
    own = run.own_report
    errors = own.collection_errors() if own else []
    return errors[0].collection_error if errors else None


def failed_on_base(run: PhaseRun) -> str:
    """``2 new tests failed on the base commit``, for a base_with_tests run that failed."""
    error = collection_error(run)
    if error is not None:
        return (
            f"the new tests could not even be collected on the base commit ({error}), which counts as failing"
        )
    c = run.counts
    bad = c.failed + c.errors
    if bad == total(c):
        return f"{plural(bad, 'new test')} failed on the base commit"
    return f"{bad} of {plural(total(c), 'new test')} failed on the base commit ({c.summary()})"


def did_not_fail_on_base(run: PhaseRun) -> str:
    """Why a base_with_tests run does not reproduce the bug: it timed out, or nothing failed."""
    if run.run.timed_out:
        return (
            f"the new tests timed out after {seconds(run)} on the base commit, so it is unknown whether they "
            "reproduce the bug"
        )
    shown = run.counts.summary()
    return f"the new tests do not fail on the base commit ({shown}), so they do not reproduce the bug"


def passed_with_fix(run: PhaseRun) -> str:
    return f"{plural(run.counts.passed, 'new test')} passed with the fix"


def still_fails(run: PhaseRun) -> str:
    """Why a fixed_with_tests run is not a pass."""
    if run.run.timed_out:
        return f"with the fix, the new tests timed out after {seconds(run)}"
    c = run.counts
    error = collection_error(run)
    because = f"; {error}" if error else ""
    if c.failed + c.errors:
        bad = c.failed + c.errors
        return f"with the fix, {bad} of {plural(total(c), 'new test')} still fail ({c.summary()}{because})"
    return f"with the fix, no new test passed ({c.summary()})"


def changed(tests: Sequence[str]) -> str:
    """Says which of the new tests are existing tests the test diff changed."""
    if not tests:
        return ""
    which = plural(len(tests), "of them is an existing test", "of them are existing tests")
    return f" ({which} the test diff changed: {named(tests)})"


def already_failing(failing: Sequence[str], now_passing: Sequence[str]) -> str:
    """The base commit's own failures, never counted against the fix."""
    if not failing:
        return ""
    also = (
        f"; {len(now_passing)} of them pass{'es' if len(now_passing) == 1 else ''} with the fix"
        if now_passing
        else ""
    )
    verb = "fails" if len(failing) == 1 else "fail"
    return (
        f"; {plural(len(failing), 'test')} already {verb} on the base commit and "
        f"{'is' if len(failing) == 1 else 'are'} not counted against the fix ({named(failing)}){also}"
    )


def not_comparable(tests: Sequence[str]) -> str:
    if not tests:
        return ""
    return (
        f"; {plural(len(tests), 'test id')} exist{'s' if len(tests) == 1 else ''} on one side only and "
        f"{'is' if len(tests) == 1 else 'are'} not comparable, neither broken nor fixed (renamed "
        f"parametrized cases, removed tests: {named(tests)})"
    )
