"""What the first message shows of the repository, read at the run's base commit (``agents.repository``)."""

from collections.abc import Sequence

from agents.repository import RepositoryView, instructions_file
from documents.facts import RunFacts
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
