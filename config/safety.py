"""Safety settings: the sandbox and its limits, the command policy, allowlisted hosts."""

from enum import StrEnum
from typing import Annotated

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


class SandboxKind(StrEnum):
    """What every command that runs repository or agent code runs in (see docs/safety.md)."""

    BWRAP = "bwrap"
    """bubblewrap: own namespaces, no capabilities, only the worktree and the environment visible."""
    NONE = "none"
    """No sandbox: commands run as the bot, and every briefing, PR and report says "unsandboxed"."""


class SafetySettings(Section):
    """What agents may run, write and reach."""

    policy: Policy = Policy.AUTO
    """Command approval policy for ``shell``."""
    allow_network: bool = False
    """Whether shell commands may use network tools (curl, wget, ssh, pip install, ...)."""
    allow_hosts: list[str] = Field(default_factory=list)
    """Hosts ``web_fetch`` may reach even when they resolve to a private or loopback address."""
    sandbox: SandboxKind = SandboxKind.BWRAP
    """``bwrap``, or ``none``: explicitly unsandboxed (without it, start-up stops when no sandbox can be
    made)."""
    memory_limit_mb: Annotated[int, Field(ge=64)] = 4096
    """Memory of one sandboxed command: all its processes together (resident), and each one's data."""
    process_limit: Annotated[int, Field(ge=8)] = 512
    """Processes one sandboxed command may have at once; a fork bomb is stopped there."""
    output_limit_mb: Annotated[int, Field(ge=1)] = 64
    """Output (stdout and stderr) one command may print before it is stopped."""
    file_size_limit_mb: Annotated[int, Field(ge=1)] = 2048
    """Largest file a sandboxed command may write."""
