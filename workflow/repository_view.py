"""What the first message shows of the repository, read at the run's base commit (``agents.repository``)."""

from collections.abc import Sequence

from agents.repository import RepositoryView, instructions_file
from documents.facts import RunFacts
from environment.prepare import Prepared
from store.base_suites import BaseSuites
from verify.cache import SuiteKey, cached_base_suite, suite_key
from workflow.runtime import Runtime


async def repository_view(
    rt: Runtime, facts: RunFacts, failing_tests: Sequence[str] | None = None
) -> RepositoryView:
    """The tracked files, the agent-instructions file (or README), the test command and patterns, and
    ``failing_tests``: the test ids that fail on the base commit (None while they are not known)."""
    assert facts.base_commit is not None
    files = await rt.repo.files_at(facts.base_commit)
    name = instructions_file(files)
    text = await rt.repo.read_at(facts.base_commit, name) if name else None
    return RepositoryView(
        files=sorted(files),
        test_command=rt.settings.environment.test_command,
        test_patterns=rt.test_rules(facts).test_patterns,
        instructions=(name, text) if name and text is not None else None,
        failing_tests=failing_tests,
    )


def base_suite_key(rt: Runtime, base: str, prepared: Prepared) -> SuiteKey:
    """The key under which verification keeps ``base``'s suite, run in ``prepared`` with the test
    command (``verify.cache``)."""
    return suite_key(rt.repo.path.name, base, prepared, rt.settings.environment.test_command)


async def failing_on_base(rt: Runtime, facts: RunFacts) -> list[str] | None:
    """The tests that fail on the run's base commit, as an earlier verification of that commit (in
    the same environment, with the same test command) ran them; None when none is kept, or when its
    runner does not name its tests and some failed."""
    assert facts.base_commit is not None
    prepared = await rt.environments.prepare(facts.base_commit)  # reused: the run's environment step made it
    if not prepared.ok:
        return None
    kept = await cached_base_suite(
        BaseSuites(rt.store.engine), base_suite_key(rt, facts.base_commit, prepared)
    )
    if kept is None:
        return None
    if kept.report is not None:
        return sorted(kept.report.failing())
    counts = kept.counts
    return [] if counts is not None and counts.failed + counts.errors == 0 else None
