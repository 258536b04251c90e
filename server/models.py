"""The HTTP API's bodies: what the routes read and what they answer, as pydantic models.

The routers (``server.routers``) declare them as their request bodies, form models and answers, so
FastAPI parses the requests with them and ``/openapi.json`` (and ``/docs``) describes the API as served;
``server.openapi`` finishes that document for the running configuration, and
``tests/test_api_contract.py`` fuzzes the running server against it with schemathesis.

Every error answer is ``ApiErrorBody``: ``{"error": "<reason>"}``; a 409 on a decision adds the run's
id, status and pull request (``DecisionConflict``). Webhook payloads are described as Slack, Jira and
GitHub send them, but only as far as the server reads them: unknown fields are allowed and ignored
(Jira's and GitHub's are kept and handed on to their parsers).

Pure pydantic: nothing here imports the web framework.
"""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

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
    """A decision form of a run's web page. Authorised by ``sig`` (the run's signed link), ``token``
    (the API token) or ``Authorization: Bearer``; other fields are ignored."""

    sig: str | None = Field(default=None, description="The signature of the run's signed link.")
    token: str | None = Field(default=None, description="NIGHTSHIFT_API_TOKEN.")


class ApproveForm(DecisionForm):
    """The Approve form, and the Ship revision N form (which names the revision)."""

    ship_revision: (
        Annotated[
            int,
            Field(
                ge=1,
                le=9999,
                description="Ship this earlier revision as it was briefed, instead of the latest.",
            ),
        ]
        | SkipJsonSchema[None]
    ) = None
    """Documented as an integer that may be left out: a form field cannot be null."""


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
    status: RunStatus = Field(
        description="queued, running, verifying, awaiting_decision, revising (also during a review round "
        "on the pull request), approving; then shipped (the pull request is open), merged or closed (the "
        "pull request was merged, or closed unmerged), cancelled, expired or failed."
    )
    key: str
    title: str
    source: TicketSource
    revision: int
    verdict: Verdict | None
    shipped_revision: int | None = Field(
        default=None, description="The revision the pull request ships (an earlier one when chosen)."
    )
    shipped_verdict: Verdict | None = Field(
        default=None, description="The verdict of what shipped, as it was briefed; null until shipped."
    )
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


class SocketModeHealth(BaseModel):
    """Slack's Socket Mode connection of the worker that answers (with ``SLACK_APP_TOKEN``)."""

    state: Literal["connected", "connecting"] = Field(
        description="connected: Slack said hello on the live connection; connecting: not (yet, or again)."
    )
    connected_since: datetime | None = None
    reconnects: int = Field(description="How often it connected again since the server started.")
    last_error: str | None = Field(default=None, description="Why Slack would not give it a connection.")


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
    socket_mode: SocketModeHealth | None = Field(
        default=None, description="Slack only, with SLACK_APP_TOKEN."
    )


class SandboxHealth(BaseModel):
    """Where repository and agent code runs."""

    sandboxed: bool = Field(description='False only with `[safety] sandbox = "none"`.')
    description: str = Field(description="`bubblewrap 0.11.0 (...)`, or the word unsandboxed and why.")


class Health(BaseModel):
    """``GET /health``. More fields may appear; clients ignore what they do not know."""

    model_config = ConfigDict(extra="allow")

    status: str
    model: str = Field(description="The model and where it is served.")
    integrations: dict[str, IntegrationHealth] = Field(
        description="slack, github, jira, sentry and pagerduty."
    )
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

    model_config = ConfigDict(extra="allow")

    webhookEvent: str | None = Field(default=None, description="jira:issue_created or jira:issue_updated.")
    issue: dict[str, Any] | None = None
    user: dict[str, Any] | None = None
    changelog: dict[str, Any] | None = None


class GitHubEvent(BaseModel):
    """A GitHub webhook event (any JSON object); the event's name is the X-GitHub-Event header."""

    model_config = ConfigDict(extra="allow")

    action: str | None = None
    workflow_run: dict[str, Any] | None = None
    repository: dict[str, Any] | None = None


class SentryEvent(BaseModel):
    """A Sentry integration webhook (any JSON object); what it is about is the Sentry-Hook-Resource
    header (event_alert and issue are read)."""

    model_config = ConfigDict(extra="allow")

    action: str | None = Field(default=None, description="event_alert: triggered; issue: created, ...")
    data: dict[str, Any] | None = None
    installation: dict[str, Any] | None = None


class PagerDutyEvent(BaseModel):
    """A PagerDuty V3 webhook: one event (incident.triggered is read)."""

    model_config = ConfigDict(extra="allow")

    event: dict[str, Any]


class WebhookRun(BaseModel):
    """A run started for the event (202), or the run an earlier delivery started (200)."""

    run_id: str
    duplicate: bool


class WebhookIgnored(BaseModel):
    """An event that starts no run, and why; ``run_id`` names the run already on the issue."""

    ignored: str
    run_id: str | None = None


class ReviewAnswer(BaseModel):
    """What Nightshift made of a reviewer's words or of its pull request's end (202, or 200 for a
    delivery seen before)."""

    answer: str
    duplicate: bool = False


class Pong(BaseModel):
    """GitHub's ping."""

    ok: Literal["pong"]
