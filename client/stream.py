"""Turn streamed chat-completion chunks into events, completing each tool call as early as possible.

A tool call is complete when the next call starts or a finish_reason arrives, not when the stream
ends (openai-python ``lib/streaming/chat/_completions.py`` does the same), so the caller can start
running it while the model is still talking.

Providers differ in how they send tool-call fragments; a fragment goes to:

* the call with the same ``id`` when it has an id (some reuse one ``index`` for every call, some
  resend the id with every fragment);
* else the call last seen at its ``index``;
* else, with neither (some omit ``index``), the call being streamed.

A name resent with every fragment is kept once. Argument fragments are joined once, at completion.
"""

import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from openai.types import CompletionUsage
from openai.types.chat import ChatCompletionChunk
from openai.types.chat.chat_completion_chunk import ChoiceDeltaToolCall

from client.events import ModelEvent, TextDelta, ToolCallComplete, ToolCallStarted

logger = logging.getLogger("nightshift.client")

_EXCERPT_CHARS = 200


@dataclass
class _PartialCall:
    call_id: str
    position: int
    name: str = ""
    fragments: list[str] = field(default_factory=list)
    announced: bool = False


class StreamAssembler:
    """Feed it the chunks of one streamed response; it returns the events each chunk completes."""

    def __init__(self) -> None:
        self._text: list[str] = []
        self._calls: list[_PartialCall] = []
        self._by_id: dict[str, _PartialCall] = {}
        self._by_index: dict[int, _PartialCall] = {}
        self._open: _PartialCall | None = None
        self._complete: list[ToolCallComplete] = []
        self.finish_reason: str | None = None
        self.usage: CompletionUsage | None = None
        """The provider's usage report, when it sent one."""

    @property
    def text(self) -> str:
        return "".join(self._text)

    @property
    def tool_calls(self) -> tuple[ToolCallComplete, ...]:
        return tuple(self._complete)

    def feed(self, chunk: ChatCompletionChunk) -> list[ModelEvent]:
        events: list[ModelEvent] = []
        if chunk.usage is not None:
            self.usage = chunk.usage
        for choice in chunk.choices:
            if choice.index:  # one choice is requested; ignore any other
                continue
            delta = choice.delta
            if delta is not None:
                if delta.content:
                    self._text.append(delta.content)
                    events.append(TextDelta(delta.content))
                for fragment in delta.tool_calls or ():
                    events.extend(self._add_fragment(fragment))
            if choice.finish_reason:
                events.extend(self._close_open_call())
                self.finish_reason = choice.finish_reason
        return events

    def _add_fragment(self, fragment: ChoiceDeltaToolCall) -> list[ModelEvent]:
        events: list[ModelEvent] = []
        call = self._find(fragment)
        if call is None:
            events.extend(self._close_open_call())
            call = _PartialCall(
                call_id=fragment.id or f"call_{uuid.uuid4().hex[:24]}", position=len(self._calls)
            )
            self._calls.append(call)
            self._open = call
            if fragment.id:
                self._by_id[fragment.id] = call
        if fragment.index is not None:
            self._by_index[fragment.index] = call
        if call is not self._open:
            logger.warning(
                "ignored a late argument fragment for tool call %s (%s), which was already complete",
                call.call_id,
                call.name,
            )
            return events
        function = fragment.function
        if function is not None:
            if function.name and not call.name:
                call.name = function.name
            if function.arguments:
                call.fragments.append(function.arguments)
        if call.name and not call.announced:
            call.announced = True
            events.append(ToolCallStarted(call.call_id, call.name, call.position))
        return events

    def _find(self, fragment: ChoiceDeltaToolCall) -> _PartialCall | None:
        if fragment.id:
            return self._by_id.get(fragment.id)
        if fragment.index is not None:
            return self._by_index.get(fragment.index)
        return self._open

    def _close_open_call(self) -> list[ModelEvent]:
        call, self._open = self._open, None
        if call is None:
            return []
        events: list[ModelEvent] = []
        if not call.announced:
            call.announced = True
            events.append(ToolCallStarted(call.call_id, call.name, call.position))
        raw = "".join(call.fragments)
        arguments, error = parse_arguments(raw)
        complete = ToolCallComplete(call.call_id, call.name, call.position, raw, arguments, error)
        self._complete.append(complete)
        events.append(complete)
        return events


_JSON_KINDS = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean"}


def parse_arguments(raw: str) -> tuple[dict[str, Any] | None, str | None]:
    """Tool arguments as a JSON object, or None and why not. Empty arguments mean no arguments."""
    if not raw.strip():
        return {}, None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        return None, f"arguments are not valid JSON ({exc.msg} at character {exc.pos}): {_excerpt(raw)}"
    if not isinstance(value, dict):
        kind = _JSON_KINDS.get(type(value), "null")
        return None, f"arguments must be a JSON object, got {kind}: {_excerpt(raw)}"
    return value, None


def _excerpt(raw: str) -> str:
    return repr(raw if len(raw) <= _EXCERPT_CHARS else raw[:_EXCERPT_CHARS] + "...")
