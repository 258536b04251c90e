"""Errors of the model client (the hierarchy is drawn in the package docstring)."""

from collections.abc import Sequence


class ModelError(Exception):
    """Base of every error the model client raises."""


class ModelRejected(ModelError):
    """The endpoint refused the request (400, 401, 403, 404, ...): retrying the same request cannot help."""

    def __init__(self, *, status: int, model: str, endpoint: str, provider_message: str) -> None:
        self.status = status
        self.model = model
        self.endpoint = endpoint
        self.provider_message = provider_message
        super().__init__(
            f"{endpoint} rejected the request for model {model!r} with HTTP {status}: {provider_message} "
            "(not retried: check the model name, the API key and the request)"
        )


class ModelUnavailable(ModelError):
    """Every attempt failed (rate limits, 5xx, connection errors, cut streams), fallback included."""

    def __init__(self, *, models: Sequence[str], endpoint: str, attempts: int, last_error: str) -> None:
        self.models = tuple(models)
        self.endpoint = endpoint
        self.attempts = attempts
        self.last_error = last_error
        tried = " then ".join(repr(model) for model in self.models)
        super().__init__(
            f"model {tried} unavailable at {endpoint}: {attempts} attempts failed; last error: {last_error}"
        )
