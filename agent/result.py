"""What an agent run returns."""

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from agent.exits import LIMIT_STATUSES
from client.events import Usage


@dataclass(frozen=True, slots=True)
class AgentResult:
    agent: str
    status: str
    """``submitted`` or the status of the exit that ended the run (see ``agent.exits``)."""
    message: str
    submission: BaseModel | None
    turns: int
    usage: Usage
    duration_s: float
    transcript: Path | None = None

    @property
    def ok(self) -> bool:
        return self.status == "submitted"

    @property
    def stopped_by_limit(self) -> bool:
        """A turn, time or budget limit ended the run before the agent submitted."""
        return self.status in LIMIT_STATUSES
