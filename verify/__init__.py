"""Verification: the real cross-check of an agent-written fix and agent-written regression tests.

``verify`` takes the two diffs (``fix_diff`` of non-test files, ``test_diff`` of test files, both from
the same base commit) and runs the repository's test command as real subprocesses in fresh worktrees:

1. ``base_suite``: the whole suite on the base commit (or its result kept from an earlier verification
   of the same commit, environment and command: ``cache``);
2. ``base_with_tests``: base + test diff, the test files only: the diff's tests must fail (a collection
   error, e.g. importing what only the fix adds, counts as failing and the detail says so);
3. ``fixed_with_tests``: + fix diff, the test files: the diff's tests must all pass;
4. ``fixed_suite``: the whole suite with fix and tests: every test that passed in 1 must still pass.

The diff's tests are the ids the base commit does not have, and existing tests that passed there and
fail once the test diff is applied; a test that already fails on the base commit is the base commit's,
reported and never counted against the fix, wherever it lives; an id on one side only (a renamed
parametrized case) is not comparable (``compare``). The first phase that does not hold decides the
verdict (``tests_do_not_reproduce``, ``fix_does_not_pass``, ``regression``); a phase that times out
does not hold; a phase whose run reported no counts at all (a usage error) proves nothing: ``not_run``,
or ``environment_error`` for the base suite, with the runner's own message. A test diff that does not
apply, or names files it does not create, leaves nothing to test (``no_tests``); a fix diff that does not
apply is a fix that does not pass. Every phase runs ``[environment] build`` first when one is
configured: when it fails with the fix the verdict is ``build_failed``, on the base commit
``environment_error``; without a build, a fix that changes the sources of an artefact the set-up built is
reported stale (``environment.artefacts``). Without a fix the new tests still run on base; without tests the
suite still runs on base and with the fix; the detail reports what they showed.

Phases that do not wait for each other run at once when ``parallel`` (two cores or more by default,
``[environment] parallel_phases``): 1, 4 (with 3, in a worktree of its own), and 2 then 3 beside them;
an early verdict cancels the rest. Per-test outcomes come from pytest's JUnit report, or unittest's and
Django's verbose lines (``tools.runners``); a runner without them gives counts (``suite``). No code of
the target repository runs in this process: only subprocesses. This package raises nothing of its own:
``gitrepo.GitError`` when a worktree cannot be made.

- ``verifier``: ``verify`` and the verdicts; ``plan``: scheduling the phases, their worktrees;
- ``phases``: one run of the test command; ``compare``: tests told apart by id; ``suite``: the suites
  compared; ``words``: the detail's clauses; ``cache``: the base suite kept in the database.
"""

from verify.verifier import ENVIRONMENT_ADVICE, base_worktree_path, fixed_worktree_path, verify

__all__ = ["ENVIRONMENT_ADVICE", "base_worktree_path", "fixed_worktree_path", "verify"]
