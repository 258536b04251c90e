"""Safety settings: the sandbox and its limits, the command approval policy, allowlisted hosts."""

from enum import StrEnum
from typing import Annotated, Any

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


class SandboxKind(StrEnum):
    """What every command that runs repository or agent code runs in (see docs/safety.md)."""

    BWRAP = "bwrap"
    """bubblewrap: own namespaces, no capabilities, only the worktree and the environment visible."""
    NONE = "none"
    """No sandbox: commands run as the bot, and every briefing, PR and report says "unsandboxed"."""


class SafetySettings(Section):
    """What agents may run, write and reach."""

    policy: Policy = Policy.AUTO
    """Command approval policy for ``shell``. ``auto_edit`` is still accepted and means ``auto``: the
    sandbox confines every edit to the workspace, so it no longer differs."""
    allow_network: bool = False
    """No effect, kept so that configurations setting it still load: shell commands never have network
    (the sandbox has none). Network for the environment set-up is ``[environment] setup_network``."""
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

    @field_validator("policy", mode="before")
    @classmethod
    def _auto_edit_is_auto(cls, value: Any) -> Any:
        return Policy.AUTO if value == "auto_edit" else value
