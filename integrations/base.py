"""The seams between the pipeline and the outside world. Each has a local default and a live form.

Notifier   posts the briefing and updates it in place (terminal locally, Slack live)
Forge      opens the pull request, idempotently per branch (database locally, GitHub live)
Tracker    moves and comments on the ticket (event log locally, Jira live)
Pager      tells the incident an alert raised how the run goes (event log locally, PagerDuty notes live)
AlertReader  reads what an alert's webhook did not carry (Sentry's latest event, PagerDuty's alerts)

What the pipeline sends through them are deliveries (``deliveries.deliverer``): each send is one attempt
that either lands or raises an ``IntegrationError`` saying whether trying again can help. Every send
with an effect that a retry could repeat takes a ``marker`` (a key unique to the delivery, stamped on
what it creates) and ``again`` (an earlier attempt may have landed): with ``again`` the integration
looks for the marked message or comment before it creates another.
"""

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from documents.alerts import Alert
from documents.briefing import Briefing
from documents.facts import Ticket
from documents.reviews import ReviewComment
from retries import retry_after_s

EXCERPT_CHARS = 160
"""How much of an unexpected answer an error message quotes."""
_TAG = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]*>", re.IGNORECASE | re.DOTALL)


class IntegrationError(Exception):
    """An outside system refused or failed; the message says which and why (no secrets).

    ``service`` names the system, ``status`` is the HTTP status when it answered at all, ``retryable``
    says whether the same request may succeed later (an outage, a rate limit, a timeout) or needs a
    change first (a refused token, a missing channel), and ``retry_after_s`` is the wait the service
    asked for (``Retry-After``).
    """

    def __init__(
        self,
        message: str,
        *,
        service: str = "",
        status: int | None = None,
        retryable: bool = False,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.service, self.status = service, status
        self.retryable, self.retry_after_s = retryable, retry_after_s


def retryable_status(status: int) -> bool:
    """Whether an HTTP status is worth the same request again later: timeouts, rate limits, 5xx."""
    return status in (408, 425, 429) or status >= 500


def excerpt(body: str | bytes | None, limit: int = EXCERPT_CHARS) -> str:
    """A short, single-line quote of an answer body: an HTML error page as its text, ``(empty body)``."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body or ""
    text = " ".join(html.unescape(_TAG.sub(" ", text)).split())
    if not text:
        return "(empty body)"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def http_error(
    service: str,
    doing: str,
    status: int,
    body: str | bytes | None,
    *,
    headers: Mapping[str, str] | None = None,
    hint: str | None = None,
) -> IntegrationError:
    """The error for an answer that is not a success: the service, what it was doing, the status, what
    the body says (its JSON words or a quote of an error page); retryable for 408/425/429/5xx, after the
    wait the ``headers`` ask for (Retry-After)."""
    words = f"{service} {doing}: HTTP {status}: {excerpt(body)}" + (f" ({hint})" if hint else "")
    return IntegrationError(
        words,
        service=service,
        status=status,
        retryable=retryable_status(status),
        retry_after_s=retry_after_s(headers),
    )


def unreachable(service: str, doing: str, exc: BaseException) -> IntegrationError:
    """The error for no answer at all: refused or reset connections, timeouts. Always worth retrying."""
    detail = str(exc).strip() or ("timed out" if isinstance(exc, TimeoutError) else "no details")
    return IntegrationError(
        f"{service} {doing}: no answer ({type(exc).__name__}: {excerpt(detail)})",
        service=service,
        retryable=True,
    )


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

    async def post_briefing(
        self, briefing: Briefing, *, channel: str | None, marker: str, again: bool
    ) -> str | None:
        """Show the briefing (in ``channel`` when given and possible); return a reference to update it
        in place later (None if it cannot be). With ``again``, a message marked ``marker`` that an
        earlier attempt posted is found and returned instead of posting a second one."""
        ...

    async def update_briefing(self, briefing: Briefing, ref: str, *, marker: str) -> str | None:
        """Replace the briefing shown at ``ref``; the reference it is at now (a deleted message is
        posted again, marked ``marker``)."""
        ...


class Forge(Protocol):
    name: str

    async def ci_context(self, ticket: Ticket) -> str | None:
        """The failing CI jobs' log excerpt for this incident (its own CI run, else the latest failed one)."""
        ...

    async def open_pull_request(
        self, *, run_id: str, branch: str, title: str, body: str, diff: str, draft: bool, labels: list[str]
    ) -> PullRequestRef:
        """Open the PR for ``branch`` (already pushed), or return the one already open for it: looking it
        up first makes every attempt safe to repeat."""
        ...

    async def review_comments(self, number: int, review_id: int) -> list[ReviewComment]:
        """The line comments of review ``review_id`` on pull request ``number``."""
        ...

    async def reply_to_review_comment(
        self, number: int, comment_id: int, body: str, *, marker: str, again: bool
    ) -> None:
        """Reply in the thread of review comment ``comment_id``; the body carries ``marker``. With
        ``again``, nothing when a reply carrying ``marker`` is already there."""
        ...

    async def comment_on_pull_request(self, number: int, body: str, *, marker: str, again: bool) -> None:
        """Comment on pull request ``number``'s conversation (the body carries ``marker``); with ``again``,
        nothing when a comment carrying ``marker`` is already there."""
        ...


class Tracker(Protocol):
    name: str

    async def refresh(self, ticket: Ticket) -> Ticket:
        """The ticket as the tracker has it now (a Slack command may name only its key)."""
        ...

    async def transition(self, ticket: Ticket, status_name: str, *, run_id: str) -> None:
        """Move the ticket of run ``run_id`` to the named status (looked up at run time); nothing when it
        is there already."""
        ...

    async def comment(
        self, ticket: Ticket, text: str, *, run_id: str, links: dict[str, str], marker: str, again: bool
    ) -> None:
        """Comment on the ticket, with ``links`` (label -> URL) after the text. With ``again``, nothing
        when a comment marked ``marker`` is already there."""
        ...


class Pager(Protocol):
    name: str

    async def note(self, ticket: Ticket, text: str, *, run_id: str, again: bool) -> None:
        """Add ``text`` as a note on the incident behind ``ticket`` (nothing for a ticket from elsewhere);
        never acknowledge or resolve it. With ``again``, nothing when the same note is there already."""
        ...


class AlertReader(Protocol):
    name: str

    async def complete(self, alert: Alert) -> Alert:
        """``alert`` with what its webhook did not carry, read from the service that raised it."""
        ...
