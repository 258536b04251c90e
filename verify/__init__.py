"""Verification: the real cross-check of an agent-written fix and agent-written regression tests.

``verify`` takes the two diffs (``fix_diff`` of non-test files, ``test_diff`` of test files, both from
the same base commit) and runs the repository's test command as real subprocesses in fresh worktrees:

1. ``base_suite``: the whole suite on the base commit (a second worktree, alongside 2 and 3);
2. ``base_with_tests``: base + test diff, only the new test files: they must fail (a collection error,
   e.g. importing what only the fix adds, counts as failing and the detail says so);
3. ``fixed_with_tests``: + fix diff, the new test files: they must all pass;
4. ``fixed_suite``: the whole suite with fix and tests: every test that passed in 1 must still pass.

The first phase that does not hold decides the verdict (``tests_do_not_reproduce``,
``fix_does_not_pass``, ``regression``); a phase that times out does not hold. Every phase runs
``[environment] build`` first when one is configured: when it fails with the fix the verdict is
``build_failed``, on the base commit ``environment_error``. Without a build, a fix that changes the
sources of an artefact the set-up built is reported stale (``environment.artefacts``). A test diff that does
not apply, or names files it does not create, leaves nothing to test (``no_tests``); a fix diff that
does not apply is a fix that does not pass. Without a fix the new tests still run on base; without
tests the suite still runs on base and with the fix; the detail reports what they showed.

Per-test outcomes come from pytest's JUnit XML report (``junit``); another runner gives counts and
exit codes only (``suite``). No code of the target repository runs in this process: only subprocesses.
This package raises nothing of its own: ``gitrepo.GitError`` when a worktree cannot be made.

- ``verifier``: ``verify`` and the order of the phases; ``phases``: one run of the test command;
- ``junit``: reading the report; ``suite``: comparing the suites; ``words``: the detail's clauses.
"""

from verify.verifier import ENVIRONMENT_ADVICE, base_worktree_path, verify

__all__ = ["ENVIRONMENT_ADVICE", "base_worktree_path", "verify"]
