"""Jira Cloud, live: REST API v3 calls out (the webhooks in: ``integrations.jira_webhook``).

Errors (all from ``integrations.base``)::

    IntegrationError        Jira refused the credentials, has no such issue, failed or did not answer
    └── SignatureError      a webhook whose X-Hub-Signature is missing, malformed or wrong

A webhook is verified on its raw body before anything else (``verify_jira_signature``), then
``parse_jira_webhook`` decides whether it starts a run: it returns a ``JiraTrigger`` or the reason it
is ignored, in words. ``JiraClient`` is the REST client (basic auth with an API token); reads retry a
429 or 5xx a few times as Jira asks (Retry-After), while a transition or a comment is one attempt
per call, because they are deliveries that ``deliveries.deliverer`` retries. A comment carries an entity
property naming its delivery, so a retry after a lost answer finds it instead of commenting twice.
``JiraTracker`` is the ``Tracker`` the workflow uses to move and comment on the issue. An error names
the request, the HTTP status and Jira's words (or a quote of a proxy's error page); the API token never
appears in a message or a log line.
"""

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
from tenacity import RetryCallState, retry_if_result

from config import JiraSettings
from documents.facts import Ticket
from integrations.adf import NO_LINKS, text_to_adf
from integrations.base import IntegrationError, excerpt, retryable_status, unreachable
from integrations.jira_webhook import field_name, folded, ticket_from_issue
from retries import Backoff, retry_after_s

logger = logging.getLogger(__name__)

ISSUE_FIELDS = "summary,description,priority,labels,components,reporter,issuetype,project,status"
MAX_RETRY_AFTER_S = 30.0
READ_BACKOFF = Backoff(first_s=1.0, max_s=MAX_RETRY_AFTER_S, jitter=0, retry_after_max_s=MAX_RETRY_AFTER_S)
"""Reads wait 1 s, 2 s, 4 s..., or what Retry-After says, at most 30 s: the few reads of one run, in
turn, need no jitter to spread them out."""
TIMEOUT_S = 15.0
COMMENT_PROPERTY = "nightshift"
"""Entity property on each comment Nightshift makes: ``{"delivery": <marker>}``."""
RECENT_COMMENTS = 50
"""How many of an issue's newest comments a retry looks through for the one an earlier attempt made."""

_ISSUE_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*-[0-9]+$")


