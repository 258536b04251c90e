"""The clauses a verification's ``detail`` is built from, each from measured numbers only."""

from documents.facts import TestCounts
from documents.phrases import clip, plural
from gitrepo.errors import GitError
from verify.phases import PhaseRun

_MAX_REASON = 300


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


def collection_error(run: PhaseRun) -> str | None:
    """The first collection error among the phase's own tests (e.g. ``ImportError: cannot import ...``)."""
    own = run.own
    errors = own.collection_errors() if own else []
    return errors[0].collection_error if errors else None


def failed_on_base(run: PhaseRun) -> str:
    """``2 new tests failed on the base commit``, for a base_with_tests run that failed."""
    error = collection_error(run)
    if error is not None:
        return (
            f"the new tests could not even be collected on the base commit ({error}), which counts as failing"
        )
    if not run.counts_known:
        code = run.run.exit_code
        return f"the new tests failed on the base commit (exit code {code}; the runner reports no counts)"
    c = run.counts
    bad = c.failed + c.errors
    if not total(c):
        return (
            f"the test run failed on the base commit before any new test ran (exit code {run.run.exit_code})"
        )
    if bad == total(c):
        return f"{plural(bad, 'new test')} failed on the base commit"
    return f"{bad} of {total(c)} tests in the new test files failed on the base commit ({c.summary()})"


def did_not_fail_on_base(run: PhaseRun) -> str:
    """Why a base_with_tests run does not reproduce the bug: it timed out, or nothing failed."""
    if run.run.timed_out:
        return (
            f"the new tests timed out after {seconds(run)} on the base commit, so it is unknown whether they "
            "reproduce the bug"
        )
    shown = run.counts.summary() if run.counts_known else f"exit code {run.run.exit_code}"
    return f"the new tests do not fail on the base commit ({shown}), so they do not reproduce the bug"


def passed_with_fix(run: PhaseRun) -> str:
    if not run.counts_known:
        return "they pass with the fix (exit code 0)"
    return f"{plural(run.counts.passed, 'new test')} passed with the fix"


def still_fails(run: PhaseRun) -> str:
    """Why a fixed_with_tests run is not a pass."""
    if run.run.timed_out:
        return f"with the fix, the new tests timed out after {seconds(run)}"
    if not run.counts_known:
        return f"with the fix, the new tests still fail (exit code {run.run.exit_code}; no counts reported)"
    c = run.counts
    error = collection_error(run)
    because = f"; {error}" if error else ""
    if c.failed + c.errors:
        return (
            f"with the fix, {c.failed + c.errors} of {total(c)} new tests still fail ({c.summary()}{because})"
        )
    return f"with the fix, no new test passed ({c.summary()})"
