"""PagerDuty: V3 webhook subscriptions in (verified, filtered, turned into a Ticket), the REST API out.

Webhook side (pure functions, called by the HTTP layer on the raw request):

- ``verify_pagerduty_signature`` checks ``X-PagerDuty-Signature: v1=<hex>[,v1=<hex>...]``: PagerDuty
  signs the raw body with HMAC-SHA256 once per secret of the subscription (two while a secret rotates);
  a delivery is accepted when any signature matches any configured secret (``PAGERDUTY_WEBHOOK_SECRETS``,
  comma-separated, so the new secret can be added before PagerDuty switches to it).
- ``parse_pagerduty_webhook`` turns an ``incident.triggered`` event into a ``PagerDutyTrigger``, after
  ``[pagerduty]``'s service and urgency filters, or returns the reason it starts no run.

API side: ``PagerDutyClient`` uses PagerDuty's own Python client (``pagerduty.RestApiV2Client``, which is
synchronous: every call runs in a thread). ``complete`` reads the incident's alerts, whose bodies often
carry the error and its traceback (``frames_in_text`` finds a Python one); ``note`` adds a note to the
incident, one attempt per call (it is a delivery, retried by the outbox), looking first, when an earlier
attempt may have landed, for a note with the same text. Nightshift never acknowledges or resolves an
incident: the client is only ever asked to read alerts and notes and to create notes. Errors::

    IntegrationError        PagerDuty refused the token, has no such incident, failed or did not answer
    └── SignatureError      a webhook whose X-PagerDuty-Signature is missing, malformed or wrong
"""

import asyncio
import hashlib
import hmac
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import pagerduty

from config import PagerDutySettings
from documents.alerts import Alert, StackFrame
from documents.facts import Ticket
from integrations.base import IntegrationError, SignatureError, excerpt, retryable_status
from retries import retry_after_s

T = TypeVar("T")

SIGNATURE_HEADER = "X-PagerDuty-Signature"
TRIGGERED = "incident.triggered"
DETAILS_CHARS = 8_000
"""How much of the incident's alerts' text the ticket keeps."""
MAX_ALERTS = 20
TIMEOUT_S = 15.0
_SIGNATURE = re.compile(r"v1=([0-9a-fA-F]{64})")
_PYTHON_FRAME = re.compile(r'^\s*File "(?P<path>[^"]+)", line (?P<line>\d+), in (?P<function>\S+)\s*$')
_HINTS = {
    400: "with an account-level token, a note needs a From: set PAGERDUTY_FROM to a PagerDuty user's email",
    401: "the token was refused: check PAGERDUTY_API_TOKEN",
    403: "the token may not do this (a read-only token cannot add notes)",
    404: "no such incident, or the token cannot see it",
}


def webhook_secrets(value: str | None) -> list[str]:
    """``PAGERDUTY_WEBHOOK_SECRETS`` as a list: comma-separated, blanks dropped."""
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def verify_pagerduty_signature(secrets: Sequence[str], body: bytes, header: str | None) -> None:
    """Return if a ``v1`` signature in ``header`` is the HMAC-SHA256 of ``body`` with one of ``secrets``;
    else SignatureError saying why."""
    if not secrets:
        raise SignatureError("no PagerDuty webhook secret is configured (PAGERDUTY_WEBHOOK_SECRETS)")
    if not header or not header.strip():
        raise SignatureError(f"the request has no {SIGNATURE_HEADER} header")
    given = [m.group(1).lower() for part in header.split(",") if (m := _SIGNATURE.fullmatch(part.strip()))]
    if not given:
        raise SignatureError(f"the {SIGNATURE_HEADER} header is malformed: expected v1=<64 hex digits>")
    expected = [hmac.new(s.encode(), body, hashlib.sha256).hexdigest() for s in secrets]
    if not any(hmac.compare_digest(e, g) for e in expected for g in given):
        raise SignatureError(
            f"no {SIGNATURE_HEADER} signature matches the body: the subscription's secret is not in "
            "PAGERDUTY_WEBHOOK_SECRETS (after a rotation, add the new one), or the body was altered"
        )