class JiraClient:
    """Jira Cloud REST API v3 with basic auth (account email + API token)."""

    def __init__(
        self,
        *,
        base_url: str,
        email: str,
        token: str,
        http: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_retries: int = 3,
        timeout_s: float = TIMEOUT_S,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.email = email
        self._auth = httpx.BasicAuth(email, token)
        self._timeout = httpx.Timeout(timeout_s, connect=min(5.0, timeout_s))
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=self._timeout)
        self._sleep = sleep
        self._max_retries = max_retries
        self._account_id: str | None = None

    async def aclose(self) -> None:
        """Close the HTTP client if this client created it."""
        if self._owns_http:
            await self._http.aclose()

    async def myself(self) -> str:
        """The accountId of the token's account (asked once, then remembered)."""
        if self._account_id is None:
            data = await self._json("GET", "/rest/api/3/myself")
            self._account_id = str(data["accountId"])
        return self._account_id

    async def get_issue(self, key: str) -> Ticket:
        data = await self._json(
            "GET", f"/rest/api/3/issue/{_key(key)}", key=key, params={"fields": ISSUE_FIELDS}
        )
        return ticket_from_issue(data, self.base_url)

    async def transition(self, key: str, name: str) -> bool:
        """Apply the transition called ``name`` (or leading to status ``name``); False when it cannot be.

        False, with a log line, when the issue is already in that status or the workflow offers no such
        transition (or Jira refuses it for a required field): the run goes on either way. One attempt:
        its requests are not retried here (the caller's delivery is), and a repeat finds the issue
        already moved.
        """
        path = f"/rest/api/3/issue/{_key(key)}"
        issue = await self._json("GET", path, key=key, params={"fields": "status"}, retries=0)
        status = field_name((issue.get("fields") or {}).get("status")) or ""
        if status.casefold() == name.casefold():
            logger.info("Jira issue %s is already in %r", key, status)
            return False
        listing = await self._json("GET", f"{path}/transitions", key=key, retries=0)
        offered = listing.get("transitions") or []
        chosen = _find_transition(offered, name)
        if chosen is None:
            names = (
                ", ".join(f"{t.get('name')!r} (to {field_name(t.get('to'))!r})" for t in offered) or "none"
            )
            logger.warning(
                "Jira issue %s has no transition %r (by name or target status); %s",
                key,
                name,
                f"it is in {status!r} and offers {names}",
            )
            return False
        if folded(field_name(chosen.get("to"))) == status.casefold():
            logger.info("Jira issue %s is already in %r", key, status)
            return False
        response = await self._request(
            "POST",
            f"{path}/transitions",
            key=key,
            json={"transition": {"id": chosen["id"]}},
            refusals=(400,),
            retries=0,
        )
        if response.status_code == 400:
            logger.warning(
                "Jira refused transition %r on %s: %s", chosen.get("name"), key, _jira_errors(response)
            )
            return False
        return True

    async def comment(
        self,
        key: str,
        text: str,
        *,
        links: Mapping[str, str] = NO_LINKS,
        marker: str | None = None,
        again: bool = False,
    ) -> None:
        """Comment on the issue; the body is ADF with ``links`` (label -> url) as links at the end.

        ``marker`` is stored on the comment as the ``nightshift`` entity property; with ``again`` (an
        earlier attempt may have landed) nothing is posted when the issue already has a comment with it.
        One attempt: not retried here.
        """
        if again and marker and await self._commented_before(key, marker):
            logger.info("Jira issue %s already has the comment %s", key, marker)
            return
        body: dict[str, Any] = {"body": text_to_adf(text, links=links)}
        if marker:
            body["properties"] = [{"key": COMMENT_PROPERTY, "value": {"delivery": marker}}]
        await self._request("POST", f"/rest/api/3/issue/{_key(key)}/comment", key=key, json=body, retries=0)

    async def _commented_before(self, key: str, marker: str) -> bool:
        """Whether one of the issue's newest comments carries ``marker`` (properties come from the bulk
        comment read, which is the one that can expand them)."""
        listing = await self._json(
            "GET",
            f"/rest/api/3/issue/{_key(key)}/comment",
            key=key,
            params={"orderBy": "-created", "maxResults": str(RECENT_COMMENTS)},
            retries=0,
        )
        ids = [int(c["id"]) for c in listing.get("comments") or [] if str(c.get("id", "")).isdigit()]
        if not ids:
            return False
        response = await self._request(
            "POST", "/rest/api/3/comment/list", params={"expand": "properties"}, json={"ids": ids}, retries=0
        )
        for comment in _json_of(response, "POST /rest/api/3/comment/list").get("values") or []:
            for prop in comment.get("properties") or []:
                value = prop.get("value")
                if prop.get("key") == COMMENT_PROPERTY and isinstance(value, Mapping):
                    if value.get("delivery") == marker:
                        return True
        return False

    async def _json(
        self,
        method: str,
        path: str,
        *,
        key: str | None = None,
        params: Mapping[str, str] | None = None,
        retries: int | None = None,
    ) -> dict[str, Any]:
        response = await self._request(method, path, key=key, params=params, retries=retries)
        return _json_of(response, f"{method} {path}")

    async def _request(
        self,
        method: str,
        path: str,
        *,
        key: str | None = None,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        refusals: tuple[int, ...] = (),
        retries: int | None = None,
    ) -> httpx.Response:
        """One call, retried on 429/5xx as Jira asks (at most ``retries`` times, default ``max_retries``);
        a refusal becomes an IntegrationError that says why. Statuses in ``refusals`` are returned to
        the caller instead of raised.
        """
        allowed = self._max_retries if retries is None else retries

        async def send() -> httpx.Response:
            try:
                return await self._http.request(
                    method,
                    self.base_url + path,
                    params=params,
                    json=json,
                    auth=self._auth,
                    headers={"Accept": "application/json"},
                    timeout=self._timeout,
                )
            except httpx.TransportError as exc:
                raise unreachable("Jira", f"{method} {path} at {self.base_url}", exc) from None

        def backing_off(state: RetryCallState) -> None:
            assert state.outcome is not None
            status, delay = state.outcome.result().status_code, state.upcoming_sleep
            logger.info("Jira answered %s to %s %s; retrying in %.1fs", status, method, path, delay)

        retrying = READ_BACKOFF.retrying(
            attempts=allowed + 1,
            retry=retry_if_result(lambda response: retryable_status(response.status_code)),
            sleep=self._sleep,
            before_sleep=backing_off,
        )
        response: httpx.Response = await retrying(send)
        if response.is_success or response.status_code in refusals:
            return response
        raise self._refusal(response, method, path, key, retrying.statistics["attempt_number"] - 1)

    def _refusal(
        self, response: httpx.Response, method: str, path: str, key: str | None, tries: int
    ) -> IntegrationError:
        status = response.status_code
        detail = _jira_errors(response)
        retryable = retryable_status(status)
        if status in (401, 403):
            text = (
                f"Jira refused the credentials for {self.email}: HTTP {status} {detail} (check JIRA_EMAIL, "
                f"JIRA_API_TOKEN and that the account may use {key or 'this API'})"
            )
        elif status == 404 and key:
            text = f"Jira has no issue {key} at {self.base_url}, or {self.email} may not see it: {detail}"
        elif retryable and tries:
            text = f"Jira kept answering HTTP {status} to {method} {path} after {tries} retries: {detail}"
        else:
            text = f"Jira answered HTTP {status} to {method} {path}: {detail}"
        return IntegrationError(
            text,
            service="Jira",
            status=status,
            retryable=retryable,
            retry_after_s=retry_after_s(response.headers),
        )


