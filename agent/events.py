"""Events an agent run emits, for live views, SSE and logs."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

EventKind = Literal[
    "started", "turn_started", "text_delta", "tool_started", "tool_finished", "usage", "warning", "finished"
]


@dataclass(frozen=True, slots=True)
class AgentEvent:
    agent: str
    kind: EventKind
    data: dict[str, Any] = field(default_factory=dict)
    ts: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        return {"agent": self.agent, "kind": self.kind, "ts": self.ts, **self.data}


EventSink = Callable[[AgentEvent], None]
"""Called synchronously for every event; must be cheap (queue it if it needs to do I/O)."""


def discard(event: AgentEvent) -> None:
    """The default sink."""
