"""The settings model and its loader (defaults < nightshift.toml < environment)."""

import logging
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from config.agents import AgentsSettings
from config.base import Section
from config.context import ContextSettings
from config.environment import EnvironmentSettings
from config.errors import ConfigError
from config.hooks import HookSpec
from config.integrations import (
    GitHubSettings,
    JiraSettings,
    Mode,
    PagerDutySettings,
    SentrySettings,
    ServerSettings,
    SlackSettings,
)
from config.mcp import McpSettings
from config.model import ModelSettings
from config.safety import SafetySettings
from config.tools import ToolsSettings
from config.workflow import WorkflowSettings

logger = logging.getLogger("nightshift.config")

SECRET_ENV = (
    "OPENAI_API_KEY",
    "NIGHTSHIFT_API_TOKEN",
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "GITHUB_TOKEN",
    "GITHUB_WEBHOOK_SECRET",
    "JIRA_API_TOKEN",
    "JIRA_WEBHOOK_SECRET",
    "SENTRY_CLIENT_SECRET",
    "SENTRY_AUTH_TOKEN",
    "PAGERDUTY_WEBHOOK_SECRETS",
    "PAGERDUTY_API_TOKEN",
)
"""Environment variables that hold secrets. They are read only from the environment."""

# Plain settings that the environment may set, and where each lands in the model.
ENV_OVERRIDES: dict[str, tuple[str, ...]] = {
    "SLACK_CHANNEL": ("slack", "channel"),
    "SLACK_API_URL": ("slack", "api_url"),
    "SLACK_APPROVERS": ("slack", "approvers"),
    "GITHUB_REPO": ("github", "repo"),
    "GITHUB_REVIEWERS": ("github", "reviewers"),
    "GITHUB_API_URL": ("github", "api_url"),
    "JIRA_BASE_URL": ("jira", "base_url"),
    "JIRA_EMAIL": ("jira", "email"),
    "SENTRY_ORG": ("sentry", "organization"),
    "SENTRY_API_URL": ("sentry", "api_url"),
    "PAGERDUTY_API_URL": ("pagerduty", "api_url"),
    "PAGERDUTY_FROM": ("pagerduty", "from_email"),
    "OPENAI_BASE_URL": ("model", "base_url"),
    "NIGHTSHIFT_MODEL": ("model", "name"),
    "NIGHTSHIFT_MODEL_SCRIPT": ("model", "script"),
    "NIGHTSHIFT_REPO": ("repo",),
    "NIGHTSHIFT_DATA_DIR": ("data_dir",),
    "NIGHTSHIFT_DATABASE_URL": ("database_url",),
}

_SECRET_WORDS = ("key", "token", "secret", "password")
DATABASE_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg", "sqlite")
"""The databases runs can be kept in: PostgreSQL (psycopg 3, as DBOS uses it) and SQLite."""

MOVED_KEYS: dict[tuple[str, str], tuple[str, str]] = {
    ("tools", "test_command"): ("environment", "test_command"),
    ("safety", "test_patterns"): ("environment", "test_files"),
}
"""Keys that moved, and where to: the old spelling keeps working, with a notice saying where it went."""


class Secrets(BaseModel):
    """Credentials, from the environment only; never printed, never passed to a subprocess."""

    model_config = ConfigDict(frozen=True)

    values: dict[str, SecretStr] = Field(default_factory=dict)

    def get(self, name: str) -> str | None:
        secret = self.values.get(name)
        return secret.get_secret_value() if secret else None

    def all_values(self) -> list[str]:
        """Every configured secret value (for redaction)."""
        return [s.get_secret_value() for s in self.values.values() if s.get_secret_value()]

    def named(self) -> dict[str, str]:
        """Every configured secret by its variable's name (for scans that must say which one they found)."""
        return {name: s.get_secret_value() for name, s in self.values.items() if s.get_secret_value()}