def _json_of(response: httpx.Response, request: str) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        raise IntegrationError(
            f"Jira answered {request} with something that is not JSON: {excerpt(response.text)}",
            service="Jira",
            status=response.status_code,
        ) from None
    if not isinstance(data, dict):
        raise IntegrationError(f"Jira answered {request} with unexpected JSON", service="Jira")
    return data


def _find_transition(offered: list[Any], name: str) -> Mapping[str, Any] | None:
    """The transition called ``name``, else the one leading to status ``name`` (case-insensitive)."""
    wanted = name.casefold()
    transitions = [t for t in offered if isinstance(t, Mapping)]
    return next((t for t in transitions if folded(t.get("name")) == wanted), None) or next(
        (t for t in transitions if folded(field_name(t.get("to"))) == wanted), None
    )


def _key(key: str) -> str:
    """The issue key, checked: it goes into a URL path."""
    if not _ISSUE_KEY.match(key):
        raise IntegrationError(f"{key!r} is not a Jira issue key (like PROJ-123)")
    return key


def _jira_errors(response: httpx.Response) -> str:
    """Jira's own words (``errorMessages`` and ``errors``), else a quote of the body (a proxy's page)."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, Mapping):
        messages = [str(m) for m in data.get("errorMessages") or []]
        errors = data.get("errors")
        if isinstance(errors, Mapping):
            messages += [f"{field}: {message}" for field, message in errors.items()]
        if messages:
            return "; ".join(messages)
    return excerpt(response.text)


class JiraTracker:
    """The workflow's Tracker on Jira: reads, moves and comments on issues that came from this Jira site.

    The workflow names the canonical statuses ``In Progress`` and ``In Review``; they are mapped to
    ``[jira] start_transition`` and ``review_transition`` (a transition name or a target status name).
    """

    name = "jira"

    def __init__(self, client: JiraClient, settings: JiraSettings) -> None:
        self._client = client
        self._names = {
            "in progress": settings.start_transition,
            "in review": settings.review_transition,
        }

    def _issue_key(self, ticket: Ticket) -> str | None:
        """The issue behind a ticket from this Jira site (by source, or by a link to ``/browse/KEY``)."""
        if ticket.source == "jira":
            return ticket.key
        browse = f"{self._client.base_url}/browse/"
        if ticket.url and ticket.url.startswith(browse):
            key = ticket.url.removeprefix(browse).split("?")[0].strip("/")
            return key if _ISSUE_KEY.match(key) else None
        return None

    async def refresh(self, ticket: Ticket) -> Ticket:
        """The issue as Jira has it now; notes sent with a bare key (``/oncall PROJ-123 notes``) are kept."""
        key = self._issue_key(ticket)
        if key is None:
            return ticket
        fresh = await self._client.get_issue(key)
        description = fresh.description
        notes = ticket.description.strip().removeprefix(ticket.key).strip() if ticket.url is None else ""
        if notes:
            description = (
                f"{description}\n\nNotes from {ticket.reporter or 'the requester'}:\n{notes}".strip()
            )
        return fresh.model_copy(
            update={
                "description": description,
                "ci_excerpt": ticket.ci_excerpt,
                "ci_run_id": ticket.ci_run_id,
            }
        )

    async def transition(self, ticket: Ticket, status_name: str, *, run_id: str) -> None:
        key = self._issue_key(ticket)
        if key is not None:
            await self._client.transition(key, self._names.get(status_name.casefold(), status_name))

    async def comment(
        self, ticket: Ticket, text: str, *, run_id: str, links: dict[str, str], marker: str, again: bool
    ) -> None:
        key = self._issue_key(ticket)
        if key is not None:
            await self._client.comment(key, text, links=links, marker=marker, again=again)
