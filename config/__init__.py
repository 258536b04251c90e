"""Settings: one pydantic model, read once at start-up.

Layers, lowest first: built-in defaults < ``nightshift.toml`` (path from ``NIGHTSHIFT_CONFIG``,
default ``./nightshift.toml``) < environment variables. Secrets come only from the environment.

Errors::

    ConfigError            an unknown key, a wrong type, a secret in the file, a missing file
"""

from config.agents import AgentSettings, AgentsSettings
from config.context import ContextSettings
from config.environment import EnvironmentSettings
from config.errors import ConfigError
from config.hooks import HOOK_EVENTS, HookSpec
from config.integrations import (
    GitHubSettings,
    JiraSettings,
    Mode,
    PagerDutySettings,
    SentrySettings,
    ServerSettings,
    SlackSettings,
)
from config.mcp import McpServer, McpSettings
from config.model import ModelSettings, Price
from config.safety import Policy, SafetySettings, SandboxKind
from config.settings import Secrets, Settings, integration_modes, load_settings
from config.tools import ToolsSettings
from config.workflow import WorkflowSettings

VERSION = "0.1.0"
"""Nightshift's version, as pyproject.toml gives it: the API document and ``--version`` show it."""

__all__ = [
    "HOOK_EVENTS",
    "VERSION",
    "AgentSettings",
    "AgentsSettings",
    "ConfigError",
    "ContextSettings",
    "EnvironmentSettings",
    "GitHubSettings",
    "HookSpec",
    "JiraSettings",
    "McpServer",
    "McpSettings",
    "Mode",
    "ModelSettings",
    "PagerDutySettings",
    "Policy",
    "Price",
    "SafetySettings",
    "SandboxKind",
    "Secrets",
    "SentrySettings",
    "ServerSettings",
    "Settings",
    "SlackSettings",
    "ToolsSettings",
    "WorkflowSettings",
    "integration_modes",
    "load_settings",
]
