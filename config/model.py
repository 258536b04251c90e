"""Model settings: which model, how to reach it, how to retry, what it costs."""

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator

from config.base import Section


class Price(Section):
    """USD per million tokens."""

    input: Annotated[float, Field(ge=0)]
    """USD per million input (prompt) tokens."""
    output: Annotated[float, Field(ge=0)]
    """USD per million output (completion) tokens."""


DEFAULT_PRICING: dict[str, Price] = {
    "gpt-4o": Price(input=2.5, output=10.0),
    "gpt-4o-mini": Price(input=0.15, output=0.6),
    "gpt-4.1": Price(input=2.0, output=8.0),
    "gpt-4.1-mini": Price(input=0.4, output=1.6),
    "gpt-4.1-nano": Price(input=0.1, output=0.4),
    "o4-mini": Price(input=1.1, output=4.4),
    "gpt-5": Price(input=1.25, output=10.0),
    "gpt-5-mini": Price(input=0.25, output=2.0),
}


class ModelSettings(Section):
    """The model every agent uses unless its own section names another."""

    name: str = "gpt-4.1-mini"
    """Default model for every agent (env ``NIGHTSHIFT_MODEL``)."""
    base_url: str | None = None
    """OpenAI-compatible endpoint (env ``OPENAI_BASE_URL``); None means the SDK's default."""
    fallback: str | None = None
    """Model used after the primary model's last retry failed; None means fail with a clear error."""
    temperature: Annotated[float, Field(ge=0, le=2)] = 0.0
    """Sampling temperature."""
    max_output_tokens: Annotated[int, Field(gt=0)] = 4096
    """Cap on tokens generated per model call."""
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 4
    """Attempts per call (first try included) on 429, 5xx, connection errors and cut streams."""
    backoff_base_s: Annotated[float, Field(ge=0)] = 0.5
    """First backoff delay; doubled on each retry, with jitter."""
    backoff_max_s: Annotated[float, Field(ge=0)] = 8.0
    """Cap on a single backoff delay (a longer Retry-After is capped too)."""
    request_timeout_s: Annotated[float, Field(gt=0)] = 120.0
    """Timeout for one HTTP request to the model endpoint."""
    context_window: Annotated[int, Field(gt=0)] = 128_000
    """Tokens the model accepts; the conversation is compressed as it nears this."""
    script: Path | None = None
    """The script file the scripted model plays when no model is configured (no ``OPENAI_API_KEY``, no
    ``base_url``; env ``NIGHTSHIFT_MODEL_SCRIPT``). None: the sample incident,
    ``demo/sample_incident.json``."""
    pricing: dict[str, Price] = Field(default_factory=lambda: dict(DEFAULT_PRICING))
    """Price table by model name. Entries in nightshift.toml extend (or override) the built-ins."""

    @field_validator("pricing", mode="after")
    @classmethod
    def _extend_defaults(cls, value: dict[str, Price]) -> dict[str, Price]:
        return {**DEFAULT_PRICING, **value}
