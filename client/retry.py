"""Which failures are worth another attempt, and how long to wait before it."""

from collections.abc import Callable, Mapping

import openai

from config import ModelSettings

_RETRYABLE_4XX = frozenset({408, 409, 429})


class AttemptFailed(Exception):
    """One attempt failed in a way another attempt may not (rate limit, 5xx, connection, cut stream)."""

    def __init__(self, reason: str, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s


def is_rejection(status: int) -> bool:
    """A 4xx the same request will get again: 400, 401, 403, 404, 422, ... (not 408, 409, 429)."""
    return 400 <= status < 500 and status not in _RETRYABLE_4XX


def provider_message(exc: openai.APIStatusError) -> str:
    """The provider's own error message when its body has one, else the SDK's summary."""
    body = exc.body
    if isinstance(body, Mapping):
        message = body.get("message")
        if isinstance(message, str) and message:
            return message
    return exc.message


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms`` or ``retry-after`` in seconds)."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) * scale
        except ValueError:
            continue
        if seconds >= 0:
            return seconds
    return None


def describe(exc: openai.APIError) -> str:
    """A short reason for a failed attempt, for logs, notes and the final error."""
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}: {provider_message(exc)}"
    if isinstance(exc, openai.APITimeoutError):
        return "request timed out"
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__
        return f"connection error: {cause}" if cause is not None else "connection error"
    return f"provider error in the stream: {exc.message}"


def backoff_delay(
    settings: ModelSettings, retry: int, jitter: Callable[[], float], retry_after: float | None
) -> float:
    """Seconds before retry number ``retry`` (0-based).

    A Retry-After from the server wins (capped at ``backoff_max_s``); otherwise exponential backoff
    ``backoff_base_s * 2**retry`` capped at ``backoff_max_s``, times a jitter factor in 0.5..1.0 so
    that many agents backing off together do not retry in lockstep.
    """
    if retry_after is not None:
        return min(retry_after, settings.backoff_max_s)
    delay = min(settings.backoff_base_s * 2**retry, settings.backoff_max_s)
    return delay * (0.5 + 0.5 * jitter())
