"""Typed events a model stream yields, in the order the model produced them.

A stream yields any number of ``TextDelta``; each tool call is announced by ``ToolCallStarted`` when
its name is known and ``ToolCallComplete`` as soon as its arguments are complete (the next call
started or a finish_reason arrived), not when the stream ends; ``MessageComplete`` comes last.
"""

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens and cost of one model call (or a sum of calls)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cost_usd: float = 0.0
    estimated: bool = False
    """True when the provider sent no usage and the tokens were counted locally."""

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cached_input_tokens=self.cached_input_tokens + other.cached_input_tokens,
            cost_usd=self.cost_usd + other.cost_usd,
            estimated=self.estimated or other.estimated,
        )


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the assistant's visible text."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCallStarted:
    """A tool call whose name is known; its arguments are still streaming."""

    call_id: str
    name: str
    position: int
    """0-based order of the call within the message."""


@dataclass(frozen=True, slots=True)
class ToolCallComplete:
    """A tool call whose arguments are complete.

    ``arguments`` is the parsed JSON object, or None when ``raw_arguments`` is not a JSON object;
    then ``error`` says why, so the loop can tell the model instead of running the tool.
    """

    call_id: str
    name: str
    position: int
    raw_arguments: str
    arguments: dict[str, Any] | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class MessageComplete:
    """The end of one model call: the whole message, why it stopped, and what it cost."""

    model: str
    finish_reason: str
    text: str
    tool_calls: tuple[ToolCallComplete, ...]
    usage: Usage
    attempts: int = 1
    """Requests it took (retries and fallback included)."""
    notes: tuple[str, ...] = field(default_factory=tuple)
    """Human-readable remarks: retries, fallback to another model, estimated usage."""


ModelEvent = TextDelta | ToolCallStarted | ToolCallComplete | MessageComplete
