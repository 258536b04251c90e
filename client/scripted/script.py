"""What the scripted model says: named scripts of turns, each with its timing, faults and quirks.

A script file (JSON) maps a script name to its list of turns. The name doubles as the routing text:
one phrase, or several joined by `` & ``. A request matches a script when the first phrase appears in
its system message and every further phrase in its first user message (the task); of the scripts it
matches, the one with the most phrases serves it, else ``"*"``. So ``code agent`` serves the code
agent, and ``code agent & requested changes`` the code agent's conversations about a reviewer's
request. A fault may be written as its kind alone (``"rate_limit"``) or as an object.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter

FaultKind = Literal["rate_limit", "server_error", "reject", "cut", "drop", "bad_json"]
Quirk = Literal["omit_index", "reuse_index", "repeat_name", "no_cached_details", "no_usage"]
"""Provider habits: tool-call fragments without ``index``; every call on index 0; the function name
resent with every fragment; usage without ``prompt_tokens_details``; no usage chunk at all."""

DEFAULT_SCRIPT = "*"
ROUTE_SEPARATOR = " & "


def routes(name: str, system: str, opening: str) -> bool:
    """Whether script ``name`` serves a request with this system message and first user message."""
    first, *more = name.split(ROUTE_SEPARATOR)
    return first in system and all(phrase in opening for phrase in more)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Fault(_Strict):
    """One request that goes wrong before the turn is served; each fault consumes one request."""

    kind: FaultKind
    """``rate_limit`` 429 with Retry-After; ``server_error`` 5xx; ``reject`` a 4xx such as 400 or 401;
    ``cut`` the stream ends cleanly mid-way (no finish_reason, no [DONE]); ``drop`` the connection is
    aborted mid-way; ``bad_json`` the turn is served with malformed tool arguments."""
    status: int | None = None
    """HTTP status for ``server_error`` (default 500) and ``reject`` (default 400)."""
    retry_after_s: float | None = 1.0
    """Retry-After header of a ``rate_limit`` fault; None sends none."""
    message: str | None = None
    """Error message in the response body; a default one names the fault."""
    param: str | None = None
    """The request parameter a ``reject`` blames (the body's ``param``), as OpenAI does: ``temperature``
    for a reasoning model that accepts only its default temperature."""
    after_chunks: Annotated[int, Field(ge=1)] | None = None
    """``cut``/``drop``: data lines sent before the stream stops; None means half the body."""


def _fault_from_kind(value: Any) -> Any:
    return {"kind": value} if isinstance(value, str) else value


class ScriptedCall(_Strict):
    """A tool call the model makes."""

    name: str
    arguments: dict[str, Any] | str = Field(default_factory=dict)
    """A dict is sent as compact JSON; a string is sent verbatim (to script malformed arguments)."""
    id: str | None = None
    """Tool-call id; None gives a deterministic ``call_<request>_<position>``."""


class ScriptedUsage(_Strict):
    """Usage numbers reported for the turn, so tests can check cost totals."""

    prompt_tokens: Annotated[int, Field(ge=0)]
    completion_tokens: Annotated[int, Field(ge=0)]
    cached_tokens: Annotated[int, Field(ge=0)] = 0


class Turn(_Strict):
    """One assistant reply, and how it is delivered."""

    content: str = ""
    tool_calls: list[ScriptedCall] = Field(default_factory=list)
    faults: list[Annotated[Fault, BeforeValidator(_fault_from_kind)]] = Field(default_factory=list)
    """Consumed one per request, in order, before the turn is served."""
    finish_reason: str | None = None
    """None: ``tool_calls`` when the turn has tool calls, else ``stop``."""
    ttft_s: Annotated[float, Field(ge=0)] = 0.0
    """Delay before the first data line (time to first token)."""
    chunk_delay_s: Annotated[float, Field(ge=0)] = 0.0
    """Delay before each following content or tool-call data line."""
    chunk_chars: Annotated[int, Field(ge=1)] = 16
    """Characters of content or of tool arguments per data line."""
    stall_after_chunks: Annotated[int, Field(ge=1)] | None = None
    """After this many data lines the stream hangs for ``stall_s``."""
    stall_s: Annotated[float, Field(ge=0)] = 0.0
    tail_delay_s: Annotated[float, Field(ge=0)] = 0.0
    """Delay between the last content or tool-call fragment and the finish_reason chunk."""
    done_delay_s: Annotated[float, Field(ge=0)] = 0.0
    """Delay between the finish_reason chunk and the rest (usage chunk, [DONE])."""
    usage: ScriptedUsage | None = None
    """None: counted deterministically from the request and the reply with ``context.tokens``."""
    quirks: frozenset[Quirk] = frozenset()


Scripts = dict[str, list[Turn]]
SCRIPTS = TypeAdapter(Scripts)
"""Validates a script file's content: ``{"script name": [turn, ...]}``."""
