"""The rules between hostile ticket text and real actions on a codebase, on top of the sandbox.

Anyone who can type ``/oncall`` writes the text the agents act on. The wall is the kernel: every
command an agent or the verifier runs is in a bubblewrap sandbox that sees its worktree at
``/workspace`` and nothing of the bot, without network or privileges. This package adds what a sandbox
cannot know:

- ``CommandGate`` applies the approval policy to ``shell`` commands: whether one runs, whether the
  workspace is mounted read-write or read-only for it (``WorkspaceAccess``), and a clear refusal for
  plainly destructive intent (``rm -rf ~``, ``sudo``, ``git push``, ...) that names the reason;
- ``WriteRules`` keeps the code agent away from tests and the test agent away from code;
- ``resolve_in_workspace`` keeps file tools (which run in the bot) inside the agent's worktree;
- ``subprocess_env`` builds an environment without the bot's secrets;
- ``Redactor`` removes secret values from text, data and log records;
- ``check_url`` refuses URLs that reach loopback, private, link-local or metadata addresses.

docs/safety.md has the table of what the sandbox guarantees, what these rules add and what neither covers.

Errors::

    SafetyError              base of every refusal; str(exc) is the reason, written for the model
     ├── PathEscape          absolute, ~, NUL byte, '..' or a symlink leading out of the workspace
     ├── WriteDenied         a write the agent's role may not make (tests vs code, .git)
     ├── CommandRefused      a shell command the policy does not run (never, destructive, unreadable)
     └── UrlRefused          a URL to a non-public address, another scheme, or with credentials
"""

from safety.commands import POLICY_DESCRIPTIONS, CommandGate, WorkspaceAccess
from safety.env import subprocess_env
from safety.errors import CommandRefused, PathEscape, SafetyError, UrlRefused, WriteDenied
from safety.network import check_url
from safety.paths import resolve_in_workspace, workspace_relative
from safety.redact import REDACTED, Redactor
from safety.writes import WriteRules

__all__ = [
    "POLICY_DESCRIPTIONS",
    "REDACTED",
    "CommandGate",
    "CommandRefused",
    "PathEscape",
    "Redactor",
    "SafetyError",
    "UrlRefused",
    "WorkspaceAccess",
    "WriteDenied",
    "WriteRules",
    "check_url",
    "resolve_in_workspace",
    "subprocess_env",
    "workspace_relative",
]
