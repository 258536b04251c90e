"""The safety layer between hostile ticket text and real actions on a codebase.

Anyone who can type ``/oncall`` writes the text the agents act on, so every action is checked here:

- ``resolve_in_workspace`` keeps file tools inside the agent's worktree (symlinks resolved);
- ``WriteRules`` keeps the code agent away from tests and the test agent away from code;
- ``analyse`` / ``CommandGate`` parse shell commands like bash and apply the command policy;
- ``subprocess_env`` builds an environment without the bot's secrets;
- ``Redactor`` removes secret values from text, data and log records;
- ``check_url`` refuses URLs that reach loopback, private, link-local or metadata addresses.

docs/safety.md explains the policies and rules for operators.

Errors::

    SafetyError              base of every refusal; str(exc) is the reason, written for the model
     ├── PathEscape          absolute, ~, NUL byte, '..' or a symlink leading out of the workspace
     ├── WriteDenied         a write the agent's role may not make (tests vs code, .git)
     ├── CommandRefused      a shell command the policy refuses (dangerous, networked, unparsable, ...)
     ├── UrlRefused          a URL to a non-public address, another scheme, or with credentials
     └── ShellSyntaxError    a command the parser cannot read (analyse reports it as parse_error)
"""

from safety.commands import POLICY_DESCRIPTIONS, CommandAnalysis, CommandGate, analyse
from safety.env import subprocess_env
from safety.errors import CommandRefused, PathEscape, SafetyError, ShellSyntaxError, UrlRefused, WriteDenied
from safety.network import check_url
from safety.paths import resolve_in_workspace, workspace_relative
from safety.redact import REDACTED, Redactor
from safety.writes import WriteRules

__all__ = [
    "POLICY_DESCRIPTIONS",
    "REDACTED",
    "CommandAnalysis",
    "CommandGate",
    "CommandRefused",
    "PathEscape",
    "Redactor",
    "SafetyError",
    "ShellSyntaxError",
    "UrlRefused",
    "WriteDenied",
    "WriteRules",
    "analyse",
    "check_url",
    "resolve_in_workspace",
    "subprocess_env",
    "workspace_relative",
]
