"""What every tool call sees: the agent's workspace, its settings and the safety gates it runs under."""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from config import SafetySettings, Settings, ToolsSettings
from safety.commands import CommandGate
from safety.env import subprocess_env
from safety.paths import resolve_in_workspace, workspace_relative
from safety.redact import Redactor
from safety.writes import WriteRules

HOME_DIR = ".nightshift-home"
"""HOME of agent subprocesses, at the top of the workspace and ignored by git."""
HIDDEN = frozenset({".git", HOME_DIR})
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
    env: dict[str, str]
    """Environment of every subprocess a tool starts: scrubbed of secrets, HOME outside the diff."""
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
        secrets: Iterable[str],
    ) -> "ToolContext":
        """Build a context for ``agent`` working in ``workspace``.

        HOME of the agent's subprocesses is ``<workspace>/.nightshift-home``: inside the workspace,
        so ``~`` never leads anywhere the path rules do not cover, and listed in the repository's
        ``info/exclude``, so caches and dotfiles that tools write never show up in ``git status`` or
        in the fix's diff. (Not inside the git directory: from there ``~/..`` would reach
        ``.git/config`` without naming it.) A workspace that is not a git checkout gets
        ``<state_dir>/home/<repo_id>/<agent>`` instead.
        """
        workspace = workspace.resolve()
        secret_values = tuple(secrets)
        git_dir = _git_dir(workspace)
        if git_dir:
            _exclude(_common_dir(git_dir), f"/{HOME_DIR}/")
            home = workspace / HOME_DIR
        else:
            home = state_dir / "home" / _slug(repo_id) / _slug(agent)
        home.mkdir(parents=True, exist_ok=True)
        return cls(
            workspace=workspace,
            agent=agent,
            settings=settings.tools,
            safety=settings.safety,
            write_rules=WriteRules(role, settings.safety.test_patterns),
            command_gate=CommandGate(settings.safety.policy),
            redactor=Redactor(secret_values),
            env=subprocess_env(home, secrets=secret_values),
            notes_path=notes_path(state_dir, repo_id),
        )

    def resolve(self, path: str) -> Path:
        """``path`` (relative to the workspace) resolved; raises PathEscape when it leaves the workspace."""
        return resolve_in_workspace(self.workspace, path)

    def relative(self, resolved: Path) -> str:
        """How a resolved path inside the workspace is shown to the model."""
        return workspace_relative(self.workspace, resolved)


def _git_dir(workspace: Path) -> Path | None:
    """The git directory of a checkout: ``.git`` itself, or the one a worktree's ``.git`` file names."""
    dotgit = workspace / ".git"
    if dotgit.is_dir():
        return dotgit
    if dotgit.is_file():
        text = dotgit.read_text(encoding="utf-8", errors="replace").strip()
        if text.startswith("gitdir:"):
            target = Path(text.removeprefix("gitdir:").strip())
            return target if target.is_absolute() else (workspace / target).resolve()
    return None


def notes_path(state_dir: Path, repo_id: str) -> Path:
    """Where the notes of repository ``repo_id`` are kept (``remember`` / ``recall``)."""
    return state_dir / "notes" / f"{_slug(repo_id)}.jsonl"


def _common_dir(git_dir: Path) -> Path:
    """The repository's shared git directory (a worktree's git dir names it in ``commondir``)."""
    pointer = git_dir / "commondir"
    if pointer.is_file():
        return (git_dir / pointer.read_text(encoding="utf-8").strip()).resolve()
    return git_dir


def _exclude(common_dir: Path, pattern: str) -> None:
    """Add ``pattern`` to the repository's ``info/exclude`` once."""
    exclude = common_dir / "info" / "exclude"
    lines = exclude.read_text(encoding="utf-8").splitlines() if exclude.exists() else []
    if pattern not in lines:
        exclude.parent.mkdir(parents=True, exist_ok=True)
        with exclude.open("a", encoding="utf-8") as out:
            out.write(("\n" if lines and lines[-1] else "") + pattern + "\n")


def _slug(name: str) -> str:
    """A file-name-safe form of an agent name or repository id."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) or "_"
