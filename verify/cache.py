"""The base commit's suite, run once: its result kept in the database per (repository, base commit,
environment key, test command), so a second verification on the same commit does not run it again.

The database, not one worker's disk: with PostgreSQL every worker sharing it finds the result
(``store.base_suites``). Only a run that finished and ran tests is kept; a run that timed out, was
stopped by a sandbox limit, or reported no counts is run again next time. What is kept is what the
verifier reads: the counts, the per-test outcomes, the exit code, the summary, the tail of the output.
``cached_base_suite(store, suite_key(...))`` reads it back for anyone else who wants to know what already
fails on a commit, under the key verification uses.
"""

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from environment.prepare import Prepared
from safety.sandbox import Environment
from store.base_suites import BaseSuites
from tools.runner_reports import Case, Counts, Report
from tools.testing import TestRun

FORMAT = 1
"""Bumped whenever what a run means changes (how commands are given tests, what is read back)."""
KEPT_OUTPUT_CHARS = 20_000


@dataclass(frozen=True)
class SuiteKey:
    """What a base suite's result depends on."""

    repo: str
    """The repository's name."""
    base: str
    environment: str
    """The environment's key (``environment_key``)."""
    command: str
    """The test command (and anything else that changes how the suite runs)."""

    def digest(self) -> str:
        text = json.dumps([FORMAT, self.repo, self.base, self.environment, self.command])
        return hashlib.sha256(text.encode()).hexdigest()


def suite_key(repo: str, base: str, prepared: Prepared, command: str) -> SuiteKey:
    """The key of the base suite a verification of ``base`` runs: ``repo`` names the repository (its
    checkout's directory name), ``prepared`` is its environment for ``base``, ``command`` the test
    command, run after the environment's ``build`` when it has one (a build changes what the tests run)."""
    build = prepared.environment.build
    run = f"{build}\n{command}" if build else command
    return SuiteKey(repo, base, environment_key(prepared.key, prepared.environment), run)


def environment_key(prepared_key: str | None, environment: Environment) -> str:
    """The prepared environment's key (a hash of its set-up and manifests); without a set-up, a hash of
    what the plain environment shows (read-only paths, variables, the test command's program)."""
    if prepared_key:
        return prepared_key
    shown = [
        [str(path) for path in environment.read_only_paths],
        [list(pair) for pair in environment.variables],
        [str(program) for program in environment.programs],
    ]
    return "host-" + hashlib.sha256(json.dumps(shown).encode()).hexdigest()[:16]


class BaseSuiteCache:
    """The kept result of one base suite (``key``) in ``store``."""

    def __init__(self, store: BaseSuites, key: SuiteKey) -> None:
        self.store = store
        self.key = key

    async def get(self) -> TestRun | None:
        text = await self.store.get(self.key.digest())
        return None if text is None else from_json(text)

    async def put(self, run: TestRun) -> bool:
        """Keep ``run`` when it is worth keeping (see the module docstring); whether it was kept."""
        if not keepable(run):
            return False
        key = self.key
        await self.store.put(
            key.digest(), repo=key.repo, base=key.base, environment=key.environment, command=key.command,
            result=to_json(run),
        )  # fmt: skip
        return True


async def cached_base_suite(store: BaseSuites, key: SuiteKey) -> TestRun | None:
    """The base commit's suite as an earlier verification ran it, or None when none is kept. Its
    ``report`` (when the runner gives per-test outcomes) names what already fails: ``report.failing()``."""
    return await BaseSuiteCache(store, key).get()


def keepable(run: TestRun) -> bool:
    """A run that finished and ran tests (one that only errored, say on a missing module, is not kept)."""
    counts = run.counts
    ran = counts is not None and counts.passed + counts.failed + counts.skipped > 0
    return ran and not run.timed_out and not run.stopped


def to_json(run: TestRun) -> str:
    counts = run.counts
    cases = (
        [[c.id, c.outcome, c.collection_error, c.duration_s] for c in run.report.cases.values()]
        if run.report is not None
        else None
    )
    return json.dumps({
        "kind": run.kind,
        "counts": [counts.passed, counts.failed, counts.errors, counts.skipped] if counts else None,
        "exit_code": run.exit_code,
        "output": run.output[-KEPT_OUTPUT_CHARS:],
        "duration_s": run.duration_s,
        "summary": run.summary,
        "cases": cases,
        "import_failures": run.import_failures,
    })  # fmt: skip


def from_json(text: str) -> TestRun | None:
    """The run kept as ``text``; None when it cannot be read (written by another version)."""
    try:
        data: dict[str, Any] = json.loads(text)
        cases = data["cases"]
        report = (
            Report({node: Case(node, outcome, error, duration) for node, outcome, error, duration in cases})
            if cases is not None
            else None
        )
        return TestRun(
            kind=data["kind"],
            counts=Counts(*data["counts"]) if data["counts"] is not None else None,
            exit_code=data["exit_code"],
            timed_out=False,
            output=data["output"],
            duration_s=data["duration_s"],
            summary=data["summary"],
            report=report,
            import_failures=data["import_failures"],
        )
    except (ValueError, KeyError, TypeError):
        return None
