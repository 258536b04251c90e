"""The OpenAPI document: the error answers the routes declare, and the document finished for the
configuration the server runs with.

FastAPI builds the document from the routes: their request models, form models, header and path
parameters, answers (``response_model``, ``responses``) and the bearer scheme. What it cannot know is
what this server enforces, which ``configure_document`` adds when the document is first asked for.
"""

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from config import Settings, integration_modes
from server.models import ApiErrorBody, DecisionConflict, RunEvent, WebhookIgnored, WebhookRun

OPERATOR, WEBHOOKS, PAGES = "operator API", "webhooks", "web pages"
TAGS = [
    {"name": OPERATOR, "description": "Runs and decisions. Changes need `Authorization: Bearer <token>`."},
    {
        "name": WEBHOOKS,
        "description": "Called by Slack, Jira, GitHub, Sentry and PagerDuty; each checks its signature.",
    },
    {"name": PAGES, "description": "HTML for people; their forms post url-encoded fields."},
]
REF = "#/components/schemas/{model}"
JSON = "application/json"

ERRORS: dict[int, str] = {
    400: "The body cannot be parsed (malformed JSON or form).",
    401: "No API token or a wrong one (with none configured: a request from another machine).",
    404: "No such run (or nothing to show yet).",
    409: "The run does not await a decision.",
    413: "The body is larger than server.max_body_bytes (or a new run's description longer than "
    "server.max_description_chars).",
    415: "Another content type than the one documented.",
    422: "A field is missing, unknown or invalid (the reason names it).",
    429: "server.max_queued_runs runs are already waiting: try again after Retry-After seconds.",
}
WEBHOOK_ERRORS: dict[int, str] = {
    **ERRORS,
    400: "The body cannot be parsed, or is not a payload of this kind (the reason says which).",
    401: "The signature is missing or wrong, or older than 5 minutes (Slack: or replayed).",
    404: "The integration is not configured (the reason names the variables to set).",
}
ERROR_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "Bearer", "required": True, "schema": {"type": "string"}}},
    429: {
        "Retry-After": {"description": "Seconds to wait.", "required": True, "schema": {"type": "integer"}}
    },
}
SIGNATURE_HEADERS = frozenset(
    {
        "X-Slack-Signature",
        "X-Slack-Request-Timestamp",
        "X-Hub-Signature",
        "X-Hub-Signature-256",
        "Sentry-Hook-Signature",
        "X-PagerDuty-Signature",
    }
)
"""Headers a webhook needs when its integration checks signatures (see ``configure_document``)."""
EXTRA_MODELS: tuple[type[BaseModel], ...] = (RunEvent,)
"""Models no route declares as a body or an answer: the event stream's items (``event_stream``)."""


def errors(*statuses: int, webhook: bool = False) -> dict[int | str, dict[str, Any]]:
    """The error answers of a route. A 409 says what the run does instead; a 401 challenges for the
    API token, except on a webhook, whose 401 is a failed signature check."""
    texts = WEBHOOK_ERRORS if webhook else ERRORS
    documented: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        documented[status] = {
            "model": DecisionConflict if status == 409 else ApiErrorBody,
            "description": texts[status],
        }
        if status in ERROR_HEADERS and not (webhook and status == 401):
            documented[status]["headers"] = ERROR_HEADERS[status]
    return documented


EVENT_TAKEN: dict[str, Any] = {
    "model": WebhookRun | WebhookIgnored,
    "description": "A run started, or the event starts none (and why).",
}
EVENT_ERRORS = errors(400, 401, 404, 413, 415, 429, webhook=True)
"""Jira's and GitHub's events: JSON that may start a run, so a full queue answers 429 too."""


def event_stream(description: str, model: type[BaseModel]) -> dict[str, Any]:
    """A Server-Sent Events answer whose events carry ``model`` as JSON (OpenAPI 3.2's ``itemSchema``);
    ``model`` must be in ``EXTRA_MODELS``."""
    event = {
        "type": "object",
        "required": ["id", "data"],
        "properties": {
            "id": {"type": "string"},
            "data": {"type": "string", "contentMediaType": JSON, "contentSchema": _ref(model)},
        },
    }
    return {"description": description, "content": {"text/event-stream": {"itemSchema": event}}}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def configure_document(document: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Finish the document FastAPI built for what a server with ``settings`` enforces.

    Without an API token, mutations are accepted from loopback, so the token becomes optional. A
    webhook's signature headers are required only where its integration checks them: Slack and GitHub
    when live, Jira, Sentry and PagerDuty when their webhook secrets are set. The description's length
    limit is the configured one. FastAPI's own validation answer is dropped: the server sends
    ``ApiErrorBody`` for every error, and each route lists the ones it gives.
    """
    modes = integration_modes(settings)
    signed = {
        "/webhook/slack/command": modes["slack"] == "live",
        "/webhook/slack/actions": modes["slack"] == "live",
        "/webhook/github": modes["github"] == "live",
        "/webhook/jira": bool(settings.secrets.get("JIRA_WEBHOOK_SECRET")),
        "/webhook/sentry": bool(settings.secrets.get("SENTRY_CLIENT_SECRET")),
        "/webhook/pagerduty": bool(settings.secrets.get("PAGERDUTY_WEBHOOK_SECRETS")),
    }
    token_configured = bool(settings.secrets.get("NIGHTSHIFT_API_TOKEN"))
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    _, extra = models_json_schema([(model, "serialization") for model in EXTRA_MODELS], ref_template=REF)
    schemas.update(extra.get("$defs", {}))
    schemas["NewRun"]["properties"]["description"]["maxLength"] = settings.server.max_description_chars
    fastapi_422 = {"$ref": REF.format(model="HTTPValidationError")}
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            answers = operation.get("responses", {})
            if answers.get("422", {}).get("content", {}).get(JSON, {}).get("schema") == fastapi_422:
                del answers["422"]
            security = operation.get("security")
            if not token_configured and security and {} not in security:
                operation["security"] = [*security, {}]
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "header" and parameter["name"] in SIGNATURE_HEADERS:
                    parameter["required"] = signed.get(path, False)
    return document
