"""One turn: stream a model reply, start each tool call the moment its arguments are complete.

Tool calls run concurrently (read-only tools freely, mutating tools one at a time in call order);
their results are appended in call order. A turn ends as ``Next.RUN_AGAIN`` (tools ran),
``Next.NUDGE`` (the model stopped without submitting), or raises an exit.
"""

import asyncio
import enum
import json
import logging
import time
from collections.abc import Sequence
from contextlib import aclosing
from typing import Any

from pydantic import BaseModel, ValidationError

from agent.budget import SharedBudget
from agent.events import AgentEvent, EventKind, EventSink
from agent.exits import (
    BudgetExceeded,
    InvalidSubmissions,
    ModelFailed,
    SecretInRequest,
    StuckInLoop,
    Submitted,
)
from agent.spec import AgentSpec
from client import Model
from client.events import MessageComplete, TextDelta, ToolCallComplete, Usage
from config import ContextSettings
from context import LoopDetector, LoopVerdict, truncate_output
from context.tokens import count_messages
from hooks import HookRunner
from safety.errors import SecretFound
from tools import Tool, ToolContext, ToolOutcome

logger = logging.getLogger(__name__)

CHARS_PER_TOKEN = 4
"""Rough size of a streamed token, for the mid-stream budget estimate."""


class Next(enum.Enum):
    RUN_AGAIN = "run_again"
    NUDGE = "nudge"


Nudge = Next.NUDGE


