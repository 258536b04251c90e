"""Sentry: an internal integration's webhooks in (verified, filtered, turned into a Ticket), the latest
event of an issue out of its REST API.

Webhook side (pure functions, called by the HTTP layer on the raw request):

- ``verify_sentry_signature`` checks ``Sentry-Hook-Signature``: the hex HMAC-SHA256 of the raw body,
  keyed with the integration's client secret. Sentry signs no timestamp; a redelivery repeats its
  ``Request-ID``, which the caller deduplicates on.
- ``parse_sentry_webhook`` turns an ``event_alert`` (an alert rule fired; ``data.event`` holds the event
  with its stack) or an ``issue`` with action ``created`` (no stack) into a ``SentryTrigger``, or returns
  the reason it starts no run, after ``[sentry]``'s project, environment and level filters.

API side: ``SentryClient.complete`` fetches an issue's latest event (``GET /api/0/organizations/{org}/
issues/{id}/events/latest/``, with ``SENTRY_AUTH_TOKEN``) for an alert that came without a stack; a 429
or 5xx is retried a few times through the one retry policy (``retries.Backoff``).

Both shapes of an event, the webhook's (the SDK's fields, snake_case) and the REST API's (camelCase,
the exception under ``entries``), become the same ``documents.alerts.Alert`` (``alert_from_event``):
its in-app frames, oldest first, with their captured source lines. Errors::

    IntegrationError        Sentry refused the token, has no such issue, failed or did not answer
    └── SignatureError      a webhook whose Sentry-Hook-Signature is missing, malformed or wrong
"""

import asyncio
import hashlib
import hmac
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import RetryCallState, retry_if_result

from config import SentrySettings
from documents.alerts import LEVELS, Alert, StackFrame
from documents.facts import Ticket
from integrations.base import (
    IntegrationError,
    SignatureError,
    excerpt,
    http_error,
    retryable_status,
    unreachable,
)
from retries import Backoff

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "Sentry-Hook-Signature"
RESOURCE_HEADER = "Sentry-Hook-Resource"
DELIVERY_HEADER = "Request-ID"
RESOURCES = ("event_alert", "issue")
MAX_FRAMES = 30
"""The in-app frames kept, nearest to where it raised."""
CONTEXT_LINES = 5
"""Source lines kept on each side of a frame's line."""
LINE_CHARS = 300
VALUE_CHARS = 2_000
"""An exception message longer than this is cut (it is the attacker's to make long)."""
TIMEOUT_S = 15.0
READ_BACKOFF = Backoff(first_s=1.0, max_s=8.0, retry_after_max_s=30.0)
"""The latest event's read waits 1 s, 2 s... (or what Retry-After says, at most 30 s) between tries: the
run's ingest waits for it."""
_HEX = re.compile(r"[0-9a-fA-F]{64}")
_PROJECT_IN_URL = re.compile(r"/projects/[^/]+/([^/]+)/")
_ISSUE_IN_URL = re.compile(r"/issues/(\d+)/")
_HINTS = {
    401: "the token was refused: check SENTRY_AUTH_TOKEN",
    403: "the token lacks the event:read scope, or may not see this project",
    404: "no such issue in the organization (check SENTRY_ORG)",
}


def verify_sentry_signature(secret: str, body: bytes, header: str | None) -> None:
    """Return if ``header`` is the hex HMAC-SHA256 of ``body`` keyed with ``secret``; else SignatureError."""
    if not secret:
        raise SignatureError("no Sentry client secret is configured (SENTRY_CLIENT_SECRET); cannot verify")
    if not header or not header.strip():
        raise SignatureError(f"the request has no {SIGNATURE_HEADER} header")
    signature = header.strip()
    if not _HEX.fullmatch(signature):
        raise SignatureError(f"the {SIGNATURE_HEADER} header is malformed: expected 64 hex digits")
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.lower()):
        raise SignatureError(
            f"the {SIGNATURE_HEADER} does not match the body: the integration's client secret differs "
            "from SENTRY_CLIENT_SECRET (a rotated secret?), or the body was altered"
        )


