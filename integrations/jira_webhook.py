"""Jira's webhooks in: verified on the raw body, filtered, turned into a Ticket.

A webhook is verified before anything else (``verify_jira_signature``: X-Hub-Signature, the HMAC-SHA256
of the body with the webhook's secret), then ``parse_jira_webhook`` decides whether it starts a run: it
returns a ``JiraTrigger`` or the reason it is ignored, in words. ``ticket_from_issue`` turns an issue
(from a webhook or from the REST API) into the run's ticket.
"""

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from config import JiraSettings
from documents.facts import Ticket
from integrations.adf import adf_to_text
from integrations.base import IntegrationError, SignatureError

SIGNATURE_HEADER = "X-Hub-Signature"
DELIVERY_HEADER = "X-Atlassian-Webhook-Identifier"
"""Unique per delivery and unchanged across Jira's retries: what to remember to drop a redelivery."""
ISSUE_EVENTS = ("jira:issue_created", "jira:issue_updated")


def verify_jira_signature(secret: str, body: bytes, header: str | None) -> None:
    """Check ``X-Hub-Signature: sha256=<hex HMAC-SHA256 of the raw body>``; SignatureError says why not.

    Jira signs only the body (no timestamp), so a replay cannot be told from a retry here: the
    service drops a delivery id (``X-Atlassian-Webhook-Identifier``) it has already handled.
    """
    if not secret:
        raise SignatureError("no Jira webhook secret is configured (JIRA_WEBHOOK_SECRET); cannot verify")
    if not header or not header.strip():
        raise SignatureError(
            f"the Jira webhook has no {SIGNATURE_HEADER} header; set a secret on the webhook"
        )
    method, sep, signature = header.strip().partition("=")
    if not sep or not signature:
        raise SignatureError(f"the {SIGNATURE_HEADER} header is malformed: expected 'sha256=<hex>'")
    if method.strip().lower() != "sha256":
        raise SignatureError(f"the {SIGNATURE_HEADER} method {method.strip()!r} is not supported (sha256 is)")
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.strip().lower()):
        raise SignatureError(
            f"the {SIGNATURE_HEADER} does not match the body: the webhook's secret differs from "
            "JIRA_WEBHOOK_SECRET, or the request was altered"
        )


def ticket_from_issue(issue: Mapping[str, Any], base_url: str) -> Ticket:
    """A Ticket from a Jira issue (REST or webhook shape); IntegrationError when the issue is malformed."""
    key = issue.get("key")
    fields = issue.get("fields")
    if not isinstance(key, str) or not isinstance(fields, Mapping):
        raise IntegrationError("the Jira issue has no key or no fields")
    summary = " ".join(str(fields.get("summary") or "").split())
    try:
        return Ticket(
            key=key,
            title=summary[:300] or key,
            description=adf_to_text(fields.get("description")),
            priority=field_name(fields.get("priority")),
            labels=[str(label) for label in fields.get("labels") or []],
            components=[name for c in fields.get("components") or [] if (name := field_name(c))],
            reporter=field_name(fields.get("reporter"), "displayName"),
            source="jira",
            url=f"{base_url.rstrip('/')}/browse/{key}",
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise IntegrationError(f"the Jira issue {key!r} cannot be read as a ticket: {problems}") from None


def field_name(value: Any, attribute: str = "name") -> str | None:
    if isinstance(value, Mapping) and value.get(attribute):
        return str(value[attribute])
    return None


@dataclass(frozen=True)
class JiraTrigger:
    """A webhook that starts a run."""

    key: str
    ticket: Ticket
    event: str
    delivery: str | None
    """The delivery id (header, else derived from the payload) to drop a redelivered webhook."""


def parse_jira_webhook(
    payload: Mapping[str, Any],
    settings: JiraSettings,
    *,
    base_url: str,
    own_account_id: str | None,
    delivery: str | None = None,
) -> JiraTrigger | str:
    """A trigger for a webhook that should start a run, else the reason it is ignored.

    ``delivery`` is the ``X-Atlassian-Webhook-Identifier`` header when the caller has it; without it
    the trigger's delivery is derived from the event, the issue id and the changelog id (or timestamp).
    """
    event = payload.get("webhookEvent")
    if event not in ISSUE_EVENTS:
        return f"ignored: {event!r} events do not start runs (only {' and '.join(ISSUE_EVENTS)})"
    user = payload.get("user")
    if own_account_id and isinstance(user, Mapping) and user.get("accountId") == own_account_id:
        return "ignored: caused by Nightshift's own Jira account"
    issue = payload.get("issue")
    fields = issue.get("fields") if isinstance(issue, Mapping) else None
    if not isinstance(issue, Mapping) or not isinstance(fields, Mapping):
        return f"ignored: the {event} payload has no issue"
    key = issue.get("key", "?")
    project = field_name(fields.get("project"), "key")
    if settings.projects and folded(project) not in {p.casefold() for p in settings.projects}:
        return f"ignored: {key} is in project {project}, not in {', '.join(settings.projects)}"
    issue_type = field_name(fields.get("issuetype"))
    if settings.issue_types and folded(issue_type) not in {t.casefold() for t in settings.issue_types}:
        return f"ignored: {key} is a {issue_type}, not a {' or '.join(settings.issue_types)}"
    wanted = {label.casefold() for label in settings.labels}
    if event == "jira:issue_created":
        if wanted and not wanted & {folded(label) for label in fields.get("labels") or []}:
            return f"ignored: {key} was created without a {' or '.join(settings.labels)} label"
    elif not wanted:
        return f"ignored: {key} was updated; with no [jira] labels set only created issues start runs"
    elif not wanted & _added_labels(payload.get("changelog")):
        return f"ignored: the update to {key} did not add a {' or '.join(settings.labels)} label"
    try:
        ticket = ticket_from_issue(issue, base_url)
    except IntegrationError as exc:
        return f"ignored: {exc}"
    return JiraTrigger(ticket.key, ticket, str(event), delivery or _delivery(payload, str(event), issue))


def folded(value: Any) -> str:
    return str(value).casefold() if value is not None else ""


def _added_labels(changelog: Any) -> set[str]:
    """Labels a changelog adds (Jira gives the before and after lists as space-separated strings)."""
    added: set[str] = set()
    items = changelog.get("items") if isinstance(changelog, Mapping) else None
    for item in items or []:
        if isinstance(item, Mapping) and "labels" in (item.get("field"), item.get("fieldId")):
            before = set(folded(item.get("fromString") or "").split())
            added |= set(folded(item.get("toString") or "").split()) - before
    return added


def _delivery(payload: Mapping[str, Any], event: str, issue: Mapping[str, Any]) -> str | None:
    changelog = payload.get("changelog")
    change = changelog.get("id") if isinstance(changelog, Mapping) else None
    stamp = change or payload.get("timestamp")
    return f"{event}:{issue.get('id') or issue.get('key')}:{stamp}" if stamp is not None else None
