"""The HTTP API's bodies as the server reads and sends them, and the OpenAPI pieces built from them.

server.app declares every route's request body, answers and headers with the helpers at the end of this
module, so ``/openapi.json`` (and ``/docs``) describes the API as served; ``tests/test_api_contract.py``
fuzzes the running server against that document with schemathesis. ``server.service`` parses the
operator API's bodies with these models and builds its run and decision answers from them, so for
those a change to the model is a change to the server; the fuzzer holds the other answers to theirs.

Every error answer is ``ApiErrorBody``: ``{"error": "<reason>"}``; a 409 on a decision adds the run's
id, status and pull request (``DecisionConflict``). Webhook payloads are described as Slack, Jira and
GitHub send them, but only as far as the server reads them: unknown fields are allowed and ignored.

Pure pydantic and dicts: nothing here imports the web framework.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from config import Settings, integration_modes
from documents.facts import (
    AgentFacts,
    AgentName,
    DecisionKind,
    DeliveryFacts,
    RunFacts,
    RunStatus,
    TicketSource,
    Verdict,
)

KEY_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*-[A-Za-z0-9]+$"
FEEDBACK_PATTERN = r"\S"
"""Feedback must say something: at least one character that is not white space."""


# -- errors -----------------------------------------------------------------------------------------


class ApiErrorBody(BaseModel):
    """Every error answer: the reason, in words that say what to change."""

    error: str


class DecisionConflict(ApiErrorBody):
    """A decision on a run that does not await one; says what the run is doing instead."""

    run_id: str
    status: RunStatus
    pr_url: str | None


# -- operator API: requests -------------------------------------------------------------------------


class NewRun(BaseModel):
    """``POST /runs``: an incident to fix."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=300)
    description: str = Field(
        default="",
        description="What is broken; longer than server.max_description_chars: 413.",
    )
    key: str | None = Field(
        default=None, pattern=KEY_PATTERN, description="Tracker key such as PROJ-123 (default: INC-<n>)."
    )
    priority: str | None = Field(default=None, max_length=40)


class Feedback(BaseModel):
    """``POST /runs/{run_id}/request-changes``: what the code agent should change."""

    model_config = ConfigDict(extra="forbid")

    feedback: str = Field(min_length=1, max_length=10_000, pattern=FEEDBACK_PATTERN)


class DecisionForm(BaseModel):
    """The Approve form of a run's web page. Authorised by ``sig`` (the run's signed link), ``token``
    (the API token) or ``Authorization: Bearer``; other fields are ignored."""

    sig: str | None = Field(default=None, description="The signature of the run's signed link.")
    token: str | None = Field(default=None, description="NIGHTSHIFT_API_TOKEN.")
    feedback: str | None = None


class ChangesForm(DecisionForm):
    """The Request changes form of a run's web page."""

    feedback: str = Field(pattern=FEEDBACK_PATTERN, description="What should change.")


# -- operator API: answers --------------------------------------------------------------------------


class RunAccepted(BaseModel):
    """202 to ``POST /runs``: the run is recorded and queued."""

    run_id: str
    status: RunStatus
    url: str | None = Field(description="The run's web page (a signed link: whoever holds it may decide).")


class Decided(BaseModel):
    run_id: str
    status: RunStatus
    pr_url: str | None


class DecisionAccepted(Decided):
    """202: the decision was sent to the run."""

    decision: DecisionKind


class AlreadyApproved(Decided):
    """200: the run was approved before; ``pr_url`` is its pull request once it is open."""

    detail: str


class RunSummary(BaseModel):
    """One run in ``GET /runs``."""

    id: str
    status: RunStatus
    key: str
    title: str
    source: TicketSource
    revision: int
    verdict: Verdict | None
    pr_url: str | None
    cost_usd: float
    created_at: datetime | None


class RunList(BaseModel):
    """``GET /runs``: the latest 100 runs, newest first."""

    runs: list[RunSummary]


class AgentDetail(AgentFacts):
    tokens: int = Field(description="Input and output tokens together.")


class DeliveryDetail(DeliveryFacts):
    summary: str = Field(
        description="The delivery in one line, e.g. 'Slack: briefing message not delivered yet — HTTP 503 "
        "since 20:14:03 UTC, next try 20:16:10 UTC (4 attempts so far)'."
    )


