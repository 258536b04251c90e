"""The loop: query the model, dispatch tool calls as they complete, repeat until an exit.

``run_agent`` is the one entry point. A run is a sequence of turns; a turn streams one model reply
(``agent.turn``) and ends as one of: submitted, run again, or needs a nudge. Exits are exceptions
(``agent.exits``); the transcript is written in one ``finally``.
"""

import asyncio
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from agent.budget import SharedBudget
from agent.events import AgentEvent, EventSink, discard
from agent.exits import AgentExit, ModelFailed, NoSubmit, Submitted, TimeLimit, TurnLimit
from agent.result import AgentResult
from agent.spec import AgentSpec
from agent.transcript import write_transcript
from agent.turn import Nudge, TurnRunner
from client import Model, ModelError
from client.events import Usage
from config import ContextSettings
from context import compress, needs_compression
from hooks import HookRunner
from tools import Tool, ToolContext

WRAP_UP_AT = 0.8
"""Share of the turn, time or token limit after which the agent is told, once, to wrap up."""
WRAP_UP = (
    "You have used {used}. Wrap up now: finish the change you are making, check it, and call `{submit}` "
    "within the next few turns. A limit that stops you ends your task with your work as you left it."
)
NUDGE = (
    "You stopped without calling `{submit}`. The task is only finished when you call `{submit}` "
    "with your result. Call it now (or keep working, then call it)."
)


async def run_agent(
    spec: AgentSpec,
    goal: str,
    *,
    model: Model,
    tools: Sequence[Tool],
    ctx: ToolContext,
    context: ContextSettings | None = None,
    context_window: int = 128_000,
    hooks: HookRunner | None = None,
    sink: EventSink = discard,
    transcript: Path | None = None,
    budget: SharedBudget | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> AgentResult:
    """Run ``spec`` on ``goal`` in ``ctx.workspace`` until it submits or an exit stops it.

    ``budget`` is the run's USD pool shared with sibling agents, on top of ``spec.limits``. ``clock``
    measures the time used, for the wrap-up message and the result's duration (a test passes a clock it
    advances); the time limit itself is enforced by ``asyncio.timeout``.
    """
    runner = TurnRunner(
        spec,
        model=model,
        tools=tools,
        ctx=ctx,
        context=context or ContextSettings(),
        hooks=hooks,
        sink=sink,
        budget=budget,
    )
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": spec.system_prompt},
        {"role": "user", "content": goal},
    ]
    started, turns, nudged, warned = clock(), 0, False, False
    status, message, submission = "failed", "", None
    sink(AgentEvent(spec.name, "started", {"model": spec.model, "tools": list(spec.tools)}))
    if hooks:
        await hooks.fire("before_agent", {"agent": spec.name, "goal": goal})
    try:
        async with asyncio.timeout(spec.limits.timeout_s):
            while True:
                if turns >= spec.limits.max_turns:
                    raise TurnLimit(
                        f"reached the turn limit ({spec.limits.max_turns} turns) without submitting"
                    )
                if not warned and (wrap_up := _wrap_up(spec, turns, clock() - started, runner)):
                    warned = True
                    messages.append({"role": "user", "content": wrap_up})
                    runner.emit("warning", {"message": wrap_up})
                turns += 1
                messages = await _compressed(messages, runner, context_window)
                if await runner.run_turn(messages, turns) is Nudge:
                    if nudged:
                        raise NoSubmit(f"stopped without calling {spec.submit_name}, even after a reminder")
                    nudged = True
                    messages.append({"role": "user", "content": NUDGE.format(submit=spec.submit_name)})
    except Submitted as done:
        status, message, submission = done.status, "submitted", done.submission
    except AgentExit as stop:
        status, message = stop.status, str(stop)
    except TimeoutError:
        status, message = TimeLimit.status, f"timed out after {spec.limits.timeout_s:g}s (wall clock)"
    except ModelError as exc:
        status, message = ModelFailed.status, f"model error: {exc}"
    finally:
        duration = clock() - started
        usage: Usage = runner.usage
        saved = (
            write_transcript(transcript, messages, runner.redact, status=status, message=message)
            if transcript
            else None
        )
        sink(
            AgentEvent(
                spec.name,
                "finished",
                {
                    "status": status,
                    "message": message,
                    "turns": turns,
                    "duration_s": duration,
                    "cost_usd": usage.cost_usd,
                },
            )
        )
    result = AgentResult(spec.name, status, message, submission, turns, usage, duration, saved)
    if hooks:
        await hooks.fire("after_agent", {"agent": spec.name, "status": status, "message": message})
        if not result.ok:
            await hooks.fire("on_error", {"agent": spec.name, "status": status, "message": message})
    return result


def _wrap_up(spec: AgentSpec, turns: int, elapsed_s: float, runner: TurnRunner) -> str | None:
    """The wrap-up message once ``WRAP_UP_AT`` of a limit is used (None before): turns made, wall-clock
    time, tokens spent."""
    limits, tokens = spec.limits, runner.usage.total_tokens
    used = []
    if turns >= max(1, round(WRAP_UP_AT * limits.max_turns)):
        used.append(f"{turns} of your {limits.max_turns} turns")
    if elapsed_s >= WRAP_UP_AT * limits.timeout_s:
        used.append(f"{elapsed_s:.0f} s of your {limits.timeout_s:g} s")
    if tokens >= WRAP_UP_AT * limits.max_tokens:
        used.append(f"{tokens:,} of your {limits.max_tokens:,} tokens")
    return WRAP_UP.format(used=" and ".join(used), submit=spec.submit_name) if used else None


async def _compressed(
    messages: list[dict[str, Any]], runner: TurnRunner, window: int
) -> list[dict[str, Any]]:
    """Summarise older turns into one message when the conversation nears the context window."""
    settings = runner.context
    if not needs_compression(messages, context_window=window, fraction=settings.compress_at):
        return messages
    compressed = await compress(messages, runner.summarize, keep_recent=settings.keep_recent_messages)
    runner.emit("warning", {"message": f"compressed {len(messages) - len(compressed) + 1} older messages"})
    return compressed
