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

Chunks arrive as the JSON objects the provider sent (``ModelClient`` asks the SDK for them undecoded):
building the SDK's typed chunk for each streamed token cost more CPU than the rest of a turn's work.
Every field is read leniently, as the SDK's own construction does: a missing or null field is absent.
"""

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from client.events import ModelEvent, TextDelta, ToolCallComplete, ToolCallStarted

logger = logging.getLogger("nightshift.client")

_EXCERPT_CHARS = 200


@dataclass(frozen=True, slots=True)
class ReportedUsage:
    """The provider's usage report (the chunk with ``usage``)."""

    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int


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
        self.usage: ReportedUsage | None = None
        """The provider's usage report, when it sent one."""

    @property
    def text(self) -> str:
        return "".join(self._text)

    @property
    def tool_calls(self) -> tuple[ToolCallComplete, ...]:
        return tuple(self._complete)

    def feed(self, chunk: Mapping[str, Any]) -> list[ModelEvent]:
        """One chunk as the provider sent it (``choices``, each with a ``delta``; ``usage``)."""
        events: list[ModelEvent] = []
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            details = usage.get("prompt_tokens_details")
            cached = details.get("cached_tokens") if isinstance(details, dict) else None
            self.usage = ReportedUsage(
                usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0, cached or 0
            )
        for choice in chunk.get("choices") or ():
            if choice.get("index"):  # one choice is requested; ignore any other
                continue
            delta = choice.get("delta")
            if delta:
                content = delta.get("content")
                if content:
                    self._text.append(content)
                    events.append(TextDelta(content))
                for fragment in delta.get("tool_calls") or ():
                    events.extend(self._add_fragment(fragment))
            finish_reason = choice.get("finish_reason")
            if finish_reason:
                events.extend(self._close_open_call())
                self.finish_reason = finish_reason
        return events

    def _add_fragment(self, fragment: Mapping[str, Any]) -> list[ModelEvent]:
        events: list[ModelEvent] = []
        fragment_id, index = fragment.get("id"), fragment.get("index")
        call = self._find(fragment_id, index)
        if call is None:
            events.extend(self._close_open_call())
            call = _PartialCall(
                call_id=fragment_id or f"call_{uuid.uuid4().hex[:24]}", position=len(self._calls)
            )
            self._calls.append(call)
            self._open = call
            if fragment_id:
                self._by_id[fragment_id] = call
        if index is not None:
            self._by_index[index] = call
        if call is not self._open:
            logger.warning(
                "ignored a late argument fragment for tool call %s (%s), which was already complete",
                call.call_id,
                call.name,
            )
            return events
        function = fragment.get("function")
        if function:
            name, arguments = function.get("name"), function.get("arguments")
            if name and not call.name:
                call.name = name
            if arguments:
                call.fragments.append(arguments)
        if call.name and not call.announced:
            call.announced = True
            events.append(ToolCallStarted(call.call_id, call.name, call.position))
        return events

    def _find(self, fragment_id: str | None, index: int | None) -> _PartialCall | None:
        if fragment_id:
            return self._by_id.get(fragment_id)
        if index is not None:
            return self._by_index.get(index)
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
