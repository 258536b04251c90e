"""Slack, GitHub, Jira, Sentry, PagerDuty and the HTTP server: each integration is live when its
credentials are set.

Credentials come from the environment only (``config.settings.SECRET_ENV``). ``integration_modes``
says which integrations are live and refuses a half-configured one, naming what is missing.
"""

from typing import Annotated, Literal

from pydantic import Field, field_validator

from config.base import Section


class SlackSettings(Section):
    channel: str | None = None
    """Channel for briefings and follow-ups (env ``SLACK_CHANNEL``)."""
    api_url: str = "https://slack.com/api/"
    """Slack Web API base URL (env ``SLACK_API_URL``)."""
    approvers: list[str] = Field(default_factory=list)
    """Slack user ids allowed to decide (env ``SLACK_APPROVERS``, comma-separated); empty: anyone."""

    @field_validator("approvers", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return _comma_list(value)


def _comma_list(value: object) -> object:
    """A comma-separated string (from the environment) as a list; anything else as it is."""
    return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value


class GitHubSettings(Section):
    repo: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    """``owner/name`` of the repository (env ``GITHUB_REPO``)."""
    api_url: str = "https://api.github.com"
    """REST API base URL; GitHub Enterprise: ``https://HOST/api/v3`` (env ``GITHUB_API_URL``)."""
    remote: str = "origin"
    """Git remote of the local checkout that fix branches are pushed to."""
    log_excerpt_chars: Annotated[int, Field(gt=0)] = 6000
    """How much of the failing jobs' logs a CI-triggered run gets."""
    reviewers: list[str] = Field(default_factory=list)
    """GitHub logins whose review comments steer Nightshift on its pull requests (env
    ``GITHUB_REVIEWERS``, comma-separated); empty: any owner, member or collaborator."""
    handle: str = Field(default="nightshift", pattern=r"^[A-Za-z0-9-]+(\[bot\])?$")
    """The login Nightshift comments as; ``@<handle>`` (and ``@nightshift``) in a comment asks it to act.
    Comments by this login are its own and never steer it."""

    @field_validator("reviewers", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return _comma_list(value)


class JiraTransitions(Section):
    merged: str = "Done"
    """Transition applied once when the run's pull request is merged (by name)."""


class JiraSettings(Section):
    base_url: str | None = None
    """``https://your-site.atlassian.net`` (env ``JIRA_BASE_URL``)."""
    email: str | None = None
    """Account the API token belongs to (env ``JIRA_EMAIL``)."""
    projects: list[str] = Field(default_factory=list)
    """Project keys whose issues start runs; empty: every project."""
    issue_types: list[str] = Field(default_factory=lambda: ["Bug"])
    """Issue types that start runs; empty: every type."""
    labels: list[str] = Field(default_factory=lambda: ["nightshift"])
    """A created issue needs one of these labels (empty: any); adding one to an issue starts a run too."""
    start_transition: str = "In Progress"
    """Transition applied when a run starts (looked up by name at run time)."""
    review_transition: str = "In Review"
    """Transition applied when the pull request opens."""
    transitions: JiraTransitions = Field(default_factory=JiraTransitions)
    """Transitions applied at the pull request's end (``[jira.transitions]``)."""


class ServerSettings(Section):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8000
    public_url: str | None = None
    """Where people reach this server (links in Slack, PRs and Jira); default ``http://host:port``."""
    max_description_chars: Annotated[int, Field(gt=0)] = 20_000
    """Longer incident descriptions are refused with 413."""
    max_body_bytes: Annotated[int, Field(gt=0)] = 1_000_000
    """Larger request bodies are refused with 413."""
    max_queued_runs: Annotated[int, Field(ge=1)] = 20
    """More queued runs than this: new ones get 429 with Retry-After."""
    log_format: Literal["text", "json"] = "text"
    """Every log line of the process (uvicorn's, DBOS's, ours) as text, or as one JSON object."""
    public_metrics: bool = False
    """``GET /metrics`` without the API token (for a Prometheus that cannot send one)."""
    otlp_traces_endpoint: str | None = Field(default=None, pattern=r"^https?://")
    """OpenTelemetry collector (OTLP over HTTP, ``.../v1/traces``): DBOS's traces of every run go there."""


Mode = Literal["live", "local"]


class SentrySettings(Section):
    """Which Sentry alerts start runs, and how the event's paths map onto the repository."""

    organization: str | None = None
    """The organization's slug, for Sentry's API (env ``SENTRY_ORG``); needed with SENTRY_AUTH_TOKEN."""
    api_url: str = "https://sentry.io"
    """Sentry's address (env ``SENTRY_API_URL``): ``https://de.sentry.io`` for the EU region, your own
    host when self-hosted."""
    projects: list[str] = Field(default_factory=list)
    """Project slugs (or ids) whose alerts start runs; empty: every project."""
    environments: list[str] = Field(default_factory=lambda: ["production"])
    """Environments whose events start runs; empty: every environment."""
    min_level: Literal["debug", "info", "warning", "error", "fatal"] = "error"
    """Events below this level are acknowledged and ignored."""
    path_prefixes: list[str] = Field(default_factory=list)
    """Deploy prefixes to strip from a frame's path before it is looked up in the repository (for
    example ``/srv/app/current/``); site-packages and a path's leading directories are tried anyway."""


class PagerDutySettings(Section):
    """Which PagerDuty incidents start runs, and who Nightshift's notes come from."""

    api_url: str = "https://api.pagerduty.com"
    """REST API address (env ``PAGERDUTY_API_URL``); ``https://api.eu.pagerduty.com`` for the EU region."""
    from_email: str | None = None
    """The ``From`` of Nightshift's notes: a PagerDuty user's email, which an account-level API token
    needs (env ``PAGERDUTY_FROM``)."""
    services: list[str] = Field(default_factory=list)
    """Service ids (or names) whose incidents start runs; empty: every service."""
    urgencies: list[Literal["high", "low"]] = Field(default_factory=list)
    """Urgencies that start runs; empty: both."""
