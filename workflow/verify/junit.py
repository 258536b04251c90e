"""pytest's JUnit XML report, read back as the outcome of every test by node id.

The verifier asks pytest for ``--junitxml`` with ``junit_family=xunit1``, the family that keeps each
test's ``file``, so node ids can be rebuilt (``tests/test_x.py::TestA::test_b[1]``) rather than
guessed from pytest's output. A ``<testcase>`` with an ``<error>`` child is an error (a collection
failure when its message says so), ``<failure>`` a failure, ``<skipped>`` a skip (xfail included),
anything else a pass. A test reported twice (a failure in the call and again in teardown) keeps its
worst outcome.

The report is written by the repository's own test process, so it is read defensively: a missing,
oversized or malformed file is "no report", never an exception.
"""

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from documents.facts import TestCounts

Outcome = Literal["passed", "skipped", "failed", "error"]
_SEVERITY: dict[Outcome, int] = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}
MAX_REPORT_BYTES = 50_000_000
"""A report larger than this is ignored (treated as missing)."""
COLLECTION_FAILURE = "collection failure"
"""The message pytest gives the ``<error>`` of a file that could not be collected (imported)."""


@dataclass(frozen=True)
class Case:
    id: str
    """The test's node id, relative to the repository root."""
    outcome: Outcome
    collection_error: str | None = None
    """For a file that could not be collected: the error's last ``E`` line (e.g. the ImportError)."""


@dataclass(frozen=True)
class Report:
    cases: dict[str, Case]

    def select(self, keep: Callable[[str], bool]) -> "Report":
        """The cases whose node id ``keep`` accepts."""
        return Report({node: case for node, case in self.cases.items() if keep(node)})

    def counts(self) -> TestCounts:
        tally = {outcome: 0 for outcome in _SEVERITY}
        for case in self.cases.values():
            tally[case.outcome] += 1
        return TestCounts(
            passed=tally["passed"], failed=tally["failed"], errors=tally["error"], skipped=tally["skipped"]
        )

    def passed(self) -> set[str]:
        return {node for node, case in self.cases.items() if case.outcome == "passed"}

    def collection_errors(self) -> list[Case]:
        return [case for case in self.cases.values() if case.collection_error is not None]


def read_report(path: Path) -> Report | None:
    """The report at ``path``; None when it is missing, larger than MAX_REPORT_BYTES or not valid XML."""
    try:
        if path.stat().st_size > MAX_REPORT_BYTES:
            return None
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None
    cases: dict[str, Case] = {}
    for element in root.iter("testcase"):
        case = _case(element)
        known = cases.get(case.id)
        if known is None or _SEVERITY[case.outcome] > _SEVERITY[known.outcome]:
            cases[case.id] = case
    return Report(cases)


def belongs_to(node_id: str, paths: Iterable[str]) -> bool:
    """Whether the test ``node_id`` is one of ``paths`` or lives in one of them (repository-relative
    files, directories or node ids)."""
    for path in paths:
        dotted = _dotted(path)
        if node_id == path or node_id.startswith((f"{path}::", f"{path}[", f"{path.rstrip('/')}/")):
            return True
        if node_id.startswith((f"{dotted}::", f"{dotted}.")):  # ids that could not be rebuilt from a file
            return True
    return False


def _case(element: ET.Element) -> Case:
    node_id = _node_id(element.get("classname", ""), element.get("name", ""), element.get("file"))
    error, failure = element.find("error"), element.find("failure")
    if error is not None:
        collection = error.get("message") == COLLECTION_FAILURE
        return Case(node_id, "error", _last_error_line(error.text or "") if collection else None)
    if failure is not None:
        return Case(node_id, "failed")
    if element.find("skipped") is not None:
        return Case(node_id, "skipped")
    return Case(node_id, "passed")


def _node_id(classname: str, name: str, file: str | None) -> str:
    """pytest's node id from the mangled ``classname`` (``tests.test_x.TestA``), ``name`` and ``file``.

    Without a usable ``file`` (another junit family, a test inherited from another module) the id is
    ``classname::name``: not pytest's spelling, but the same in every run, which is what comparing runs
    needs.
    """
    if file:
        module = _dotted(file)
        if not classname and name == module:  # a file that failed to collect
            return file
        if classname == module or classname.startswith(f"{module}."):
            rest = classname[len(module) :].lstrip(".")
            return "::".join([file, *(rest.split(".") if rest else []), name])
    return f"{classname}::{name}" if classname else name


def _dotted(path: str) -> str:
    """``tests/test_x.py`` as pytest's junit classname spells it: ``tests.test_x``."""
    return PurePosixPath(path).as_posix().removesuffix(".py").replace("/", ".")


def _last_error_line(text: str) -> str:
    lines = [line.removeprefix("E").strip() for line in text.splitlines() if line.startswith("E ")]
    return lines[-1] if lines else (text.strip().splitlines() or [COLLECTION_FAILURE])[-1].strip()