@dataclass(frozen=True)
class SentryTrigger:
    """A webhook that starts a run (or adds to the one already working on its issue)."""

    ticket: Ticket
    issue_id: str
    resource: str


def parse_sentry_webhook(
    resource: str, payload: Mapping[str, Any], settings: SentrySettings
) -> SentryTrigger | str:
    """The trigger for a delivery that should start a run, else the reason it is ignored, in words.

    ``resource`` is the ``Sentry-Hook-Resource`` header. An ``event_alert`` is checked against every
    filter; an ``issue`` webhook names no environment, so only its project and level are.
    """
    found = _read_webhook(resource, payload)
    if isinstance(found, str):
        return found
    alert, project, project_id = found
    wanted = {p.casefold() for p in settings.projects}
    if wanted and not wanted & {(project or "").casefold(), project_id or ""}:
        return f"project {project or project_id or '(unknown)'} is not in {', '.join(settings.projects)}"
    environments = {e.casefold() for e in settings.environments}
    if alert.environment and environments and alert.environment.casefold() not in environments:
        return f"environment {alert.environment!r} is not in {', '.join(settings.environments)}"
    level = (alert.level or "error").casefold()
    if level in LEVELS and LEVELS.index(level) < LEVELS.index(settings.min_level):
        return f"level {level!r} is below min_level {settings.min_level!r}"
    return SentryTrigger(_ticket(alert, project), alert.subject, resource)


def _read_webhook(resource: str, payload: Mapping[str, Any]) -> tuple[Alert, str | None, str | None] | str:
    """The alert a webhook carries, with its project's slug and id; or why it carries none."""
    if resource not in RESOURCES:
        return f"{resource or 'a'} webhooks do not start runs (only event_alert, and issue created)"
    data = payload.get("data")
    if not isinstance(data, Mapping):
        return f"the {resource} payload has no data"
    if resource == "issue":
        issue = _mapping(data.get("issue"))
        if payload.get("action") != "created":
            return f"issue {payload.get('action')!r} webhooks do not start runs (only created)"
        if not str(issue.get("id") or "").isdigit():
            return "the issue webhook has no issue id"
        project = _mapping(issue.get("project"))
        return _issue_alert(issue), _text(project.get("slug")), _text(project.get("id"))
    event = data.get("event")
    if not isinstance(event, Mapping):
        return "the event_alert payload has no event"
    issue_id = str(event.get("issue_id") or _match(_ISSUE_IN_URL, event.get("issue_url")) or "")
    if not issue_id.isdigit():
        return "the event_alert's event names no issue"
    project_slug = _match(_PROJECT_IN_URL, event.get("url"))
    return alert_from_event(event, subject=issue_id), project_slug, _text(event.get("project"))


def _ticket(alert: Alert, project: str | None) -> Ticket:
    lines = [f"Sentry {'issue' if not alert.frames else 'alert'}: {alert.title}"]
    facts = {
        "Exception": alert.exception,
        "Culprit": alert.culprit,
        "Release": alert.release,
        "Environment": alert.environment,
        "Event": alert.web_url,
    }
    lines += [f"{name}: {value}" for name, value in facts.items() if value]
    return Ticket(
        key=f"SENTRY-{alert.subject}",
        title=" ".join(alert.title.split())[:300] or f"Sentry issue {alert.subject}",
        description="\n".join(lines),
        labels=[alert.level] if alert.level else [],
        components=[project] if project else [],
        reporter="Sentry",
        source="sentry",
        url=alert.web_url,
        alert=alert,
    )


def _issue_alert(issue: Mapping[str, Any]) -> Alert:
    metadata = _mapping(issue.get("metadata"))
    return Alert(
        source="sentry",
        subject=str(issue["id"]),
        title=_clipped(issue.get("title")) or f"Sentry issue {issue['id']}",
        culprit=_text(issue.get("culprit")),
        level=_text(issue.get("level")),
        exception_type=_text(metadata.get("type")),
        exception_value=_clipped(metadata.get("value")),
        web_url=_text(issue.get("web_url")) or _text(issue.get("permalink")),
    )


