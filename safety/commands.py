"""The approval policy in front of the ``shell`` tool, on top of the sandbox every command runs in.

The sandbox confines every command to its worktree, without network, privileges or a view of the bot
(docs/safety.md). What a policy still decides, for an unattended bot where no human can be asked:

- whether the command runs at all (``never`` refuses every one);
- how the workspace is mounted for it (``WorkspaceAccess``): ``on_request``, and ``on_failure`` after a
  failed command, run every command with the workspace read-only, so "read-only commands" is what the
  kernel enforces, not a list of program names;
- whether the intent checks (``safety.intent``) refuse plainly destructive commands with a clear message
  first: under every policy but ``yolo``.

| Policy | Workspace | Intent checks |
|---|---|---|
| ``yolo`` | read-write | none |
| ``auto`` (and ``auto_edit``, read as ``auto`` by config) | read-write | yes |
| ``on_failure`` | read-write until a command fails, then read-only | yes |
| ``on_request`` | read-only | yes |
| ``never`` | (no command runs) | |

A gate made with ``read_only=True`` mounts the workspace read-only whatever the policy: the shell of an
agent that may write only some files (the test agent, which writes tests only) can probe, and every
file it writes goes through the file tools and so through the write rules.
"""

from typing import Literal

from config.safety import Policy
from safety.errors import CommandRefused
from safety.intent import destructive_intent

WorkspaceAccess = Literal["read_only", "read_write"]
"""How the workspace is mounted in the sandbox of one command."""

_SHOWN = 120
_READ_ONLY_NOTE = (
    "the workspace is mounted read-only, so writes there fail with 'Read-only file system' (a private "
    "/tmp stays writable); change files with the file tools (edit_file, write_file)"
)
POLICY_DESCRIPTIONS: dict[Policy, str] = {
    Policy.YOLO: "yolo: every command runs with the workspace writable, without intent checks.",
    Policy.AUTO: (
        "auto: every command runs with the workspace writable, except plainly destructive ones (rm -r "
        "outside the workspace, sudo, git push, ...), which are refused with the reason."
    ),
    Policy.ON_REQUEST: f"on_request: every command runs, but {_READ_ONLY_NOTE}.",
    Policy.ON_FAILURE: (
        "on_failure: commands run with the workspace writable until one fails; after that, for the rest "
        "of this run, the workspace is mounted read-only."
    ),
    Policy.NEVER: "never: no shell command runs; use the file tools instead.",
}


class CommandGate:
    """Decides whether the ``shell`` tool may run a command under ``policy``, and with which access."""

    def __init__(self, policy: Policy, *, read_only: bool = False) -> None:
        self.policy = Policy(policy)
        self.read_only = read_only
        """The workspace is read-only for every command, whatever the policy."""
        self.failed = False
        """A command failed (``record_exit``); under on_failure the workspace is read-only from now on."""

    @property
    def access(self) -> WorkspaceAccess:
        """How the workspace is mounted for the next command."""
        read_only = self.policy is Policy.ON_REQUEST or (self.policy is Policy.ON_FAILURE and self.failed)
        return "read_only" if read_only or self.read_only else "read_write"

    @property
    def description(self) -> str:
        """One line for the model: what this policy does to shell commands now."""
        if self.read_only and self.policy is not Policy.NEVER:
            return f"{self.policy}: for you, every command runs, but {_READ_ONLY_NOTE}."
        if self.policy is Policy.ON_FAILURE and self.failed:
            return f"on_failure: a command has failed, so for the rest of this run {_READ_ONLY_NOTE}."
        return POLICY_DESCRIPTIONS[self.policy]

    def record_exit(self, exit_code: int) -> None:
        """Tell the gate how a command ended (timeouts count as failures: pass a non-zero code)."""
        if exit_code != 0:
            self.failed = True

    def check(self, command: str) -> WorkspaceAccess:
        """How to mount the workspace for ``command``; ``CommandRefused`` (naming policy and reason) if
        it may not run."""
        reason = self._refusal(command)
        if reason is not None:
            shown = command if len(command) <= _SHOWN else command[: _SHOWN - 3] + "..."
            raise CommandRefused(f"command {shown!r} refused by the safety policy '{self.policy}': {reason}")
        return self.access

    def _refusal(self, command: str) -> str | None:
        if self.policy is Policy.NEVER:
            return "no shell command may run under this policy; use the file tools (read, search, edit)"
        if self.policy is Policy.YOLO:
            return None
        try:
            return destructive_intent(command)
        except ValueError as exc:
            return f"it cannot be read ({exc}); write it in plain shell syntax with balanced quotes"