class Settings(Section):
    """Everything Nightshift reads at start-up."""

    model: ModelSettings = Field(default_factory=ModelSettings)
    agents: AgentsSettings = Field(default_factory=AgentsSettings)
    context: ContextSettings = Field(default_factory=ContextSettings)
    tools: ToolsSettings = Field(default_factory=ToolsSettings)
    safety: SafetySettings = Field(default_factory=SafetySettings)
    environment: EnvironmentSettings = Field(default_factory=EnvironmentSettings)
    hooks: list[HookSpec] = Field(default_factory=list)
    mcp: McpSettings = Field(default_factory=McpSettings)
    workflow: WorkflowSettings = Field(default_factory=WorkflowSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    github: GitHubSettings = Field(default_factory=GitHubSettings)
    jira: JiraSettings = Field(default_factory=JiraSettings)
    sentry: SentrySettings = Field(default_factory=SentrySettings)
    pagerduty: PagerDutySettings = Field(default_factory=PagerDutySettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    repo: Path | None = None
    """The local git checkout incidents are fixed in (env ``NIGHTSHIFT_REPO``)."""
    data_dir: Path = Path(".nightshift")
    """State directory: database, transcripts, reports, notes (env ``NIGHTSHIFT_DATA_DIR``)."""
    database_url: str | None = None
    """Database for durable runs; None means SQLite in ``data_dir`` (env ``NIGHTSHIFT_DATABASE_URL``)."""
    secrets: Secrets = Field(default_factory=Secrets, exclude=True)
    """Filled from the environment only."""
    notices: list[str] = Field(default_factory=list, exclude=True)
    """What the configuration should change (a key that moved, ...); logged at start-up."""

    @model_validator(mode="before")
    @classmethod
    def _moved_keys(cls, data: Any) -> Any:
        """Move keys that have a new home (``MOVED_KEYS``) there, with a notice naming it."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        notices = list(data.get("notices") or [])
        for (old_section, old_key), (new_section, new_key) in MOVED_KEYS.items():
            section = data.get(old_section)
            if not isinstance(section, Mapping) or old_key not in section:
                continue
            section = dict(section)
            value = section.pop(old_key)
            data[old_section] = section
            target = dict(data.get(new_section) or {})
            if isinstance(data.get(new_section), BaseModel):
                target = data[new_section].model_dump(exclude_unset=True)
            target.setdefault(new_key, value)
            data[new_section] = target
            notices.append(
                f"[{old_section}] {old_key} has moved to [{new_section}] {new_key}; "
                f"it still works, but write it there"
            )
        data["notices"] = notices
        return data

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, url: str | None) -> str | None:
        scheme = url.partition("://")[0].lower() if url and "://" in url else None
        if url is not None and scheme not in DATABASE_SCHEMES:
            shown = f"{scheme}://" if scheme else "a URL without a scheme"
            raise ValueError(
                f"{shown} is not supported: use postgresql://USER@HOST:PORT/DATABASE (several workers; "
                "see docs/deploy.md) or sqlite:///PATH, or leave it unset for SQLite in the state directory"
            )
        return url

    @model_validator(mode="after")
    def _setup_needs_the_sandbox(self) -> "Settings":
        if self.environment.setup and self.safety.sandbox == "none":
            raise ValueError(
                "[environment] setup needs the sandbox: its result is mounted at /workspace in every "
                'worktree, so that each one\'s own code is what runs. With [safety] sandbox = "none", '
                "remove setup and point [environment] test_command at an environment that does not "
                "install the project in editable mode"
            )
        return self


REQUIRED_WITH: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    # integration: ((what makes it live, (what it then needs too; "A|B": either)), ...)
    "slack": (
        ("SLACK_BOT_TOKEN", ("SLACK_SIGNING_SECRET|SLACK_APP_TOKEN", "SLACK_CHANNEL")),
        ("SLACK_SIGNING_SECRET", ("SLACK_BOT_TOKEN",)),
        ("SLACK_APP_TOKEN", ("SLACK_BOT_TOKEN",)),
    ),
    "github": (
        ("GITHUB_TOKEN", ("GITHUB_REPO",)),
        ("GITHUB_WEBHOOK_SECRET", ("GITHUB_TOKEN",)),
    ),
    "jira": (
        ("JIRA_API_TOKEN", ("JIRA_BASE_URL", "JIRA_EMAIL")),
        ("JIRA_WEBHOOK_SECRET", ("JIRA_API_TOKEN",)),
    ),
    "sentry": (("SENTRY_AUTH_TOKEN", ("SENTRY_ORG",)),),
    "pagerduty": (("PAGERDUTY_API_TOKEN", ()),),
}


def integration_modes(settings: Settings) -> dict[str, Mode]:
    """``live`` or ``local`` for slack, github, jira, sentry and pagerduty; ConfigError for a
    half-configured one.

    An integration is live with its API credentials; its webhook secret is optional (GitHub without
    ``GITHUB_WEBHOOK_SECRET`` opens pull requests and reads CI logs, and only its webhook is off). Sentry
    and PagerDuty take webhooks with their secrets alone; their API tokens make them live (the latest
    event fetched, the incident's alerts read and notes added to it).
    """
    present = {
        **{name: bool(settings.secrets.get(name)) for name in SECRET_ENV},
        "SLACK_CHANNEL": bool(settings.slack.channel),
        "GITHUB_REPO": bool(settings.github.repo),
        "JIRA_BASE_URL": bool(settings.jira.base_url),
        "JIRA_EMAIL": bool(settings.jira.email),
        "SENTRY_ORG": bool(settings.sentry.organization),
    }
    modes: dict[str, Mode] = {}
    for name, rules in REQUIRED_WITH.items():
        for trigger, needs in rules:
            missing = [
                need.replace("|", " or ")
                for need in needs
                if not any(present[either] for either in need.split("|"))
            ]
            if present[trigger] and missing:
                raise ConfigError(
                    f"{name} is half-configured: {trigger} is set but {', '.join(missing)} "
                    f"{'is' if len(missing) == 1 else 'are'} not; set {' and '.join(missing)} "
                    f"or unset {trigger} to use the local default"
                )
        modes[name] = "live" if present[rules[0][0]] else "local"
    app_token = settings.secrets.get("SLACK_APP_TOKEN")
    if app_token and not app_token.startswith("xapp-"):
        raise ConfigError(
            "SLACK_APP_TOKEN is not an app-level token: it starts with xapp- (Basic Information -> "
            "App-Level Tokens, with the connections:write scope)"
        )
    return modes


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """The settings file: ``NIGHTSHIFT_CONFIG``, else ``nightshift.toml`` in the current directory."""
    env = os.environ if env is None else env
    return Path(env.get("NIGHTSHIFT_CONFIG") or "nightshift.toml")


def load_settings(
    env: Mapping[str, str] | None = None, path: Path | None = None, *, missing_ok: bool = False
) -> Settings:
    """Read settings from the TOML file and the environment; raise ConfigError naming what is wrong.
    A file named by ``path`` or ``NIGHTSHIFT_CONFIG`` must exist, unless ``missing_ok`` (a command
    that is about to write it)."""
    env = os.environ if env is None else env
    explicit = (path is not None or "NIGHTSHIFT_CONFIG" in env) and not missing_ok
    source = path or config_path(env)
    data = _read_toml(source, required=explicit)
    origin = {key: str(source) for key in data}
    for var, key_path in ENV_OVERRIDES.items():
        if env.get(var):
            _assign(data, key_path, env[var])
            origin[key_path[0]] = f"environment variable {var}"
    secrets = Secrets(values={k: SecretStr(env[k]) for k in SECRET_ENV if env.get(k)})
    try:
        settings = Settings.model_validate({**data, "secrets": secrets})
    except ValidationError as exc:
        raise ConfigError(_describe(exc, origin, source)) from None
    for notice in settings.notices:
        logger.warning("%s: %s", source, notice)
    return settings


def _read_toml(path: Path, *, required: bool) -> dict[str, Any]:
    if not path.exists():
        if required:
            raise ConfigError(
                f"config file {path} does not exist (set NIGHTSHIFT_CONFIG to an existing file)"
            )
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    _refuse_secrets(data, path, ())
    if "secrets" in data:
        raise ConfigError(f"{path}: 'secrets' cannot be set in the file; secrets come from the environment")
    return data


def _refuse_secrets(data: Mapping[str, Any], path: Path, prefix: tuple[str, ...]) -> None:
    """A key that looks like a credential (api_key, token, ...) in the file is refused."""
    for key, value in data.items():
        dotted = ".".join((*prefix, key))
        if isinstance(value, Mapping):
            _refuse_secrets(value, path, (*prefix, key))
        elif any(word in key.lower() for word in _SECRET_WORDS) and not key.startswith("max_"):
            raise ConfigError(
                f"{path}: '{dotted}' looks like a secret; secrets come only from the environment "
                f"(for example OPENAI_API_KEY)"
            )


def _assign(data: dict[str, Any], key_path: tuple[str, ...], value: str) -> None:
    node = data
    for key in key_path[:-1]:
        node = node.setdefault(key, {})
    node[key_path[-1]] = value


def _describe(exc: ValidationError, origin: Mapping[str, str], path: Path) -> str:
    lines = []
    for error in exc.errors():
        loc = ".".join(str(part) for part in error["loc"])
        source = origin.get(str(error["loc"][0]), str(path)) if error["loc"] else str(path)
        if error["type"] == "extra_forbidden":
            lines.append(f"unknown key '{loc}' in {source}")
        else:
            lines.append(f"'{loc}' in {source}: {error['msg']}")
    return "invalid configuration: " + "; ".join(lines)
