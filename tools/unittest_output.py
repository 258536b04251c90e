"""Per-test outcomes from unittest's verbose output (``python -m unittest -v``, and Django's
``manage.py test --verbosity 2``, whose runner is unittest's).

Each test prints ``test_name (package.module.Class.test_name) ... ok`` (before Python 3.11 the part in
brackets ends with the class); a docstring's first line may come between the name and the result, and
output the test prints may too. So the verbose lines give which tests ran and which were skipped, and
the headings of the error list at the end, which unittest prints on lines of their own
(``FAIL: name (id)``, ``ERROR: name (id)``, ``UNEXPECTED SUCCESS: ...``), give which failed: a failure
is never read from the middle of a line the tests may have written into. A subtest's heading
(``FAIL: name (id) (i=1)``) fails its test. A module that could not be imported is unittest's
``_FailedTest``: its id becomes the module's dotted name, an error, with the import error as its
collection error, as pytest reports a file it could not collect. A class or module fixture that failed
(``ERROR: setUpClass (module.Class)``) is an error of its own id, ``module.Class.setUpClass``.

Without unittest's closing ``Ran N tests`` the run did not finish, and the lines are not trusted: no
report. Fewer verbose lines than tests run (the output's start was cut, see
``safety.sandbox.process.MAX_CAPTURE_BYTES``) is no report either.
"""

import re

from tools.runner_reports import Case, Outcome, Report

_START = re.compile(r"(?<![\w.])(?P<name>[\w.]+) \((?P<where>[\w.]+)\)(?= \.\.\. |\n)")
"""Not only at the start of a line: what a test prints may come before its line."""
_HEADING = re.compile(
    r"^(?P<kind>FAIL|ERROR|UNEXPECTED SUCCESS): (?P<name>[^\s()]+) \((?P<where>[\w.]+)\)", re.MULTILINE
)
_SECTION_END = re.compile(r"^(?:={20,}|-{20,})$", re.MULTILINE)
_SKIPPED = re.compile(r"\.\.\. (?:skipped\b|expected failure$)", re.MULTILINE)
_RAN = re.compile(r"^Ran (\d+) tests? in [\d.]+s$", re.MULTILINE)
_ERROR_LINE = re.compile(r"^(?:[\w.]+)?(?:Error|Exception): .+$", re.MULTILINE)
_FAILED_IMPORT = "unittest.loader._FailedTest"
_FIXTURES = ("setUpClass", "tearDownClass", "setUpModule", "tearDownModule")
_HEADING_OUTCOME: dict[str, Outcome] = {"FAIL": "failed", "UNEXPECTED SUCCESS": "failed", "ERROR": "error"}


def test_id(name: str, where: str) -> str:
    """The test's dotted id from what unittest prints: ``test_x (pkg.mod.Class.test_x)`` (3.11 and
    later) or ``test_x (pkg.mod.Class)`` (before); an import failure is the module's name. Output the
    test printed may be glued to the front of ``name``: with 3.11's spelling, ``where`` is enough."""
    if where.startswith(f"{_FAILED_IMPORT}."):
        return where.removeprefix(f"{_FAILED_IMPORT}.")
    if where == _FAILED_IMPORT:
        return name
    if name.endswith(where.rsplit(".", 1)[-1]):
        return where
    return f"{where}.{name}"


def read_verbose(output: str) -> Report | None:
    """The per-test outcomes of a verbose unittest run's ``output`` (ANSI codes stripped), or None when
    it holds no verbose line, or did not finish (see the module docstring)."""
    ran = _RAN.findall(output)
    if not ran:
        return None
    starts = list(_START.finditer(output))
    cases: dict[str, Case] = {}
    for index, start in enumerate(starts):
        node = test_id(start["name"], start["where"])
        end = starts[index + 1].start() if index + 1 < len(starts) else len(output)
        skipped = _SKIPPED.search(output, start.end(), end) is not None
        cases[node] = Case(node, "skipped" if skipped else "passed")
    for heading in _HEADING.finditer(output):
        node = test_id(heading["name"], heading["where"])
        outcome = _HEADING_OUTCOME[heading["kind"]]
        collection = (
            _import_error(output, heading.end()) if heading["where"].startswith(_FAILED_IMPORT) else None
        )
        known = cases.get(node)
        if known is None or known.outcome != "error":
            cases[node] = Case(node, outcome, collection)
    ran_tests = int(ran[-1])
    counted = [node for node in cases if node.rsplit(".", 1)[-1] not in _FIXTURES]
    if not cases or len(counted) < ran_tests:
        return None
    return Report(cases)


def _import_error(output: str, at: int) -> str:
    """The last ``SomeError: message`` line of the error section that starts at ``at``."""
    separator = _SECTION_END.search(output, at)
    body_start = separator.end() if separator else at
    following = _SECTION_END.search(output, body_start)
    body = output[body_start : following.start() if following else len(output)]
    found = _ERROR_LINE.findall(body)
    return found[-1].strip() if found else "the test module could not be imported"
