"""The model client: streaming chat completions with our own retries, fallback and cost accounting.

The SDK's retries are off (``max_retries=0``): a retry must also cover a stream cut part-way, and
must never hand the caller text or tool calls twice, which only this layer can know.

Every streamed token costs the process that runs the agents (the server's event loop, which also
answers the webhooks): 16 agents streaming make about 800 chunks a second. Two choices keep that cheap
(bench/server.py): the SDK talks HTTP through its aiohttp transport (``DefaultAioHttpClient``), whose
reads cost half of the default transport's, and it hands each chunk over as the JSON object it is
(``_create``). A client made here owns that transport: close it (``aclose``, or ``async with``).
"""

import asyncio
import json
import logging
import random
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, Self, cast

import httpx
import httpx2
import openai
from openai import AsyncStream
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type

from client.errors import ModelError, ModelRejected, ModelUnavailable
from client.events import MessageComplete, ModelEvent, ToolCallComplete, Usage
from client.pricing import Ledger
from client.replay import Replay
from client.retry import AttemptFailed, describe, is_rejection, provider_message
from client.stream import StreamAssembler
from config import ModelSettings
from context.tokens import count_messages, count_text
from retries import Backoff, retry_after_s

logger = logging.getLogger("nightshift.client")

PLACEHOLDER_API_KEY = "sk-nightshift-no-key"
"""Sent when no API key is configured: a local endpoint ignores it, a real one answers 401."""


class Model(Protocol):
    """What the agent loop needs from a model: a stream of events, and a plain completion."""

    def stream(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        model: str | None = None,
        temperature: float | None = None,
        max_output_tokens: int | None = None,
    ) -> AsyncGenerator[ModelEvent, None]: ...

    async def complete(
        self, messages: list[dict[str, Any]], *, model: str | None = None
    ) -> tuple[str, Usage]: ...

    def price(self, model: str, input_tokens: int, output_tokens: int) -> float:
        """USD for these tokens on ``model`` (0 for a model without a price)."""
        ...


@dataclass(frozen=True, slots=True)
class _Request:
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None
    temperature: float
    max_output_tokens: int


