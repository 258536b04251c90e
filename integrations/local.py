"""Local defaults: the terminal as notifier, the database as forge, the run's event log as tracker and
pager."""

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from rich.console import Console

from documents.briefing import Briefing
from documents.facts import Ticket
from documents.reviews import ReviewComment
from documents.terminal import briefing_panel
from integrations.base import IntegrationError, PullRequestRef


class RecordedPullRequest(Protocol):
    number: int
    created_at: datetime


class PullRequestLedger(Protocol):
    """Where local pull requests are recorded (the run store implements it)."""

    async def record_pull_request(
        self,
        run_id: str,
        branch: str,
        title: str,
        body: str,
        diff: str,
        *,
        draft: bool,
        labels: Sequence[str],
    ) -> tuple[Any, bool]: ...


LOCAL_PR_URL = "local://pull-requests/{number}"


class TerminalNotifier:
    """Prints the briefing as a Rich panel; updates are printed as new panels (a terminal cannot edit)."""

    name = "terminal"

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)

    async def post_briefing(
        self, briefing: Briefing, *, channel: str | None, marker: str, again: bool
    ) -> str | None:
        self.console.print(briefing_panel(briefing))
        if briefing.web_url:
            self.console.print(f"Review it in a browser: {briefing.web_url}", highlight=False)
        return None

    async def update_briefing(self, briefing: Briefing, ref: str, *, marker: str) -> str | None:
        self.console.print(briefing_panel(briefing))
        return ref


class LocalForge:
    """Records pull requests in the database: one per branch, whatever happens twice."""

    name = "local"

    def __init__(self, ledger: PullRequestLedger) -> None:
        self._ledger = ledger

    async def open_pull_request(
        self, *, run_id: str, branch: str, title: str, body: str, diff: str, draft: bool, labels: list[str]
    ) -> PullRequestRef:
        record, created = await self._ledger.record_pull_request(
            run_id, branch, title, body, diff, draft=draft, labels=labels
        )
        return PullRequestRef(record.number, LOCAL_PR_URL.format(number=record.number), created)

    async def ci_context(self, ticket: Ticket) -> str | None:
        return ticket.ci_excerpt

    async def review_comments(self, number: int, review_id: int) -> list[ReviewComment]:
        return []  # a local pull request has no reviews

    async def reply_to_review_comment(
        self, number: int, comment_id: int, body: str, *, marker: str, again: bool
    ) -> None:
        raise _no_conversation()

    async def comment_on_pull_request(self, number: int, body: str, *, marker: str, again: bool) -> None:
        raise _no_conversation()


class LocalTracker:
    """Keeps ticket transitions and comments in the run's event log."""

    name = "local"

    def __init__(self, publish: Callable[[str, str, dict[str, Any]], None]) -> None:
        self._publish = publish

    async def refresh(self, ticket: Ticket) -> Ticket:
        return ticket

    async def transition(self, ticket: Ticket, status_name: str, *, run_id: str) -> None:
        self._publish(run_id, "ticket_transition", {"key": ticket.key, "to": status_name})

    async def comment(
        self, ticket: Ticket, text: str, *, run_id: str, links: dict[str, str], marker: str, again: bool
    ) -> None:
        self._publish(run_id, "ticket_comment", {"key": ticket.key, "text": text, "links": links})


class LocalPager:
    """Keeps the notes meant for an alert's incident in the run's event log."""

    name = "local"

    def __init__(self, publish: Callable[[str, str, dict[str, Any]], None]) -> None:
        self._publish = publish

    async def note(self, ticket: Ticket, text: str, *, run_id: str, again: bool) -> None:
        self._publish(run_id, "incident_note", {"key": ticket.key, "text": text})


def _no_conversation() -> IntegrationError:
    return IntegrationError(
        "a local pull request has no conversation to answer in: set GITHUB_TOKEN and GITHUB_REPO",
        service="local",
    )