def alert_from_event(event: Mapping[str, Any], *, subject: str) -> Alert:
    """An event, in the webhook's shape or the REST API's, as an ``Alert`` about issue ``subject``."""
    exception = _last_exception(event)
    metadata = _mapping(event.get("metadata"))
    tags = _tags(event.get("tags"))
    release = event.get("release")
    if isinstance(release, Mapping):
        release = release.get("version")
    exception_type = _text(exception.get("type")) or _text(metadata.get("type"))
    exception_value = _clipped(exception.get("value")) or _clipped(metadata.get("value"))
    frames = _in_app(_frames_of(exception))
    title = _clipped(event.get("title")) or ": ".join(p for p in (exception_type, exception_value) if p)
    return Alert(
        source="sentry",
        subject=subject,
        title=title or f"Sentry issue {subject}",
        culprit=_text(event.get("culprit")),
        level=_text(event.get("level")) or tags.get("level"),
        exception_type=exception_type,
        exception_value=exception_value,
        frames=frames,
        release=_text(release) or tags.get("release"),
        environment=_text(event.get("environment")) or tags.get("environment"),
        tags=tags,
        event_id=_text(event.get("event_id")) or _text(event.get("eventID")),
        web_url=_text(event.get("web_url")),
        gaps=[] if frames else ["the event carries no stack trace"],
    )


def _last_exception(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """The exception that was raised (the last of a chain), from ``exception`` or ``entries``."""
    holder = _mapping(event.get("exception"))
    if not holder:
        entries = [_mapping(entry) for entry in _list(event.get("entries"))]
        holder = next((_mapping(e.get("data")) for e in entries if e.get("type") == "exception"), {})
    chain = [value for value in _list(holder.get("values")) if isinstance(value, Mapping)]
    return chain[-1] if chain else {}


def _frames_of(exception: Mapping[str, Any]) -> list[tuple[bool | None, StackFrame]]:
    frames = []
    for frame in _list(_mapping(exception.get("stacktrace")).get("frames")):
        if not isinstance(frame, Mapping):
            continue
        absolute = _text(frame.get("abs_path")) or _text(frame.get("absPath"))
        path = _text(frame.get("filename")) or absolute
        if not path:
            continue
        lineno = _number(frame.get("lineno", frame.get("lineNo")))
        in_app = frame.get("in_app", frame.get("inApp"))
        frames.append(
            (
                in_app if isinstance(in_app, bool) else None,
                StackFrame(
                    filename=path[:LINE_CHARS],
                    abs_path=absolute[:LINE_CHARS] if absolute else None,
                    lineno=lineno,
                    function=_text(frame.get("function")),
                    module=_text(frame.get("module")),
                    context=_context(frame, lineno),
                ),
            )
        )
    return frames


def _in_app(frames: list[tuple[bool | None, StackFrame]]) -> list[StackFrame]:
    """The frames marked in-app, nearest ``MAX_FRAMES`` kept; every frame when none is marked."""
    chosen = [frame for in_app, frame in frames if in_app] or [frame for _, frame in frames]
    return chosen[-MAX_FRAMES:]


def _context(frame: Mapping[str, Any], lineno: int | None) -> list[tuple[int, str]]:
    """Numbered source lines around ``lineno``: the API's ``context`` pairs, or the SDK's pre/line/post."""
    pairs: list[tuple[int, str]] = []
    if isinstance(frame.get("context"), list):
        for item in frame["context"]:
            if isinstance(item, Sequence) and len(item) == 2 and _number(item[0]) is not None:
                pairs.append((int(item[0]), str(item[1] or "")))
    elif lineno is not None and frame.get("context_line") is not None:
        pre = [str(line) for line in frame.get("pre_context") or []]
        post = [str(line) for line in frame.get("post_context") or []]
        lines = [*pre, str(frame["context_line"]), *post]
        pairs = [(lineno - len(pre) + i, line) for i, line in enumerate(lines)]
    if lineno is not None:
        pairs = [(n, line) for n, line in pairs if abs(n - lineno) <= CONTEXT_LINES]
    return [(n, line.rstrip()[:LINE_CHARS]) for n, line in pairs]


def _tags(value: Any) -> dict[str, str]:
    """Tags as a dict, from pairs (webhook), ``{key, value}`` objects (API) or a dict (the SDK)."""
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items() if v is not None}
    tags: dict[str, str] = {}
    for item in _list(value):
        if isinstance(item, Mapping) and "key" in item:
            tags[str(item["key"])] = str(item.get("value"))
        elif isinstance(item, Sequence) and not isinstance(item, str) and len(item) == 2:
            tags[str(item[0])] = str(item[1])
    return tags


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _clipped(value: Any) -> str | None:
    text = _text(value)
    return text if text is None or len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"