class ModelClient:
    """An OpenAI-compatible chat model behind ``settings.base_url``; implements ``Model``."""

    def __init__(
        self,
        settings: ModelSettings,
        *,
        api_key: str | None,
        http_client: httpx.AsyncClient | httpx2.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._settings = settings
        self._sleep = sleep
        self._backoff = Backoff(
            first_s=settings.backoff_base_s,
            max_s=settings.backoff_max_s,
            retry_after_max_s=settings.backoff_max_s,
            random=jitter,
        )
        self._owns_http_client = http_client is None
        self._openai = openai.AsyncOpenAI(
            api_key=api_key or PLACEHOLDER_API_KEY,
            base_url=settings.base_url,
            http_client=openai.DefaultAioHttpClient()
            if http_client is None
            else cast(httpx2.AsyncClient, http_client),  # the SDK accepts httpx and httpx2
            max_retries=0,
            timeout=settings.request_timeout_s,
        )
        self._ledger = Ledger(settings.pricing)
        self._default_temperature_only: set[str] = set()
        """Models that refused the temperature we sent (reasoning models accept only their default)."""

    @property
    def endpoint(self) -> str:
        """The base URL requests go to, e.g. ``https://api.openai.com/v1``."""
        return str(self._openai.base_url).rstrip("/")

    @property
    def usage(self) -> dict[str, Usage]:
        """Usage totals per model name, over every call this client made."""
        return self._ledger.usage

    def total_usage(self) -> Usage:
        return self._ledger.total()

    def price(self, model: str, input_tokens: int, output_tokens: int) -> float:
        """USD for ``model`` at ``settings.pricing``; 0 with one warning per model missing from it."""
        return self._ledger.price(model, input_tokens, output_tokens)

    async def complete(
        self, messages: list[dict[str, Any]], *, model: str | None = None
    ) -> tuple[str, Usage]:
        """A plain completion without tools: the reply's text and what it cost."""
        async for event in self.stream(messages, model=model):
            if isinstance(event, MessageComplete):
                return event.text, event.usage
        raise ModelError("the model stream ended without a final message")

    async def stream(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        model: str | None = None,
        temperature: float | None = None,
        max_output_tokens: int | None = None,
    ) -> AsyncGenerator[ModelEvent, None]:
        """Stream one reply: text deltas and tool calls as they complete, then one ``MessageComplete``.

        Retries 429 (after Retry-After), 5xx, connection errors and streams cut before finish_reason,
        then tries ``settings.fallback``. Raises ``ModelRejected`` for a request the endpoint refuses and
        ``ModelUnavailable`` when every attempt failed. A caller that stops early should iterate inside
        ``contextlib.aclosing(...)`` so the HTTP response is closed at once.
        """
        settings = self._settings
        primary = model or settings.name
        models = [primary]
        if settings.fallback and settings.fallback != primary:
            models.append(settings.fallback)
        request = _Request(
            messages=messages,
            tools=tools,
            temperature=settings.temperature if temperature is None else temperature,
            max_output_tokens=max_output_tokens or settings.max_output_tokens,
        )
        replay = Replay()
        notes: list[str] = []
        attempts = 0
        last_error = "no attempt was made"
        for name in models:
            if name != primary:
                logger.warning("model %s failed %d attempts; falling back to %s", primary, attempts, name)
                notes.append(
                    f"fell back from {primary} to {name} after {attempts} failed attempts ({last_error})"
                )
            try:
                async for attempt in self._retrying(name, notes):
                    with attempt:  # an AttemptFailed is retried after the backoff, the last one raised
                        attempts += 1
                        assembler = StreamAssembler()
                        replay.begin_attempt()
                        async with aclosing(self._attempt(name, request, assembler)) as events:
                            async for event in events:
                                admitted = replay.admit(event)
                                if admitted is not None:
                                    yield admitted
            except AttemptFailed as failure:
                last_error = failure.reason
                continue
            for unanswered in replay.unanswered():
                yield unanswered
            yield self._finish(name, request, assembler, replay.tool_calls, attempts, notes)
            return
        raise ModelUnavailable(
            models=models, endpoint=self.endpoint, attempts=attempts, last_error=last_error
        )

    def _retrying(self, model: str, notes: list[str]) -> AsyncRetrying:
        """The attempts on ``model``: ``max_attempts``, each failure logged and noted with its wait."""

        def backing_off(state: RetryCallState) -> None:
            assert state.outcome is not None
            reason = str(state.outcome.exception())
            delay = state.upcoming_sleep
            attempt = f"model {model} attempt {state.attempt_number} of {self._settings.max_attempts}"
            logger.warning("%s failed (%s); retrying in %.2fs", attempt, reason, delay)
            notes.append(f"{attempt} failed ({reason}); retried after {delay:.2f}s")

        return self._backoff.retrying(
            attempts=self._settings.max_attempts,
            retry=retry_if_exception_type(AttemptFailed),
            sleep=self._sleep,
            before_sleep=backing_off,
        )

    async def _attempt(
        self, model: str, request: _Request, assembler: StreamAssembler
    ) -> AsyncGenerator[ModelEvent, None]:
        """One request, its events as they come; ``AttemptFailed`` when another attempt may succeed."""
        try:
            response = await self._create(model, request)
            async with response:
                async for chunk in response:
                    if isinstance(chunk, dict):  # anything else carries nothing a reply is made of
                        for event in assembler.feed(chunk):
                            yield event
        except openai.APIStatusError as exc:
            if is_rejection(exc.status_code):
                raise ModelRejected(
                    status=exc.status_code,
                    model=model,
                    endpoint=self.endpoint,
                    provider_message=provider_message(exc),
                ) from exc
            raise AttemptFailed(describe(exc), retry_after_s(exc.response.headers)) from exc
        except openai.APIError as exc:
            if assembler.finish_reason is None:
                raise AttemptFailed(describe(exc)) from exc
            logger.info("model %s stream broke after finish_reason (%s); the message is complete", model, exc)
        if assembler.finish_reason is None:
            raise AttemptFailed("the stream ended before finish_reason")

    async def _create(self, model: str, request: _Request) -> AsyncStream[object]:
        """Open the stream. A model that refuses our temperature (OpenAI's o-series and gpt-5 accept only
        their default) is asked again at once without one, and is sent none from then on.

        The SDK makes the request and decodes the events (its errors, timeouts and error events as
        ``create`` has them), but hands each chunk over as the JSON object it is: building its typed
        chunk for every streamed token was most of the CPU an agent's turn cost (``StreamAssembler``
        reads the objects)."""
        body: dict[str, Any] = {
            "model": model,
            "messages": request.messages,
            "max_completion_tokens": request.max_output_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.tools:
            body["tools"] = request.tools
        if model not in self._default_temperature_only:
            body["temperature"] = request.temperature
        try:
            return await self._openai.post(
                "/chat/completions",
                cast_to=object,
                body=body,
                options={"security": {"bearer_auth": True}},
                stream=True,
                stream_cls=AsyncStream[object],
            )
        except openai.BadRequestError as exc:
            if exc.param != "temperature" or model in self._default_temperature_only:
                raise
            self._default_temperature_only.add(model)
            logger.warning(
                "model %s refused temperature %g (%s); sending it no temperature from now on",
                model,
                request.temperature,
                provider_message(exc),
            )
            return await self._create(model, request)

    def _finish(
        self,
        model: str,
        request: _Request,
        assembler: StreamAssembler,
        tool_calls: tuple[ToolCallComplete, ...],
        attempts: int,
        notes: list[str],
    ) -> MessageComplete:
        text = assembler.text
        reported = assembler.usage
        if reported is not None:
            input_tokens, output_tokens = reported.prompt_tokens, reported.completion_tokens
            cached = reported.cached_tokens
        else:
            input_tokens = _prompt_tokens(request.messages, request.tools)
            output_tokens = count_text(text) + sum(
                count_text(call.name + call.raw_arguments) for call in tool_calls
            )
            cached = 0
            notes.append("usage estimated locally: the provider reported none")
        usage = Usage(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cached_input_tokens=cached,
            cost_usd=self.price(model, input_tokens, output_tokens),
            estimated=reported is None,
        )
        self._ledger.record(model, usage)
        return MessageComplete(
            model=model,
            finish_reason=assembler.finish_reason or "stop",
            text=text,
            tool_calls=tool_calls,
            usage=usage,
            attempts=attempts,
            notes=tuple(notes),
        )

    async def aclose(self) -> None:
        """Close the HTTP client, unless it was passed in (then its owner closes it)."""
        if self._owns_http_client:
            await self._openai.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


def _prompt_tokens(messages: Sequence[dict[str, Any]], tools: list[dict[str, Any]] | None) -> int:
    return count_messages(messages) + (count_text(json.dumps(tools)) if tools else 0)
