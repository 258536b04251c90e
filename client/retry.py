"""Which failures of the model endpoint are worth another attempt (``retries`` says how long to wait)."""

from collections.abc import Mapping

import openai

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