class TurnRunner:
    """State that lives across turns: tools, usage, loop detection, the submission."""

    def __init__(
        self,
        spec: AgentSpec,
        *,
        model: Model,
        tools: Sequence[Tool],
        ctx: ToolContext,
        context: ContextSettings,
        hooks: HookRunner | None,
        sink: EventSink,
        budget: SharedBudget | None = None,
    ) -> None:
        self.spec, self.model, self.ctx, self.context, self.hooks, self.sink = (
            spec,
            model,
            ctx,
            context,
            hooks,
            sink,
        )
        self.budget = budget
        self.tools = {tool.name: tool for tool in tools}
        self.schemas = [tool.openai_schema() for tool in tools] + [spec.submit_schema()]
        self.loops = LoopDetector(context.loop_repeat)
        self.usage = Usage()
        self.invalid_submits = 0
        self.checked = False
        """The submit check (``AgentSpec.submit_check``) has answered once: the next valid call submits."""
        self.redact = ctx.redactor
        self.secret_scan = ctx.secret_scan
        self._scanned: list[dict[str, Any]] = []
        self._write_lock = asyncio.Lock()
        self._warning: str | None = None
        self._stuck: str | None = None
        self._submission: BaseModel | None = None

    def _scan_for_secrets(self, messages: list[dict[str, Any]]) -> None:
        """Stop before a request that would carry a secret to the model (messages sent before were
        checked then; a compressed conversation is checked whole)."""
        seen = len(self._scanned)
        fresh = messages[seen:] if messages[:seen] == self._scanned else messages
        try:
            self.secret_scan.check("the model request", json.dumps(fresh, default=str))
        except SecretFound as exc:
            raise SecretInRequest(str(exc)) from None
        self._scanned = list(messages)

    def emit(self, kind: EventKind, data: dict[str, Any]) -> None:
        self.sink(AgentEvent(self.spec.name, kind, data))

    async def summarize(self, messages: list[dict[str, Any]]) -> str:
        text, usage = await self.model.complete(messages, model=self.spec.model)
        self._account(usage)
        return text

    async def run_turn(self, messages: list[dict[str, Any]], turn: int) -> Next:
        self.emit("turn_started", {"turn": turn})
        allowance = self._output_allowance(messages)
        streamed = 0
        calls: list[ToolCallComplete] = []
        tasks: list[asyncio.Task[str]] = []
        final: MessageComplete | None = None
        self._warning = self._stuck = None
        self._scan_for_secrets(messages)
        try:
            stream = self.model.stream(
                messages,
                tools=self.schemas,
                model=self.spec.model,
                temperature=self.spec.temperature,
                max_output_tokens=self.spec.max_output_tokens,
            )
            async with aclosing(stream):
                async for event in stream:
                    if isinstance(event, TextDelta):
                        streamed += len(event.text)
                        self.emit("text_delta", {"text": event.text})
                    elif isinstance(event, ToolCallComplete):
                        streamed += len(event.raw_arguments)
                        calls.append(event)
                        tasks.append(asyncio.create_task(self._execute(event)))
                    elif isinstance(event, MessageComplete):
                        final = event
                    if streamed > allowance:
                        self._account(self._estimate(messages, streamed))
                        raise BudgetExceeded(self._budget_message("while streaming"))
            results = await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        if final is None:
            raise ModelFailed("the model stream ended without a final message")
        self._account(final.usage)
        messages.append(_assistant_message(final))
        messages.extend(
            {"role": "tool", "tool_call_id": call.call_id, "content": text}
            for call, text in zip(calls, results, strict=True)
        )
        return self._conclude(messages, final)

    def _conclude(self, messages: list[dict[str, Any]], final: MessageComplete) -> Next:
        if self._submission is not None:
            raise Submitted(self._submission)
        if self.invalid_submits >= self.spec.limits.max_invalid_submits:
            raise InvalidSubmissions(
                f"{self.spec.submit_name} was called with invalid arguments {self.invalid_submits} times"
            )
        if self._stuck:
            raise StuckInLoop(f"stuck in a loop: {self._stuck}")
        if (
            self.usage.total_tokens > self.spec.limits.max_tokens
            or self.usage.cost_usd > self.spec.limits.max_cost_usd
        ):
            raise BudgetExceeded(self._budget_message("after the turn"))
        if self.budget is not None and self.budget.exhausted:
            raise BudgetExceeded(
                f"the run's budget of ${self.budget.limit_usd:.2f} is spent "
                f"(${self.budget.spent_usd:.4f} by all agents)"
            )
        if self._warning:
            messages.append({"role": "user", "content": self._warning})
            self.emit("warning", {"message": self._warning})
        return Next.RUN_AGAIN if final.tool_calls else Next.NUDGE

    async def _execute(self, call: ToolCallComplete) -> str:
        if call.name == self.spec.submit_name:
            return await self._check_submission(call)
        if call.arguments is None:
            return (
                f"error: the arguments of {call.name} were not a JSON object ({call.error}); send valid JSON"
            )
        verdict = self.loops.observe(call.name, call.arguments)
        if verdict is LoopVerdict.STUCK:
            self._stuck = f"{call.name} keeps being called with the same arguments"
            return "refused: this call repeats a loop you were warned about"
        if verdict is LoopVerdict.WARN:
            self._warning = self.loops.warning_text()
        tool = self.tools.get(call.name)
        if tool is None:
            known = ", ".join([*self.tools, self.spec.submit_name])
            return f"error: there is no tool named {call.name!r}; the tools you can call are: {known}"
        started = time.monotonic()
        self.emit(
            "tool_started",
            {
                "tool": call.name,
                "call_id": call.call_id,
                "arguments": self.redact.redact_data(call.arguments),
            },
        )
        outcome = await self._invoke(tool, call)
        text = truncate_output(outcome.text, self.context.max_tool_output_chars)
        duration = time.monotonic() - started
        self.emit(
            "tool_finished",
            {
                "tool": call.name,
                "call_id": call.call_id,
                "duration_s": duration,
                "is_error": outcome.is_error,
                "data": outcome.data,
            },
        )
        if self.hooks:
            await self.hooks.fire(
                "after_tool",
                {
                    "agent": self.spec.name,
                    "tool": call.name,
                    "is_error": outcome.is_error,
                    "duration_s": duration,
                },
            )
        return text

    async def _invoke(self, tool: Tool, call: ToolCallComplete) -> ToolOutcome:
        assert call.arguments is not None
        if self.hooks:
            reason = await self.hooks.veto(
                {
                    "agent": self.spec.name,
                    "tool": call.name,
                    "arguments": self.redact.redact_data(call.arguments),
                }
            )
            if reason is not None:
                return ToolOutcome(f"vetoed by a before_tool hook: {reason}", is_error=True)
        if tool.read_only:
            return await tool.invoke(self.ctx, call.arguments)
        async with self._write_lock:
            return await tool.invoke(self.ctx, call.arguments)

    async def _check_submission(self, call: ToolCallComplete) -> str:
        try:
            if call.arguments is None:
                raise ValueError(call.error or "arguments were not a JSON object")
            submission = self.spec.submit_model.model_validate(
                call.arguments, context={"workspace": self.ctx.workspace}
            )
        except (ValidationError, ValueError) as exc:
            self.invalid_submits += 1
            return f"error: {self.spec.submit_name} was rejected, fix these and call it again:\n{exc}"
        check = self.spec.submit_check
        if check is not None and not self.checked:
            self.checked = True
            try:
                async with self._write_lock:  # after the edits called before it in this turn
                    return self.redact.redact(await check(self.ctx, submission))
            except Exception as exc:
                logger.exception("the submit check of %s failed", self.spec.name)
                return (
                    f"(the check before submitting failed: {type(exc).__name__}: {exc}) Look over your "
                    f"changes yourself, then call {self.spec.submit_name} again to submit."
                )
        self._submission = submission
        return "submitted"

    def _account(self, usage: Usage) -> None:
        self.usage += usage
        if self.budget is not None:
            self.budget.add(usage.cost_usd)
        self.emit(
            "usage",
            {
                "input_tokens": self.usage.input_tokens,
                "output_tokens": self.usage.output_tokens,
                "cost_usd": self.usage.cost_usd,
            },
        )

    def _output_allowance(self, messages: list[dict[str, Any]]) -> float:
        """Characters this turn may stream before the token or USD budget is certainly spent."""
        limits, model = self.spec.limits, self.spec.model
        prompt = count_messages(messages)
        tokens_left = limits.max_tokens - self.usage.total_tokens - prompt
        per_token = self.model.price(model, 0, 1)
        usd_left = limits.max_cost_usd - self.usage.cost_usd
        if self.budget is not None:
            usd_left = min(usd_left, self.budget.remaining_usd)
        usd_left -= self.model.price(model, prompt, 0)
        if per_token > 0:
            tokens_left = min(tokens_left, int(usd_left / per_token))
        return max(tokens_left, 0) * CHARS_PER_TOKEN

    def _estimate(self, messages: list[dict[str, Any]], streamed_chars: int) -> Usage:
        prompt, output = count_messages(messages), streamed_chars // CHARS_PER_TOKEN
        return Usage(
            prompt, output, cost_usd=self.model.price(self.spec.model, prompt, output), estimated=True
        )

    def _budget_message(self, when: str) -> str:
        limits = self.spec.limits
        return (
            f"budget exceeded {when}: {self.usage.total_tokens} tokens (limit {limits.max_tokens}), "
            f"${self.usage.cost_usd:.4f} (limit ${limits.max_cost_usd:.2f})"
        )


def _assistant_message(final: MessageComplete) -> dict[str, Any]:
    """The assistant message sent back: tool-call arguments always as a valid JSON string."""
    message: dict[str, Any] = {"role": "assistant", "content": final.text or None}
    if final.tool_calls:
        message["tool_calls"] = [
            {
                "id": call.call_id,
                "type": "function",
                "function": {
                    "name": call.name,
                    "arguments": json.dumps(
                        call.arguments
                        if call.arguments is not None
                        else {"invalid_arguments": call.raw_arguments}
                    ),
                },
            }
            for call in final.tool_calls
        ]
    return message
