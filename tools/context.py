"""What every tool call sees: the agent's workspace, its settings, the safety gates and the sandbox."""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from config import SafetySettings, Settings, ToolsSettings
from safety.commands import CommandGate
from safety.paths import resolve_in_workspace, workspace_relative
from safety.redact import Redactor
from safety.sandbox import Environment, Sandbox
from safety.secret_scan import SecretScanner
from safety.writes import WriteRules

HIDDEN = frozenset({".git"})
"""Names the listing and search tools never show."""


@dataclass
class ToolContext:
    """One agent's view of the world. Tools receive it as their first argument."""

    workspace: Path
    """The agent's git worktree (resolved); every path a tool takes is relative to it."""
    agent: str
    settings: ToolsSettings
    safety: SafetySettings
    write_rules: WriteRules
    command_gate: CommandGate
    redactor: Redactor
    secret_scan: SecretScanner
    """Looks for the bot's secrets, raw or encoded, in what is about to be sent to the model."""
    sandbox: Sandbox
    """Where every command a tool starts runs (the shell, the tests)."""
    environment: Environment
    """The repository's prepared environment, as the sandbox shows it."""
    test_command: str
    notes_path: Path
    """JSONL notes of this repository (``remember`` / ``recall``)."""

    @classmethod
    def create(
        cls,
        workspace: Path,
        *,
        agent: str,
        role: Literal["code", "test", "any"],
        settings: Settings,
        state_dir: Path,
        repo_id: str,
        secrets: Mapping[str, str],
        sandbox: Sandbox,
        environment: Environment,
        test_files: Sequence[str],
        read_only_shell: bool = False,
    ) -> "ToolContext":
        """Build a context for ``agent`` working in ``workspace``; ``secrets`` are the bot's secrets by
        name; ``test_files`` are the glob patterns of the project's test files (the write rules between
        the code and the test agents); ``read_only_shell``: the shell sees the workspace read-only
        whatever the policy (``safety.commands``)."""
        return cls(
            workspace=workspace.resolve(),
            agent=agent,
            settings=settings.tools,
            safety=settings.safety,
            write_rules=WriteRules(role, test_files),
            command_gate=CommandGate(settings.safety.policy, read_only=read_only_shell),
            redactor=Redactor(secrets.values()),
            secret_scan=SecretScanner(secrets),
            sandbox=sandbox,
            environment=environment,
            test_command=settings.environment.test_command,
            notes_path=notes_path(state_dir, repo_id),
        )

    def resolve(self, path: str) -> Path:
        """``path`` (relative to the workspace) resolved; raises PathEscape when it leaves the workspace."""
        return resolve_in_workspace(self.workspace, path)

    def relative(self, resolved: Path) -> str:
        """How a resolved path inside the workspace is shown to the model."""
        return workspace_relative(self.workspace, resolved)


def notes_path(state_dir: Path, repo_id: str) -> Path:
    """Where the notes of repository ``repo_id`` are kept (``remember`` / ``recall``)."""
    return state_dir / "notes" / f"{_slug(repo_id)}.jsonl"


def _slug(name: str) -> str:
    """A file-name-safe form of an agent name or repository id."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) or "_"
