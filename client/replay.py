"""A retried stream never hands the caller anything twice.

When an attempt fails part-way, the next attempt (or the fallback model) streams the reply again
from the start. ``Replay`` remembers what the caller already has: how many characters of text, which
tool calls were announced and which were completed, and lets through only what is new. Tool calls the
caller already holds keep the id it was given, so its tool results still match.

A replay is expected to repeat the reply (same request, temperature 0). When it does not, what the
caller already holds wins for tool calls (it may have run them), and ``MessageComplete.text`` is the
replay's text.
"""

from dataclasses import replace

from client.events import ModelEvent, TextDelta, ToolCallComplete, ToolCallStarted


class Replay:
    """Filters the events of successive attempts of one model call."""

    def __init__(self) -> None:
        self._shown_chars = 0
        self._attempt_chars = 0
        self._started: list[ToolCallStarted] = []
        self._completed: list[ToolCallComplete] = []

    def begin_attempt(self) -> None:
        self._attempt_chars = 0

    def admit(self, event: ModelEvent) -> ModelEvent | None:
        """The part of ``event`` the caller has not seen yet, or None."""
        if isinstance(event, TextDelta):
            start = self._attempt_chars
            self._attempt_chars += len(event.text)
            if self._attempt_chars <= self._shown_chars:
                return None
            seen = self._shown_chars - start
            self._shown_chars = self._attempt_chars
            return event if seen <= 0 else TextDelta(event.text[seen:])
        if isinstance(event, ToolCallStarted):
            if event.position < len(self._started):
                return None
            self._started.append(event)
            return event
        if isinstance(event, ToolCallComplete):
            if event.position < len(self._completed):
                return None
            announced_id = self._started[event.position].call_id
            admitted = event if event.call_id == announced_id else replace(event, call_id=announced_id)
            self._completed.append(admitted)
            return admitted
        return event

    def unanswered(self) -> list[ToolCallComplete]:
        """Calls announced by an earlier attempt that the final attempt never made, closed with an error."""
        closed = [
            ToolCallComplete(
                started.call_id,
                started.name,
                started.position,
                raw_arguments="",
                arguments=None,
                error="the model stream was retried and the model did not make this call again",
            )
            for started in self._started[len(self._completed) :]
        ]
        self._completed.extend(closed)
        return closed

    @property
    def tool_calls(self) -> tuple[ToolCallComplete, ...]:
        """Every tool call handed to the caller, as handed."""
        return tuple(self._completed)
