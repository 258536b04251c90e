"""The Starlette app: route each request to a script, apply the turn's next fault, serve the turn.

State lives in a ``ScriptBook`` shared between the server thread and the test thread (guarded by a
lock): the scripts, each script's turn pointer and pending faults, and the log of every request.
"""

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from client.scripted.protocol import Line, completion_body, error_body, make_reply, stream_lines
from client.scripted.script import DEFAULT_SCRIPT, ROUTE_SEPARATOR, SCRIPTS, Fault, FaultKind, Turn, routes


class StreamDropped(Exception):
    """Raised inside a response body to make uvicorn abort the connection (a ``drop`` fault)."""


@dataclass
class RecordedRequest:
    """One request as the server saw it."""

    number: int
    """0-based position in the server's request log."""
    body: dict[str, Any]
    script: str | None
    """Name of the script that served it; None when no script matched."""
    turn: int | None
    """0-based index of the turn served (or faulted) within the script."""
    fault: FaultKind | None
    error: str | None = None
    """Why the server answered 500 on its own (no matching script, script exhausted)."""
    marks: dict[str, float] = field(default_factory=dict)
    """``time.monotonic()`` when ``first_chunk``, ``finish_reason`` and ``done`` were about to be sent."""


@dataclass
class _Cursor:
    turns: list[Turn]
    position: int = 0
    pending: list[Fault] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.pending = list(self.turns[0].faults) if self.turns else []


@dataclass(frozen=True, slots=True)
class _Outcome:
    record: RecordedRequest
    turn: Turn | None
    fault: Fault | None


class ScriptBook:
    """Scripts, their turn pointers and the request log.

    ``per_conversation``: instead of one pointer per script, each request gets the turn its own
    conversation has reached (the number of assistant messages it carries). Any number of
    conversations, concurrent or started over (an agent run again after a crash), then play the same
    script from its first turn: many incidents of the same bug, on several workers. Faults need the
    pointers, so scripts for this mode have none.
    """

    def __init__(
        self, scripts: Mapping[str, Sequence[Turn | Mapping[str, Any]]], *, per_conversation: bool = False
    ) -> None:
        self._lock = threading.Lock()
        self._cursors: dict[str, _Cursor] = {}
        self._requests: list[RecordedRequest] = []
        self.per_conversation = per_conversation
        self.load(scripts)

    def load(self, scripts: Mapping[str, Sequence[Turn | Mapping[str, Any]]]) -> None:
        """Replace every script (pointers restart at turn 0) and forget the requests seen so far."""
        validated = SCRIPTS.validate_python({name: list(turns) for name, turns in scripts.items()})
        if self.per_conversation and any(turn.faults for turns in validated.values() for turn in turns):
            raise ValueError("scripts played per conversation cannot have faults (they need one pointer)")
        with self._lock:
            self._cursors = {name: _Cursor(turns) for name, turns in validated.items()}
            self._requests = []

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def take(self, body: dict[str, Any]) -> _Outcome:
        """Record the request and decide what it gets: a fault, the turn, or an error."""
        with self._lock:
            record = RecordedRequest(
                number=len(self._requests), body=body, script=None, turn=None, fault=None
            )
            self._requests.append(record)
            name = self._route(_system_text(body), _opening(body))
            if name is None:
                record.error = (
                    f"no script matches this request's system message; scripts: {sorted(self._cursors)} "
                    f"(add a {DEFAULT_SCRIPT!r} script to serve any request)"
                )
                return _Outcome(record, None, None)
            cursor = self._cursors[name]
            record.script = name
            if self.per_conversation:
                cursor = _Cursor(cursor.turns, _assistant_turns(body))
            if cursor.position >= len(cursor.turns):
                record.error = (
                    f"script {name!r} is exhausted: all {len(cursor.turns)} turns were served, "
                    f"and request #{record.number} asked for one more"
                )
                return _Outcome(record, None, None)
            record.turn = cursor.position
            turn = cursor.turns[cursor.position]
            if cursor.pending:
                fault = cursor.pending.pop(0)
                record.fault = fault.kind
                return _Outcome(record, turn, fault)
            cursor.position += 1
            if cursor.position < len(cursor.turns):
                cursor.pending = list(cursor.turns[cursor.position].faults)
            return _Outcome(record, turn, None)

    def _route(self, system: str, opening: str) -> str | None:
        """The script whose routing phrases the request matches (``script.routes``); the one with the
        most phrases wins, so ``code agent & requested changes`` takes a revision's conversation and
        ``code agent`` every other one of that agent."""
        matches = [name for name in self._cursors if name != DEFAULT_SCRIPT and routes(name, system, opening)]
        if matches:
            return max(matches, key=lambda name: len(name.split(ROUTE_SEPARATOR)))
        return DEFAULT_SCRIPT if DEFAULT_SCRIPT in self._cursors else None