@dataclass(frozen=True)
class PagerDutyTrigger:
    """An ``incident.triggered`` event that starts a run (or finds the one working on the incident)."""

    ticket: Ticket
    incident_id: str
    event_id: str | None


def parse_pagerduty_webhook(
    payload: Mapping[str, Any], settings: PagerDutySettings
) -> PagerDutyTrigger | str:
    """The trigger for an event that should start a run, else the reason it is ignored, in words."""
    event = payload.get("event")
    if not isinstance(event, Mapping):
        return "the payload has no event"
    kind = event.get("event_type")
    if kind != TRIGGERED:
        return f"{kind!r} events do not start runs (only {TRIGGERED})"
    incident = event.get("data")
    if not isinstance(incident, Mapping) or not incident.get("id"):
        return "the incident.triggered event has no incident"
    service = _mapping(incident.get("service"))
    service_names = {str(service.get("id") or "").casefold(), str(service.get("summary") or "").casefold()}
    if settings.services and not service_names & {s.casefold() for s in settings.services}:
        named = service.get("summary") or service.get("id")
        return f"service {named!r} is not in {', '.join(settings.services)}"
    urgency = str(incident.get("urgency") or "")
    if settings.urgencies and urgency not in settings.urgencies:
        return f"urgency {urgency!r} is not in {', '.join(settings.urgencies)}"
    ticket = _ticket(incident, service, urgency)
    event_id = str(event["id"]) if event.get("id") else None
    return PagerDutyTrigger(ticket, str(incident["id"]), event_id)


def _ticket(incident: Mapping[str, Any], service: Mapping[str, Any], urgency: str) -> Ticket:
    incident_id = str(incident["id"])
    number = incident.get("number")
    priority = incident.get("priority")
    priority_name = str(priority.get("summary")) if isinstance(priority, Mapping) else None
    service_name = str(service.get("summary") or service.get("id") or "") or None
    title = " ".join(str(incident.get("title") or "").split())[:300] or f"PagerDuty incident {incident_id}"
    url = str(incident.get("html_url") or "") or None
    words = [f"PagerDuty incident #{number}" if number else f"PagerDuty incident {incident_id}", title]
    facts = {"Service": service_name, "Urgency": urgency, "Priority": priority_name, "Incident": url}
    lines = [": ".join(words), *(f"{name}: {value}" for name, value in facts.items() if value)]
    alert = Alert(
        source="pagerduty",
        subject=incident_id,
        title=title,
        web_url=url,
        tags={
            k: v
            for k, v in {"service": service_name, "urgency": urgency, "priority": priority_name}.items()
            if v
        },
    )
    return Ticket(
        key=f"PD-{number}" if isinstance(number, int) else f"PD-{re.sub(r'[^A-Za-z0-9]', '', incident_id)}",
        title=title,
        description="\n".join(lines),
        priority=priority_name or (urgency or None),
        labels=[f"urgency:{urgency}"] if urgency else [],
        components=[service_name] if service_name else [],
        reporter="PagerDuty",
        source="pagerduty",
        url=url,
        alert=alert,
    )


def frames_in_text(text: str) -> list[StackFrame]:
    """The frames of the last Python traceback in ``text`` (``File "...", line N, in f`` and the line of
    code under it), oldest first; none when there is no traceback."""
    frames: list[StackFrame] = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        match = _PYTHON_FRAME.match(line)
        if match is None:
            continue
        if i and "Traceback (most recent call last)" in lines[i - 1]:
            frames = []  # a later traceback (a chained exception's) replaces the earlier one
        number = int(match["line"])
        code = lines[i + 1] if i + 1 < len(lines) and not _PYTHON_FRAME.match(lines[i + 1]) else ""
        context = [(number, code.strip())] if code.strip() else []
        path = match["path"]
        frames.append(
            StackFrame(
                filename=path, abs_path=path, lineno=number, function=match["function"], context=context
            )
        )
    return frames


def alerts_text(alerts: Sequence[Mapping[str, Any]]) -> str:
    """The incident's alerts as text: each one's summary, then its body's details (a traceback in them
    keeps its lines)."""
    parts = []
    for alert in alerts[:MAX_ALERTS]:
        body = _mapping(alert.get("body"))
        parts.append(f"- {alert.get('summary') or alert.get('id')} ({alert.get('severity')})")
        parts.append(_details(body.get("details")))
    return "\n".join(part for part in parts if part)[:DETAILS_CHARS]


