"""What test runners report, read back: per-test outcomes (``Report``) from pytest's JUnit XML, and
the counts of unittest's and pytest's summary lines. (unittest's and Django's per-test lines are read by
``tools.unittest_output``.)

pytest is asked for ``--junitxml`` with ``junit_family=xunit1``, the family that keeps each test's
``file``, so node ids can be rebuilt (``tests/test_x.py::TestA::test_b[1]``) rather than guessed from
pytest's output. A ``<testcase>`` with an ``<error>`` child is an error (a collection failure when its
message says so), ``<failure>`` a failure, ``<skipped>`` a skip (xfail included), anything else a pass.
A test reported twice (a failure in the call and again in teardown) keeps its worst outcome.

The report is written by the repository's own test process, so it is hostile input: it is parsed with
``defusedxml`` (no DTD, no entity, so an entity bomb is refused before it expands), and a missing,
oversized, malformed or refused file is "no report", never an exception. Runners without a report give
counts from their summary: unittest's ``Ran N tests`` and ``FAILED (failures=1, errors=2)``, or
pytest's ``1 failed, 2 passed`` line printed by a wrapper (tox, make).
"""

import os
import re
import stat
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

Outcome = Literal["passed", "skipped", "failed", "error"]
_SEVERITY: dict[Outcome, int] = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}
MAX_REPORT_BYTES = 50_000_000
"""A report larger than this is ignored (treated as missing)."""
COLLECTION_FAILURE = "collection failure"
"""The message pytest gives the ``<error>`` of a file that could not be collected (imported)."""

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_PYTEST_COUNT = r"\d+ (?:passed|failed|errors?|skipped|xfailed|xpassed|warnings?|deselected|rerun)"
_PYTEST_SUMMARY = re.compile(
    rf"^=*\s*(?:no tests ran|{_PYTEST_COUNT}(?:, {_PYTEST_COUNT})*)(?:\s+in\s+[\d.]+\s*s\b.*)?\s*=*$"
)
_PYTEST_PARTS = re.compile(r"(\d+) (passed|failed|error|skipped)")
_UNITTEST_RAN = re.compile(r"^Ran (\d+) tests? in [\d.]+s$")
_UNITTEST_RESULT = re.compile(r"^(OK|FAILED|NO TESTS RAN)(?: \((.*)\))?$")
_UNITTEST_PARTS = re.compile(r"(failures|errors|skipped|expected failures|unexpected successes)=(\d+)")
UNITTEST_IMPORT_FAILURE = "unittest.loader._FailedTest"
"""How unittest names a test module it could not import."""


def strip_ansi(text: str) -> str:
    """``text`` without terminal colour and cursor codes (``--color=yes`` in a project's addopts)."""
    return _ANSI.sub("", text)


@dataclass(frozen=True)
class Counts:
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.errors + self.skipped


@dataclass(frozen=True)
class Summary:
    """A runner's own summary (``1 failed, 2 passed in 0.12s``; ``Ran 3 tests ... FAILED (errors=1)``)."""

    counts: Counts
    line: str
    import_failures: bool = False
    """unittest could not import a test module (its counts then hold those as errors)."""


def parse_summary(output: str) -> Summary | None:
    """The counts of the last pytest or unittest summary in ``output`` (ANSI codes already stripped),
    or None when there is none."""
    lines = output.splitlines()
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index].strip()
        if _PYTEST_SUMMARY.match(line):
            found = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
            for number, word in _PYTEST_PARTS.findall(line):
                found[word] += int(number)
            counts = Counts(found["passed"], found["failed"], found["error"], found["skipped"])
            return Summary(counts, line.strip("= "))
        ran = _UNITTEST_RAN.match(line)
        if ran:
            return _unittest(int(ran.group(1)), lines[index + 1 :], line, output)
    return None


def _unittest(ran: int, after: list[str], ran_line: str, output: str) -> Summary:
    result = next((m for m in (_UNITTEST_RESULT.match(line.strip()) for line in after) if m), None)
    found = _UNITTEST_PARTS.findall(result.group(2) or "") if result else []
    parts = {name: int(value) for name, value in found}
    failed = parts.get("failures", 0) + parts.get("unexpected successes", 0)
    errors = parts.get("errors", 0)
    skipped = parts.get("skipped", 0) + parts.get("expected failures", 0)
    counts = Counts(max(0, ran - failed - errors - skipped), failed, errors, skipped)
    line = f"{ran_line} {result.group(0)}" if result else ran_line
    return Summary(counts, line, import_failures=UNITTEST_IMPORT_FAILURE in output)


@dataclass(frozen=True)
class Case:
    id: str
    """The test's node id, relative to the repository root."""
    outcome: Outcome
    collection_error: str | None = None
    """For a file that could not be collected: the error's last ``E`` line (e.g. the ImportError)."""
    duration_s: float = 0.0


@dataclass(frozen=True)
class Report:
    cases: dict[str, Case]

    def select(self, keep: Callable[[str], bool]) -> "Report":
        """The cases whose node id ``keep`` accepts."""
        return Report({node: case for node, case in self.cases.items() if keep(node)})

    def counts(self) -> Counts:
        tally = {outcome: 0 for outcome in _SEVERITY}
        for case in self.cases.values():
            tally[case.outcome] += 1
        return Counts(tally["passed"], tally["failed"], tally["error"], tally["skipped"])

    def passed(self) -> set[str]:
        return {node for node, case in self.cases.items() if case.outcome == "passed"}

    def failing(self) -> set[str]:
        """The tests that failed or errored (a file that could not be collected included)."""
        return {node for node, case in self.cases.items() if case.outcome in ("failed", "error")}

    def collection_errors(self) -> list[Case]:
        return [case for case in self.cases.values() if case.collection_error is not None]

    def slowest(self, n: int) -> list[Case]:
        return sorted(self.cases.values(), key=lambda case: case.duration_s, reverse=True)[:n]


def read_report(path: Path) -> Report | None:
    """The report at ``path``; None when it is missing, not a regular file, larger than MAX_REPORT_BYTES
    or not valid XML. The sandboxed run wrote it, so it may have left a link to a host file there, or
    a FIFO that would block the reader for good: neither is followed or waited for."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode) or status.st_size > MAX_REPORT_BYTES:
            return None
        try:
            root = SafeET.parse(handle, forbid_dtd=True).getroot()
        except (OSError, ET.ParseError, DefusedXmlException):
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
    try:
        duration = float(element.get("time") or 0)
    except ValueError:
        duration = 0.0
    error, failure = element.find("error"), element.find("failure")
    if error is not None:
        collection = error.get("message") == COLLECTION_FAILURE
        return Case(node_id, "error", _last_error_line(error.text or "") if collection else None, duration)
    if failure is not None:
        return Case(node_id, "failed", duration_s=duration)
    if element.find("skipped") is not None:
        return Case(node_id, "skipped", duration_s=duration)
    return Case(node_id, "passed", duration_s=duration)


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
    text = strip_ansi(text)
    lines = [line.removeprefix("E").strip() for line in text.splitlines() if line.startswith("E ")]
    return lines[-1] if lines else (text.strip().splitlines() or [COLLECTION_FAILURE])[-1].strip()
