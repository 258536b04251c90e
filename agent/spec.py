"""What an agent is: its words, its tools, its limits, the way it finishes."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from pydantic import BaseModel

from config import AgentSettings, ModelSettings
from tools import ToolContext

SubmitCheck = Callable[[ToolContext, BaseModel], Awaitable[str]]
"""Looks at a valid submission before it is accepted; its text goes back to the model instead."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Every limit is enforced by the loop; see ``agent.exits``."""

    max_turns: int = 30
    timeout_s: float = 600.0
    max_tokens: int = 400_000
    max_cost_usd: float = 2.0
    max_invalid_submits: int = 3
    """Submit calls that fail validation before the agent is stopped."""

    @classmethod
    def from_settings(cls, settings: AgentSettings) -> "Limits":
        return cls(
            max_turns=settings.max_turns,
            timeout_s=settings.timeout_s,
            max_tokens=settings.max_tokens,
            max_cost_usd=settings.max_cost_usd,
        )


@dataclass(frozen=True, slots=True)
class AgentSpec:
    """One agent definition; ``agents/`` holds the four of an incident."""

    name: str
    system_prompt: str
    submit_model: type[BaseModel]
    """Arguments of the submit tool; the agent finishes only by calling it with valid ones."""
    submit_name: str
    submit_description: str
    tools: tuple[str, ...] = ()
    """Tool allowlist; empty means no tools besides the submit tool."""
    limits: Limits = Limits()
    submit_check: SubmitCheck | None = None
    """Called with the first valid call of the submit tool: what it returns (the agent's own diff and a
    checklist, say) is that call's result instead of an acceptance, so the agent looks at its work once
    before it hands it in. The next valid call submits."""
    model: str = "gpt-4.1-mini"
    temperature: float = 0.0
    max_output_tokens: int = 4096

    def with_settings(self, model: ModelSettings, agent: AgentSettings) -> "AgentSpec":
        """This spec with the model and limits an operator configured for it."""
        return replace(
            self,
            limits=Limits.from_settings(agent),
            model=agent.model or model.name,
            temperature=model.temperature if agent.temperature is None else agent.temperature,
            max_output_tokens=agent.max_output_tokens or model.max_output_tokens,
        )

    def submit_schema(self) -> dict[str, object]:
        return {
            "type": "function",
            "function": {
                "name": self.submit_name,
                "description": self.submit_description,
                "parameters": self.submit_model.model_json_schema(),
            },
        }
