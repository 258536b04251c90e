"""Tests compared across the base commit and the change by what they are, from per-test outcomes.

- The test diff's own tests are those whose id the base commit does not have (new), and existing ones
  that passed on the base commit and fail once the test diff is applied (changed by it). A test that
  already fails on the base commit is neither, wherever it lives: it is the base commit's, and never
  counted against the fix.
- An id that exists on one side only is not comparable: neither broken nor fixed. When a test file
  inserts a case into a ``parametrize`` list whose ids are numbered by position, ``test_x[args5-a]``
  becomes ``test_x[args6-a]``: ids that differ only in such numbers are paired up as the same test
  renamed (``shape``), and the pair is not comparable rather than one new test and one lost test.
- A test is broken when it passed on the base commit and does not with the fix, or when the fix brings
  a failure under an id of its own that is none of the above (a test module that no longer imports).
  A suite whose failing set is the same with the fix is not a regression.
"""

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from tools.runner_reports import Report

_POSITIONAL = re.compile(r"(?<=[\[\-])([A-Za-z_]\w*?)\d+(?=[\]\-])")
"""pytest's id for a parameter it cannot spell (``args5``): the argument's name and the position."""


def shape(node_id: str) -> str:
    """``node_id`` with the positions of its parameter ids left out: ``t[args5-x]`` -> ``t[args#-x]``."""
    head, bracket, params = node_id.partition("[")
    return head + _POSITIONAL.sub(r"\1#", bracket + params) if bracket else node_id


def renamed(gone: Iterable[str], appeared: Iterable[str]) -> list[tuple[str, str]]:
    """Pairs (id on one side, id on the other) of the same shape, in order; ids without a partner are
    left out."""
    waiting: dict[str, list[str]] = defaultdict(list)
    for node in sorted(gone):
        waiting[shape(node)].append(node)
    pairs = []
    for node in sorted(appeared):
        partners = waiting.get(shape(node))
        if partners:
            pairs.append((partners.pop(0), node))
    return pairs


@dataclass(frozen=True)
class DiffTests:
    """The test diff's own tests, told apart from the base commit's suite."""

    new: frozenset[str]
    """Ids the base commit does not have (nor a renamed partner of)."""
    changed: frozenset[str]
    """Ids the base commit has, which passed there and fail with the test diff applied."""
    renamed: tuple[tuple[str, str], ...] = ()
    """(base id, id with the test diff) pairs of positional ids shifted by an inserted case."""
    base_ids: frozenset[str] = field(default_factory=frozenset)
    renamed_ids: frozenset[str] = field(default_factory=frozenset)
    """The ids of ``renamed``, on both sides."""

    def owns(self, node: str) -> bool:
        """Whether ``node`` (from any run with the test diff) is one of the diff's tests: new, changed, or
        seen for the first time with the fix (a new file that could not be collected on the base
        commit)."""
        return node in self.changed or (node not in self.base_ids and node not in self.renamed_ids)


def diff_tests(base: Report, with_tests: Report, in_files: Callable[[str], bool]) -> DiffTests:
    """The test diff's tests in ``with_tests`` (the test files run on the base commit with the test diff),
    against ``base`` (the base commit's suite); ``in_files`` says whether an id lives in the test files."""
    known = frozenset(base.cases)
    appeared = [node for node in with_tests.cases if node not in known]
    gone = [node for node in known if in_files(node) and node not in with_tests.cases]
    pairs = tuple(renamed(gone, appeared))
    paired = {new for _, new in pairs}
    failing = with_tests.failing()
    changed = frozenset(node for node in base.passed() if node in failing)
    new = frozenset(node for node in appeared if node not in paired)
    return DiffTests(
        new=new,
        changed=changed,
        renamed=pairs,
        base_ids=known,
        renamed_ids=frozenset(paired | {old for old, _ in pairs}),
    )


@dataclass(frozen=True)
class SuiteComparison:
    """The base commit's suite against the suite with the fix (and the test diff)."""

    broken: list[str]
    already_failing: list[str]
    """Failed on the base commit: not counted against the fix."""
    now_passing: list[str]
    """Of those, the ones that pass with the fix."""
    not_comparable: list[str]
    """Ids on one side only that are not the test diff's: renamed, removed, or appeared."""
    still_passing: list[str]
    """The tests that passed on the base commit and pass with the fix."""
    existing: Report
    """The suite with the fix, restricted to the base commit's tests that were compared."""


def compare_suites(base: Report, fixed: Report, owns: Callable[[str], bool]) -> SuiteComparison:
    """Compare by id, the test diff's own tests (``owns``) left out: they are judged on their own."""
    known = base.cases
    passed_after = fixed.passed()
    failing_after = fixed.failing()
    gone = [node for node in known if node not in fixed.cases and not owns(node)]
    appeared = [node for node in fixed.cases if node not in known and not owns(node)]
    pairs = renamed(gone, appeared)
    paired = {node for pair in pairs for node in pair}
    compared = [node for node in base.passed() if node in fixed.cases and not owns(node)]
    broken = sorted(
        [node for node in compared if node not in passed_after]
        + [node for node in appeared if node in failing_after and node not in paired]
    )
    still_passing = [node for node in compared if node in passed_after]
    failing_before = sorted(base.failing())
    now_passing = [node for node in failing_before if node in passed_after]
    not_comparable = sorted(
        {*gone, *(node for node in appeared if node not in failing_after or node in paired)}
    )
    existing = fixed.select(lambda node: node in known and not owns(node))
    return SuiteComparison(broken, failing_before, now_passing, not_comparable, still_passing, existing)
