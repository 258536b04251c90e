"""Notice when an agent repeats itself: the same tool call, or a short cycle of calls, over and over.

Two calls are the same when their names match and their arguments serialise to the same canonical JSON
(sorted keys), so ``{"a": 1, "b": 2}`` and ``{"b": 2, "a": 1}`` are one call. A loop is the last
``repeat`` periods of the history being identical, for a period of 1, 2 or 3 distinct calls::

    A A A                 the same call ``repeat`` times in a row
    A B A B A B           a cycle of two distinct calls, ``repeat`` times
    A B C A B C A B C     a cycle of three distinct calls, ``repeat`` times

A cycle whose calls are not distinct (``A A B A A B ...``) is not counted: it contains a run of A that
is either a loop by itself or exploration with progress in between.

Verdicts: the first loop seen is a WARN (the agent loop injects ``warning_text()`` once). After that
warning every observation that completes or extends a loop is STUCK, whether it is the same loop
continuing or a different one that started after a break: the model has had its one warning, and a
second loop shows the warning did not help. Observations that complete no loop are OK.

Each observation costs O(3 * repeat): only the last ``3 * repeat`` calls are kept.
"""

import enum
import json
from collections import deque
from collections.abc import Mapping
from typing import Any, NamedTuple

_MAX_PERIOD = 3
_MAX_ARGS_CHARS = 200


class LoopVerdict(enum.Enum):
    """What the agent loop should do after a tool call."""

    OK = "ok"
    """No loop: carry on."""
    WARN = "warn"
    """The first loop: tell the model once (``LoopDetector.warning_text``)."""
    STUCK = "stuck"
    """A loop after the warning: stop the agent."""


class _Call(NamedTuple):
    name: str
    arguments: str
    """Canonical JSON of the arguments."""


class LoopDetector:
    """Watches the tool calls of one agent run; see the module docstring for the rules."""

    def __init__(self, repeat: int = 3) -> None:
        if repeat < 2:
            raise ValueError(f"repeat must be at least 2 (got {repeat}): one call is not a loop")
        self._repeat = repeat
        self._recent: deque[_Call] = deque(maxlen=_MAX_PERIOD * repeat)
        self._warned = False
        self._loop: tuple[_Call, ...] = ()

    def observe(self, name: str, arguments: Mapping[str, Any]) -> LoopVerdict:
        """Record one tool call and say whether the run is looping."""
        self._recent.append(_Call(name, _canonical(arguments)))
        cycle = self._find_cycle()
        if cycle is None:
            return LoopVerdict.OK
        self._loop = cycle
        if self._warned:
            return LoopVerdict.STUCK
        self._warned = True
        return LoopVerdict.WARN

    def warning_text(self) -> str:
        """Words for the model about the loop last seen: which calls, how often, what to do instead."""
        if not self._loop:
            raise RuntimeError("warning_text() called before any loop was observed")
        if len(self._loop) == 1:
            (call,) = self._loop
            what = (
                f"You have made the same tool call {self._repeat} times in a row: "
                f"{_describe(call)}. It returns the same result every time."
            )
        else:
            steps = "; ".join(f"{i}. {_describe(call)}" for i, call in enumerate(self._loop, start=1))
            what = (
                f"You have repeated the same sequence of {len(self._loop)} tool calls "
                f"{self._repeat} times in a row: {steps}. It returns the same results every time."
            )
        return (
            f"{what} Repeating it will not bring anything new. Use what those results already told you "
            "and change approach: a different tool, different arguments, a narrower query, or another "
            "hypothesis. If you cannot make progress, finish now and report what you found and what is "
            "still open. If you keep looping, this run will be stopped."
        )

    def _find_cycle(self) -> tuple[_Call, ...] | None:
        recent = list(self._recent)
        for period in range(1, _MAX_PERIOD + 1):
            span = period * self._repeat
            if len(recent) < span:
                return None
            window = recent[-span:]
            cycle = tuple(window[:period])
            if len(set(cycle)) != period:
                continue
            if all(window[i] == cycle[i % period] for i in range(period, span)):
                return cycle
        return None


def _canonical(arguments: Mapping[str, Any]) -> str:
    return json.dumps(
        dict(arguments), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=repr
    )


def _describe(call: _Call) -> str:
    arguments = call.arguments
    if len(arguments) > _MAX_ARGS_CHARS:
        arguments = arguments[:_MAX_ARGS_CHARS] + "…"
    return f"{call.name} with arguments {arguments}"
