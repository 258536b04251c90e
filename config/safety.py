"""Safety settings: the command policy, network access, test-file patterns, allowlisted hosts."""

from enum import StrEnum

from pydantic import Field

from config.base import Section


class Policy(StrEnum):
    """How ``shell`` commands are approved when no human is there to ask (see docs/safety.md)."""

    YOLO = "yolo"
    AUTO = "auto"
    AUTO_EDIT = "auto_edit"
    ON_REQUEST = "on_request"
    NEVER = "never"
    ON_FAILURE = "on_failure"


DEFAULT_TEST_PATTERNS = ["tests/**", "test/**", "**/test_*.py", "**/*_test.py", "**/conftest.py"]


class SafetySettings(Section):
    """What agents may run, write and reach."""

    policy: Policy = Policy.AUTO
    """Command approval policy for ``shell``."""
    allow_network: bool = False
    """Whether shell commands may use network tools (curl, wget, ssh, pip install, ...)."""
    test_patterns: list[str] = Field(default_factory=lambda: list(DEFAULT_TEST_PATTERNS))
    """Glob patterns (relative to the workspace) that make a file a test file."""
    allow_hosts: list[str] = Field(default_factory=list)
    """Hosts ``web_fetch`` may reach even when they resolve to a private or loopback address."""