class RunDetail(RunFacts):
    """``GET /runs/{run_id}``: everything about a run (``id`` repeats ``run_id``, ``cost`` ``cost_usd``)."""

    id: str
    agents: dict[AgentName, AgentDetail] = Field(  # type: ignore[assignment]
        description="triage, code, test and pr, each always present."
    )
    cost: float
    deliveries: list[DeliveryDetail] = Field(
        description="What the run sends to Slack, GitHub and Jira, in the order recorded, and how it stands."
    )


class RunEvent(BaseModel):
    """One event of a run, as the ``data`` of a Server-Sent Event; each kind adds fields of its own."""

    model_config = ConfigDict(extra="allow")

    id: int
    run_id: str
    ts: float = Field(description="Unix seconds.")
    kind: str = Field(description="run_started, turn_started, tool_started, verified, briefing, ...")
    agent: AgentName | None


class IntegrationHealth(BaseModel):
    """One integration in ``GET /health``; ``state`` and what follows only when it is live."""

    mode: Literal["live", "local"]
    webhook: str = Field(description="'on', or 'off (...)' saying why its inbound webhook is off.")
    state: Literal["ok", "degraded"] | None = Field(
        default=None, description="degraded: its latest delivery failed."
    )
    pending: int | None = Field(default=None, description="Its deliveries waiting to be tried again.")
    last_error: str | None = None
    last_error_at: datetime | None = None


class SandboxHealth(BaseModel):
    """Where repository and agent code runs."""

    sandboxed: bool = Field(description='False only with `[safety] sandbox = "none"`.')
    description: str = Field(description="`bubblewrap 0.11.0 (...)`, or the word unsandboxed and why.")


class Health(BaseModel):
    """``GET /health``. More fields may appear; clients ignore what they do not know."""

    model_config = ConfigDict(extra="allow")

    status: str
    model: str = Field(description="The model and where it is served.")
    integrations: dict[str, IntegrationHealth] = Field(description="slack, github and jira.")
    sandbox: SandboxHealth
    repo: str
    public_url: str


# -- webhooks ---------------------------------------------------------------------------------------


class SlackCommand(BaseModel):
    """A slash command as Slack posts it (form fields); Slack sends more, which is ignored."""

    text: str = Field(default="", description="`<incident>`, `PROJ-123 [notes]`, `status` or `help`.")
    user_id: str
    user_name: str | None = None
    channel_id: str
    response_url: str
    trigger_id: str


class SlackInteraction(BaseModel):
    """A button click or modal submission as Slack posts it."""

    payload: str = Field(description="JSON: a block_actions or view_submission payload.")


class SlackMessage(BaseModel):
    """The answer to a slash command: a message only its sender sees."""

    response_type: Literal["ephemeral"]
    text: str


class SlackModalErrors(BaseModel):
    """The answer to a modal submission that cannot be taken: Slack shows the error under the field."""

    response_action: Literal["errors"]
    errors: dict[str, str]


class JiraEvent(BaseModel):
    """A Jira webhook event (any JSON object; the server reads these fields and ignores the rest)."""

    webhookEvent: str | None = Field(default=None, description="jira:issue_created or jira:issue_updated.")
    issue: dict[str, Any] | None = None
    user: dict[str, Any] | None = None
    changelog: dict[str, Any] | None = None


class GitHubEvent(BaseModel):
    """A GitHub webhook event (any JSON object); the event's name is the X-GitHub-Event header."""

    action: str | None = None
    workflow_run: dict[str, Any] | None = None
    repository: dict[str, Any] | None = None


class WebhookRun(BaseModel):
    """A run started for the event (202), or the run an earlier delivery started (200)."""

    run_id: str
    duplicate: bool


class WebhookIgnored(BaseModel):
    """An event that starts no run, and why; ``run_id`` names the run already on the issue."""

    ignored: str
    run_id: str | None = None


class Pong(BaseModel):
    """GitHub's ping."""

    ok: Literal["pong"]


# -- OpenAPI pieces ---------------------------------------------------------------------------------

REF = "#/components/schemas/{model}"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
BEARER = "bearerAuth"

REQUEST_MODELS: tuple[type[BaseModel], ...] = (
    NewRun,
    Feedback,
    DecisionForm,
    ChangesForm,
    SlackCommand,
    SlackInteraction,
    JiraEvent,
    GitHubEvent,
)
RESPONSE_MODELS: tuple[type[BaseModel], ...] = (
    ApiErrorBody,
    DecisionConflict,
    RunAccepted,
    DecisionAccepted,
    AlreadyApproved,
    RunList,
    RunDetail,
    RunEvent,
    Health,
    SlackMessage,
    SlackModalErrors,
    WebhookRun,
    WebhookIgnored,
    Pong,
)

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
    {"X-Slack-Signature", "X-Slack-Request-Timestamp", "X-Hub-Signature", "X-Hub-Signature-256"}
)
"""Headers a webhook needs when its integration checks signatures (see ``configure_document``)."""


