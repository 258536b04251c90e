"""The ways an agent run ends. Each carries the message that ends up in the result."""

from typing import ClassVar

from pydantic import BaseModel


class AgentExit(Exception):
    """Base of every exit; ``status`` is the machine-readable name, ``str(exc)`` the reason."""

    status: ClassVar[str] = "failed"


class Submitted(AgentExit):
    status = "submitted"

    def __init__(self, submission: BaseModel) -> None:
        super().__init__("submitted")
        self.submission = submission


class TurnLimit(AgentExit):
    status = "turn_limit"


class TimeLimit(AgentExit):
    status = "timeout"


class BudgetExceeded(AgentExit):
    status = "budget"


class ModelFailed(AgentExit):
    status = "model_error"


class NoSubmit(AgentExit):
    status = "no_submit"


class InvalidSubmissions(AgentExit):
    status = "invalid_submission"


class StuckInLoop(AgentExit):
    status = "stuck"


class SecretInRequest(AgentExit):
    """The next model request holds one of the bot's secrets (raw or encoded); it was not sent."""

    status = "failed"


LIMIT_STATUSES = (TurnLimit.status, TimeLimit.status, BudgetExceeded.status)
"""Statuses of a run a limit stopped: what the agent left in its worktree may still be worth taking."""
