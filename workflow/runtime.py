"""What the durable steps need and cannot take as arguments: one ``Runtime`` per process.

DBOS steps are replayed from their recorded inputs, so they take only ids and small values; the
settings, the database, the model client, the tools, the integrations and the deliveries live here,
installed by ``workflow.engine.Engine`` at start-up and looked up with ``current()``. Steps read through
the integrations (a ticket, CI logs) directly; everything they send goes through ``deliveries``.
"""

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent import SharedBudget
from client import Model
from config import Settings
from deliveries.deliverer import Deliverer
from documents.facts import RunFacts
from environment.layout import CONVENTIONS, DEFAULT_TEST_PATTERNS
from environment.prepare import Environments
from gitrepo import GitRepo
from hooks import HookRunner
from integrations.base import AlertReader, Forge, Notifier, Tracker
from safety.redact import Redactor
from safety.sandbox import Sandbox
from safety.secret_scan import SecretScanner
from safety.writes import WriteRules
from store.events import EventBus
from store.reports import report_path
from store.runs import Store
from tools import ToolRegistry
from tools.context import notes_path
from tools.memory import NoteStore
from workflow.errors import WorkflowError


@dataclass
class Runtime:
    settings: Settings
    store: Store
    bus: EventBus
    model: Model
    registry: ToolRegistry
    hooks: HookRunner
    notifier: Notifier
    forge: Forge
    tracker: Tracker
    deliveries: Deliverer
    """Records and tries every send to the notifier, forge and tracker (``deliveries.deliverer``)."""
    repo: GitRepo
    data_dir: Path
    sandbox: Sandbox
    environments: Environments
    executor_id: str = "local"
    """This worker's DBOS executor id (recorded on the agents it runs: their transcripts are here)."""
    alert_readers: dict[str, AlertReader] = field(default_factory=dict)
    """Per alert source (``sentry``, ``pagerduty``), what reads the alert's missing parts, when live."""
    budgets: dict[str, SharedBudget] = field(default_factory=dict)
    """USD pools of the runs whose agents run in this process."""
    workflow_tasks: set["asyncio.Task[Any]"] = field(default_factory=set)
    """The tasks of the workflows running in this process (``workflow.pipeline.running``)."""

    def worktree(self, run_id: str, name: str) -> Path:
        return self.data_dir / "worktrees" / run_id / name

    def transcript(self, run_id: str, name: str) -> Path:
        return self.data_dir / "transcripts" / run_id / f"{name}.jsonl"

    def report_path(self, run_id: str) -> Path:
        return report_path(self.data_dir, run_id)

    @property
    def secret_scan(self) -> SecretScanner:
        """The scan every send to the outside passes (push, pull request, messages)."""
        return SecretScanner(self.settings.secrets.named())

    @property
    def secrets(self) -> list[str]:
        return self.settings.secrets.all_values()

    def test_rules(self, facts: RunFacts) -> WriteRules:
        """The run's test-file patterns (the fix/tests split); a run recorded before they were derived
        gets the conventional ones."""
        return WriteRules("any", facts.test_files or [*DEFAULT_TEST_PATTERNS, *CONVENTIONS])

    @property
    def notes(self) -> NoteStore:
        """Lessons kept for this repository across runs (reviewers' feedback, agents' notes)."""
        return NoteStore(notes_path(self.data_dir, self.repo.path.name), Redactor(self.secrets))


_current: Runtime | None = None


def install(runtime: Runtime | None) -> None:
    global _current
    _current = runtime


def current() -> Runtime:
    if _current is None:
        raise WorkflowError("the Nightshift engine is not started in this process (Engine.start())")
    return _current
