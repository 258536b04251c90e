"""Safety settings: the command approval policy, test-file patterns, allowlisted hosts."""

from enum import StrEnum
from typing import Any

from pydantic import Field, field_validator

from config.base import Section


class Policy(StrEnum):
    """How ``shell`` commands are approved when no human is there to ask (see docs/safety.md).

    Every command runs in the sandbox; the policy decides whether it runs, whether the workspace is
    mounted read-write or read-only for it, and whether plainly destructive intent is refused first.
    """

    YOLO = "yolo"
    """Every command runs with the workspace writable; no intent checks."""
    AUTO = "auto"
    """Every command runs with the workspace writable, unless an intent check refuses it."""
    ON_REQUEST = "on_request"
    """Every command runs with the workspace read-only (intent checks apply)."""
    NEVER = "never"
    """No command runs."""
    ON_FAILURE = "on_failure"
    """Like ``auto`` until a command fails, then like ``on_request`` for the rest of the run."""


DEFAULT_TEST_PATTERNS = ["tests/**", "test/**", "**/test_*.py", "**/*_test.py", "**/conftest.py"]


class SafetySettings(Section):
    """What agents may run, write and reach."""

    policy: Policy = Policy.AUTO
    """Command approval policy for ``shell``. ``auto_edit`` is still accepted and means ``auto``: the
    sandbox confines every edit to the workspace, so it no longer differs."""
    allow_network: bool = False
    """No effect, kept so that configurations setting it still load: shell commands never have network
    (the sandbox has none). Network for the environment set-up is ``[environment] setup_network``."""
    test_patterns: list[str] = Field(default_factory=lambda: list(DEFAULT_TEST_PATTERNS))
    """Glob patterns (relative to the workspace) that make a file a test file."""
    allow_hosts: list[str] = Field(default_factory=list)
    """Hosts ``web_fetch`` may reach even when they resolve to a private or loopback address."""

    @field_validator("policy", mode="before")
    @classmethod
    def _auto_edit_is_auto(cls, value: Any) -> Any:
        return Policy.AUTO if value == "auto_edit" else value
