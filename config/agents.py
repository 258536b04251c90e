"""Per-agent settings: model overrides and the limits each agent runs under."""

from typing import Annotated

from pydantic import Field

from config.base import Section


class AgentSettings(Section):
    """One agent's model and limits. A None model setting inherits from ``[model]``."""

    model: str | None = None
    """Model for this agent; None uses ``model.name``."""
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    """Temperature for this agent; None uses ``model.temperature``."""
    max_output_tokens: Annotated[int, Field(gt=0)] | None = None
    """Output cap per call for this agent; None uses ``model.max_output_tokens``."""
    max_turns: Annotated[int, Field(gt=0)] = 30
    """Model calls before the agent is stopped."""
    timeout_s: Annotated[float, Field(gt=0)] = 600.0
    """Wall-clock limit for the whole agent run."""
    max_tokens: Annotated[int, Field(gt=0)] = 400_000
    """Input plus output tokens the agent may spend."""
    max_cost_usd: Annotated[float, Field(gt=0)] = 2.0
    """USD the agent may spend."""
    tools: list[str] = Field(default_factory=list)
    """Tools offered to this agent besides its own: a plugin's by name, an MCP server's as
    ``<server>__<tool>`` (checked at start-up)."""


class AgentsSettings(Section):
    """The four agents of an incident."""

    triage: AgentSettings = Field(default_factory=lambda: AgentSettings(max_turns=15, timeout_s=300))
    code: AgentSettings = Field(default_factory=AgentSettings)
    test: AgentSettings = Field(default_factory=AgentSettings)
    pr: AgentSettings = Field(default_factory=lambda: AgentSettings(max_turns=4, timeout_s=180))