def _assistant_turns(body: dict[str, Any]) -> int:
    """How many replies the conversation has had: the turn it asks for next."""
    messages = body.get("messages") or []
    return sum(1 for message in messages if isinstance(message, dict) and message.get("role") == "assistant")


def _system_text(body: dict[str, Any]) -> str:
    return "\n".join(_texts(body, ("system", "developer")))


def _opening(body: dict[str, Any]) -> str:
    """The conversation's first user message: the agent's task."""
    return next(iter(_texts(body, ("user",))), "")


def _texts(body: dict[str, Any], roles: tuple[str, ...]) -> list[str]:
    """The text of each message with one of ``roles``, in order."""
    texts: list[str] = []
    for message in body.get("messages") or []:
        if not isinstance(message, dict) or message.get("role") not in roles:
            continue
        content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts.append(
                "\n".join(
                    part["text"]
                    for part in content
                    if isinstance(part, dict) and isinstance(part.get("text"), str)
                )
            )
    return texts


def create_app(book: ScriptBook) -> Starlette:
    """An OpenAI-compatible app serving ``POST /v1/chat/completions`` from ``book``."""

    async def chat_completions(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError as exc:
            return _error(400, f"request body is not JSON: {exc}", "invalid_request_error")
        if not isinstance(body, dict):
            return _error(400, "request body must be a JSON object", "invalid_request_error")
        outcome = book.take(body)
        record, turn, fault = outcome.record, outcome.turn, outcome.fault
        if record.error is not None or turn is None:
            return _error(500, record.error or "no turn", "server_error")
        if fault is not None and (response := _fault_response(fault)) is not None:
            return response
        bad_json = fault is not None and fault.kind == "bad_json"
        reply = make_reply(turn, body, request_no=record.number, bad_json=bad_json)
        cut = fault if fault is not None and fault.kind in ("cut", "drop") else None
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            lines = stream_lines(reply, include_usage=include_usage)
            return StreamingResponse(_send(lines, turn, cut, record), media_type="text/event-stream")
        if cut is not None:
            return StreamingResponse(
                _send_half(json.dumps(completion_body(reply))), media_type="application/json"
            )
        return JSONResponse(completion_body(reply))

    return Starlette(routes=[Route("/v1/chat/completions", chat_completions, methods=["POST"])])


def _error(
    status: int, message: str, kind: str, headers: dict[str, str] | None = None, param: str | None = None
) -> JSONResponse:
    return JSONResponse(error_body(message, kind=kind, param=param), status_code=status, headers=headers)


def _fault_response(fault: Fault) -> JSONResponse | None:
    """The error response of a fault that fails the request outright; None for faults in the body."""
    if fault.kind == "rate_limit":
        headers = {} if fault.retry_after_s is None else {"Retry-After": f"{fault.retry_after_s:g}"}
        message = fault.message or "Rate limit reached (scripted fault). Please try again later."
        return _error(429, message, "rate_limit_exceeded", headers)
    if fault.kind == "server_error":
        return _error(
            fault.status or 500, fault.message or "The server had an error (scripted fault).", "server_error"
        )
    if fault.kind == "reject":
        status = fault.status or 400
        kind = "authentication_error" if status == 401 else "invalid_request_error"
        message = fault.message or f"Request rejected with {status} (scripted fault)."
        return _error(status, message, kind, param=fault.param)
    return None


async def _send(
    lines: list[Line], turn: Turn, cut: Fault | None, record: RecordedRequest
) -> AsyncIterator[str]:
    finish_at = next(position for position, line in enumerate(lines) if line.mark == "finish_reason")
    stop_at = None if cut is None else min(cut.after_chunks or max(1, finish_at // 2), finish_at)
    for sent, line in enumerate(lines):
        if sent == stop_at:
            if cut is not None and cut.kind == "drop":
                raise StreamDropped(f"scripted drop after {sent} data lines")
            return
        if turn.stall_after_chunks is not None and sent == turn.stall_after_chunks:
            await asyncio.sleep(turn.stall_s)
        if line.delay_s:
            await asyncio.sleep(line.delay_s)
        if line.mark is not None:
            record.marks[line.mark] = time.monotonic()
        yield f"data: {line.payload}\n\n"


async def _send_half(text: str) -> AsyncIterator[str]:
    yield text[: len(text) // 2]
    raise StreamDropped("scripted drop half-way through the response body")


class _HideDrops(logging.Filter):
    """Keep uvicorn from logging a scripted ``drop`` as an application error."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
            error = error.exceptions[0]
        return not isinstance(error, StreamDropped)


def hide_scripted_drops() -> None:
    """Install the filter once on uvicorn's error logger."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(existing, _HideDrops) for existing in logger.filters):
        logger.addFilter(_HideDrops())
