"""Helpers for agent-loop tests: a spec with a small submit model, and probe tools.

PYTEST_DONT_REWRITE
"""

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from agent import AgentEvent, AgentResult, AgentSpec, Limits, run_agent
from client import Model
from config import ContextSettings
from hooks import HookRunner
from tools import ToolContext, ToolRegistry, builtin_registry


class Answer(BaseModel):
    """What the test agent submits."""

    summary: str = Field(min_length=3)
    confidence: int = Field(ge=0, le=100)


SYSTEM = "You are the loop-test agent. Finish with submit_answer."


def spec(*, tools: tuple[str, ...] = (), model: str = "scripted-test", **limits: Any) -> AgentSpec:
    return AgentSpec(
        name="tester",
        system_prompt=SYSTEM,
        submit_model=Answer,
        submit_name="submit_answer",
        submit_description="Submit the answer.",
        tools=tools,
        limits=Limits(**{"timeout_s": 20.0, **limits}),
        model=model,
    )


@dataclass
class Recorder:
    """An event sink that keeps every event."""

    events: list[AgentEvent] = field(default_factory=list)

    def __call__(self, event: AgentEvent) -> None:
        self.events.append(event)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    def of(self, kind: str) -> list[AgentEvent]:
        return [e for e in self.events if e.kind == kind]


def probe_registry(log: list[str], barrier: asyncio.Barrier | None = None) -> ToolRegistry:
    """The built-in tools plus probes: ``note`` logs, ``meet`` waits for a partner call."""
    registry = builtin_registry()

    @registry.tool(read_only=True)
    async def note(ctx: ToolContext, text: str) -> str:
        """Record a note.

        Args:
            text: What to record.
        """
        log.append(text)
        return f"noted {text}"

    @registry.tool(read_only=True)
    async def meet(ctx: ToolContext, who: str) -> str:
        """Wait until a partner call has started too.

        Args:
            who: Name of this caller.
        """
        assert barrier is not None
        async with asyncio.timeout(5):
            await barrier.wait()
        log.append(who)
        return f"{who} met"

    return registry


async def run(
    agent_spec: AgentSpec,
    model: Model,
    ctx: ToolContext,
    registry: ToolRegistry,
    *,
    goal: str = "Find out what is wrong.",
    sink: Recorder | None = None,
    hooks: HookRunner | None = None,
    transcript: Path | None = None,
    context: ContextSettings | None = None,
    context_window: int = 128_000,
) -> AgentResult:
    return await run_agent(
        agent_spec,
        goal,
        model=model,
        tools=registry.select(agent_spec.tools),
        ctx=ctx,
        sink=sink or Recorder(),
        hooks=hooks,
        transcript=transcript,
        context=context,
        context_window=context_window,
    )