def _details(details: Any) -> str:
    if isinstance(details, Mapping):
        return "\n".join(
            f"{key}: {value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)}"
            for key, value in details.items()
        )
    return details if isinstance(details, str) else json.dumps(details, ensure_ascii=False) if details else ""


class PagerDutyClient:
    """PagerDuty's REST API through its own client: the incident's alerts read, notes added."""

    name = "pagerduty"

    def __init__(
        self,
        *,
        token: str,
        api_url: str = "https://api.pagerduty.com",
        from_email: str | None = None,
        timeout_s: float = TIMEOUT_S,
        verify: Any = True,
    ) -> None:
        try:
            self._client = pagerduty.RestApiV2Client(
                token, default_from=from_email, base_url=api_url.rstrip("/"), verify=verify
            )
        except pagerduty.UrlError as exc:
            raise IntegrationError(f"[pagerduty] api_url {api_url!r}: {exc}", service="PagerDuty") from None
        self._client.timeout = math.ceil(timeout_s)  # whole seconds, as the client declares it
        self._client.max_network_attempts = 0  # one try: reads go on without, deliveries are retried
        self._client.retry = {429: 1}  # the client would retry a rate limit for ever
        self.api_url = api_url

    def close(self) -> None:
        self._client.close()

    async def complete(self, alert: Alert) -> Alert:
        """``alert`` with the incident's alerts' text and, when they carry a Python traceback, its frames."""
        path = f"/incidents/{_id(alert.subject)}/alerts"
        alerts = await self._call(f"GET {path}", lambda: self._client.list_all(path))
        text = alerts_text([a for a in alerts if isinstance(a, Mapping)])
        frames = frames_in_text(text)
        gaps = [] if frames else ["the incident's alerts carry no stack trace"]
        return alert.model_copy(update={"details": text, "frames": frames, "gaps": gaps})

    async def note(self, ticket: Ticket, text: str, *, run_id: str, again: bool) -> None:
        """Add ``text`` as a note on the ticket's incident; with ``again``, nothing when a note with the
        same text is there already (an earlier attempt landed but its answer was lost)."""
        if ticket.alert is None or ticket.alert.source != "pagerduty":
            return
        path = f"/incidents/{_id(ticket.alert.subject)}/notes"
        if again:
            notes = await self._call(f"GET {path}", lambda: self._client.rget(path))
            if any(isinstance(n, Mapping) and n.get("content") == text for n in notes or []):
                return
        await self._call(f"POST {path}", lambda: self._client.rpost(path, json={"note": {"content": text}}))

    async def _call(self, doing: str, call: Callable[[], T]) -> T:
        try:
            return await asyncio.to_thread(call)
        except pagerduty.Error as exc:
            raise _error(doing, exc) from None


def _error(doing: str, exc: pagerduty.Error) -> IntegrationError:
    response = exc.response
    if response is None:
        return IntegrationError(
            f"PagerDuty {doing}: no answer ({excerpt(str(exc))})", service="PagerDuty", retryable=True
        )
    status = response.status_code
    hint = f" ({_HINTS[status]})" if status in _HINTS else ""
    return IntegrationError(
        f"PagerDuty {doing}: HTTP {status}: {_words(response)}{hint}",
        service="PagerDuty",
        status=status,
        retryable=retryable_status(status),
        retry_after_s=retry_after_s(response.headers),
    )


def _words(response: Any) -> str:
    """PagerDuty's own words (``error.message`` and ``error.errors``), else a quote of the body."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, Mapping):
        words = [str(error.get("message") or ""), *(str(e) for e in error.get("errors") or [])]
        if any(words):
            return "; ".join(w for w in words if w)
    return excerpt(response.text)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _id(value: str) -> str:
    """An incident id, checked: it goes into a URL path."""
    if not re.fullmatch(r"[A-Za-z0-9]+", value):
        raise IntegrationError(f"{value!r} is not a PagerDuty incident id", service="PagerDuty")
    return value
