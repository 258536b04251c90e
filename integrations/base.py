"""The seams between the pipeline and the outside world. Each has a local default and a live form.

Notifier   posts the briefing and updates it in place (terminal locally, Slack live)
Forge      opens the pull request, idempotently per branch (database locally, GitHub live)
Tracker    moves and comments on the ticket (event log locally, Jira live)
"""

from dataclasses import dataclass
from typing import Protocol

from documents.briefing import Briefing
from documents.facts import RunFacts, Ticket


class IntegrationError(Exception):
    """An outside system refused or failed; the message says which and why (no secrets)."""


class SignatureError(IntegrationError):
    """A webhook whose signature is missing, wrong, stale or replayed; the message says which."""


@dataclass(frozen=True, slots=True)
class PullRequestRef:
    number: int
    url: str
    created: bool
    """False when a pull request for the branch already existed and was returned."""


class Notifier(Protocol):
    name: str

    async def post_briefing(self, facts: RunFacts, briefing: Briefing) -> str | None:
        """Show the briefing; return a reference to update it in place later (None if it cannot be)."""
        ...

    async def update_briefing(self, facts: RunFacts, briefing: Briefing, ref: str | None) -> None:
        """Replace the shown briefing (approved, changes requested, failed, ...)."""
        ...

    async def notify(self, facts: RunFacts, text: str) -> None:
        """A short follow-up line about the run."""
        ...


class Forge(Protocol):
    name: str

    async def ci_context(self, ticket: Ticket) -> str | None:
        """The failing CI jobs' log excerpt for this incident (its own CI run, else the latest failed one)."""
        ...

    async def open_pull_request(
        self, facts: RunFacts, *, title: str, body: str, diff: str, draft: bool, labels: list[str]
    ) -> PullRequestRef:
        """Open the PR for ``facts.branch``, or return the one already open for it."""
        ...


class Tracker(Protocol):
    name: str

    async def refresh(self, ticket: Ticket) -> Ticket:
        """The ticket as the tracker has it now (a Slack command may name only its key)."""
        ...

    async def transition(self, facts: RunFacts, status_name: str) -> None:
        """Move the ticket to the named status (looked up at run time)."""
        ...

    async def comment(self, facts: RunFacts, text: str) -> None:
        """Comment on the ticket."""
        ...