def _number(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _match(pattern: re.Pattern[str], value: Any) -> str | None:
    found = pattern.search(value) if isinstance(value, str) else None
    return found.group(1) if found else None


class SentryClient:
    """Sentry's REST API, read-only, with an auth token (``event:read``)."""

    name = "sentry"

    def __init__(
        self,
        *,
        token: str,
        organization: str,
        api_url: str = "https://sentry.io",
        timeout_s: float = TIMEOUT_S,
        max_retries: int = 2,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.organization = organization
        self.api_url = api_url.rstrip("/")
        self._token = token
        self._timeout = httpx.Timeout(timeout_s, connect=min(5.0, timeout_s))
        self._max_retries, self._sleep = max_retries, sleep

    async def complete(self, alert: Alert) -> Alert:
        """``alert`` with the stack of its issue's latest event, when it came without one."""
        if alert.frames:
            return alert
        event = await self.latest_event(alert.subject)
        found = alert_from_event(event, subject=alert.subject)
        return found.model_copy(
            update={
                "title": alert.title,
                "culprit": found.culprit or alert.culprit,
                "level": alert.level or found.level,
                "web_url": alert.web_url or found.web_url,
            }
        )

    async def latest_event(self, issue_id: str) -> Mapping[str, Any]:
        """The issue's latest event, as the REST API gives it; IntegrationError saying why not."""
        if not issue_id.isdigit():
            raise IntegrationError(f"{issue_id!r} is not a Sentry issue id", service="Sentry")
        path = f"/api/0/organizations/{self.organization}/issues/{issue_id}/events/latest/"
        doing = f"GET {path}"
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        async with httpx.AsyncClient(timeout=self._timeout) as http:

            async def get() -> httpx.Response:
                try:
                    return await http.get(self.api_url + path, headers=headers)
                except httpx.TransportError as exc:
                    raise unreachable("Sentry", f"{doing} at {self.api_url}", exc) from None

            def backing_off(state: RetryCallState) -> None:
                assert state.outcome is not None
                status, delay = state.outcome.result().status_code, state.upcoming_sleep
                logger.info("Sentry answered %s to %s; retrying in %.1fs", status, doing, delay)

            retrying = READ_BACKOFF.retrying(
                attempts=self._max_retries + 1,
                retry=retry_if_result(lambda response: retryable_status(response.status_code)),
                sleep=self._sleep,
                before_sleep=backing_off,
            )
            response: httpx.Response = await retrying(get)
        if not response.is_success:
            raise http_error(
                "Sentry",
                doing,
                response.status_code,
                response.content,
                headers=response.headers,
                hint=_HINTS.get(response.status_code),
            )
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, Mapping):
            raise IntegrationError(
                f"Sentry answered {doing} with something that is not an event: {excerpt(response.text)}",
                service="Sentry",
                status=response.status_code,
            )
        return data
