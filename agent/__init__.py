"""The streaming tool-calling loop that runs every agent.

``run_agent(spec, goal, ...)`` drives one agent to its submit tool and returns an ``AgentResult``.
Inside, exits are exceptions that carry a message (``agent.exits``)::

    AgentExit                 any end of a run; ``status`` names it in the result
    ├── Submitted             the submit tool was called with valid arguments
    ├── TurnLimit             max_turns model calls were made
    ├── TimeLimit             the wall-clock timeout expired (even mid-stream)
    ├── BudgetExceeded        the token or USD budget was spent (checked while streaming)
    ├── ModelFailed           the model client gave up (after retries and fallback)
    ├── NoSubmit              the model stopped without submitting, even after a nudge
    ├── InvalidSubmissions    the submit tool's arguments failed validation too often
    └── StuckInLoop           the same calls kept repeating after a warning
"""

from agent.budget import SharedBudget
from agent.events import AgentEvent, EventSink
from agent.exits import AgentExit
from agent.loop import run_agent
from agent.result import AgentResult
from agent.spec import AgentSpec, Limits

__all__ = [
    "AgentEvent",
    "AgentExit",
    "AgentResult",
    "AgentSpec",
    "EventSink",
    "Limits",
    "SharedBudget",
    "run_agent",
]
