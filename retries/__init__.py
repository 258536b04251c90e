"""When to try again and how long to wait first: the one retry policy, on tenacity.

Every retry in Nightshift waits the same way (``Backoff.wait_s``): exponentially from ``first_s``,
doubling each retry up to ``max_s``, times a jitter factor between ``1 - jitter`` and 1, so that many
clients backing off together do not come back in lockstep. When the service said how long to wait
(``Retry-After``; ``retry_after_s`` reads it), that wait replaces the backoff, capped at
``retry_after_max_s``.

Two kinds of caller use it:

- a retry *in process*, while something waits for it: the model client's streams, Jira's reads. They
  run their attempts under ``Backoff.retrying`` (tenacity's ``AsyncRetrying``), and cap a Retry-After,
  since an agent or a request is held for as long as the wait lasts;
- a retry *on a durable schedule*: the deliverer stores each delivery's next attempt time in the
  outbox, so that any worker, after any restart, makes it. It asks only for the wait
  (``Backoff.wait_s``), and obeys any Retry-After: nothing waits on a delivery, and the delivery's own
  deadline bounds it.

Tenacity rather than stamina: the callers inject the sleep (tests record the waits instead of
sleeping them) and the jitter, read the wait before sleeping it (the model client notes it on the
message, the deliverer stores it), and retry on an answer as well as on an exception (a Jira 429 is a
response, not an error); stamina keeps its waits and its sleep to itself.
"""

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from tenacity import AsyncRetrying, RetryCallState, stop_after_attempt
from tenacity.retry import retry_base
from tenacity.wait import wait_base

__all__ = ["Backoff", "retry_after_s"]

_MAX_DOUBLINGS = 64
"""Past this many retries the backoff is at its cap anyway (and 2**n would overflow a float)."""


def retry_after_s(headers: Mapping[str, str] | None, *, now: datetime | None = None) -> float | None:
    """The wait a response asked for, in seconds: ``Retry-After`` (seconds, or an HTTP date) or the
    ``retry-after-ms`` some model providers send. None when it asked for none (or nothing readable)."""
    named = {name.lower(): value for name, value in (headers or {}).items()}
    milliseconds = _seconds(named.get("retry-after-ms"))
    if milliseconds is not None:
        return milliseconds / 1000
    value = named.get("retry-after")
    seconds = _seconds(value)
    if seconds is not None or not value:
        return seconds
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _seconds(value: str | None) -> float | None:
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds >= 0 else None


@dataclass(frozen=True)
class Backoff:
    """How long to wait before retry number ``retry`` (0 for the first retry)."""

    first_s: float
    max_s: float
    jitter: float = 0.5
    """The share of each wait left to chance: 0.5 waits between half and all of it, 0 exactly all."""
    retry_after_max_s: float | None = None
    """The longest Retry-After obeyed (longer ones are cut to it); None obeys any."""
    random: Callable[[], float] = field(default=random.random, compare=False)
    """Where the jitter comes from: a number in [0, 1)."""

    def wait_s(self, retry: int, retry_after_s: float | None = None) -> float:
        """The wait before retry ``retry``: the service's Retry-After when it sent one, else the backoff."""
        if retry_after_s is not None:
            cap = self.retry_after_max_s
            return retry_after_s if cap is None else min(retry_after_s, cap)
        full = min(self.first_s * 2 ** min(retry, _MAX_DOUBLINGS), self.max_s)
        if not self.jitter:
            return full
        return full * (1 - self.jitter * (1 - self.random()))

    def retrying(
        self,
        *,
        attempts: int,
        retry: retry_base,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        before_sleep: Callable[[RetryCallState], None] | None = None,
    ) -> AsyncRetrying:
        """Up to ``attempts`` attempts (the first included), another one when ``retry`` says so, after
        this policy's wait (a Retry-After read from the failed attempt's error or response). When the
        attempts run out, the caller gets the last outcome: its answer, or its error raised."""
        return AsyncRetrying(
            stop=stop_after_attempt(attempts),
            wait=_Wait(self),
            retry=retry,
            sleep=sleep,
            before_sleep=before_sleep,
            retry_error_callback=_last_outcome,
        )


class _Wait(wait_base):
    """tenacity's view of a ``Backoff``: the wait after the attempt that just failed."""

    def __init__(self, backoff: Backoff) -> None:
        self.backoff = backoff

    def __call__(self, retry_state: RetryCallState) -> float:
        return self.backoff.wait_s(retry_state.attempt_number - 1, _asked(retry_state))


def _asked(state: RetryCallState) -> float | None:
    """The Retry-After of a failed attempt: on its error (``retry_after_s``), or in its response's headers."""
    outcome = state.outcome
    if outcome is None:
        return None
    if outcome.failed:
        asked = getattr(outcome.exception(), "retry_after_s", None)
        return float(asked) if isinstance(asked, int | float) else None
    headers = getattr(outcome.result(), "headers", None)
    return retry_after_s(headers) if isinstance(headers, Mapping) else None


def _last_outcome(state: RetryCallState) -> Any:
    assert state.outcome is not None
    return state.outcome.result()
