"""Slack, GitHub, Jira and the HTTP server: each integration is live when its credentials are set.

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
        return (
            [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value
        )


class GitHubSettings(Section):
    repo: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    """``owner/name`` of the repository (env ``GITHUB_REPO``)."""
    api_url: str = "https://api.github.com"
    """REST API base URL; GitHub Enterprise: ``https://HOST/api/v3`` (env ``GITHUB_API_URL``)."""
    remote: str = "origin"
    """Git remote of the local checkout that fix branches are pushed to."""
    log_excerpt_chars: Annotated[int, Field(gt=0)] = 6000
    """How much of the failing jobs' logs a CI-triggered run gets."""


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
