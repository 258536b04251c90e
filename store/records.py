"""What the run store hands out besides a run's facts: its events and the locally recorded pull requests."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to store; the database numbers it within its run."""

    run_id: str
    ts: float
    kind: str
    agent: str | None
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    """The event's number within its run: 1, 2, 3... with no gap, whichever worker wrote it."""
    run_id: str
    ts: float
    kind: str
    agent: str | None
    data: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.data,
            "id": self.id,
            "run_id": self.run_id,
            "ts": self.ts,
            "kind": self.kind,
            "agent": self.agent,
        }


@dataclass(frozen=True, slots=True)
class PullRequestRecord:
    number: int
    run_id: str
    branch: str
    title: str
    body: str
    diff: str
    draft: bool
    labels: list[str]
    created_at: datetime