def component_schemas() -> dict[str, Any]:
    """The JSON Schemas of every request and response model (and what they use), by model name."""
    pairs = [(model, "validation") for model in REQUEST_MODELS]
    pairs += [(model, "serialization") for model in RESPONSE_MODELS]
    _, schemas = models_json_schema(pairs, ref_template=REF)  # type: ignore[arg-type]
    return dict(schemas.get("$defs", {}))


def ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def body(model: type[BaseModel], media_type: str = JSON) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads a ``model`` body itself (server.app passes raw bytes on)."""
    return {"requestBody": {"required": True, "content": {media_type: {"schema": ref(model)}}}}


def answer(
    description: str,
    *models: type[BaseModel],
    media_type: str = JSON,
) -> dict[str, Any]:
    """One documented answer: one of ``models`` as ``media_type`` (a string when there is no model)."""
    schemas = [ref(model) for model in models]
    schema = (schemas[0] if len(schemas) == 1 else {"anyOf": schemas}) if schemas else {"type": "string"}
    return {"description": description, "content": {media_type: {"schema": schema}}}


def event_stream(description: str, model: type[BaseModel]) -> dict[str, Any]:
    """A Server-Sent Events answer whose events carry ``model`` as JSON (OpenAPI 3.2's ``itemSchema``)."""
    event = {
        "type": "object",
        "required": ["id", "data"],
        "properties": {
            "id": {"type": "string"},
            "data": {"type": "string", "contentMediaType": JSON, "contentSchema": ref(model)},
        },
    }
    return {"description": description, "content": {"text/event-stream": {"itemSchema": event}}}


def errors(*statuses: int, webhook: bool = False) -> dict[int | str, dict[str, Any]]:
    """The error answers of a route. A 409 says what the run does instead; a 401 challenges for the
    API token, except on a webhook, whose 401 is a failed signature check."""
    texts = WEBHOOK_ERRORS if webhook else ERRORS
    documented: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        documented[status] = answer(texts[status], DecisionConflict if status == 409 else ApiErrorBody)
        if status in ERROR_HEADERS and not (webhook and status == 401):
            documented[status]["headers"] = ERROR_HEADERS[status]
    return documented


def header_parameters(described: Mapping[str, str]) -> dict[str, Any]:
    """``openapi_extra`` declaring request headers by name and description; signature headers start
    required, and ``configure_document`` keeps them so where the server checks them."""
    return {
        "parameters": [
            {
                "name": name,
                "in": "header",
                "required": name in SIGNATURE_HEADERS,
                "description": text,
                "schema": {"type": "string"},
            }
            for name, text in described.items()
        ]
    }


def bearer_auth(*, optional: bool = False) -> dict[str, Any]:
    """``openapi_extra`` for a route that needs the API token (``optional``: or a form field does)."""
    return {"security": [{BEARER: []}, *([{}] if optional else [])]}


def configure_document(document: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Finish the document FastAPI built for what a server with ``settings`` enforces.

    Adds the models' schemas and the bearer scheme. Without an API token, mutations are accepted from
    loopback, so the token becomes optional. A webhook's signature headers are required only where its
    integration checks them: Slack and GitHub when live, Jira when JIRA_WEBHOOK_SECRET is set. The
    description's length limit is the configured one. FastAPI's own validation answer is dropped: the
    server sends ``ApiErrorBody`` for every error, and each route lists the ones it gives.
    """
    modes = integration_modes(settings)
    signed = {
        "/webhook/slack/command": modes["slack"] == "live",
        "/webhook/slack/actions": modes["slack"] == "live",
        "/webhook/github": modes["github"] == "live",
        "/webhook/jira": bool(settings.secrets.get("JIRA_WEBHOOK_SECRET")),
    }
    token_configured = bool(settings.secrets.get("NIGHTSHIFT_API_TOKEN"))
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas.update(component_schemas())
    schemas["NewRun"]["properties"]["description"]["maxLength"] = settings.server.max_description_chars
    components["securitySchemes"] = {
        BEARER: {"type": "http", "scheme": "bearer", "description": "NIGHTSHIFT_API_TOKEN"}
    }
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
