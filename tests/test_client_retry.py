"""Retries, fallback and refusals: what a flaky or unwilling endpoint looks like to the caller."""

import asyncio
import logging
from contextlib import aclosing
from typing import Any

import pytest

from client import (
    MessageComplete,
    ModelClient,
    ModelEvent,
    ModelRejected,
    ModelUnavailable,
    TextDelta,
    ToolCallComplete,
    ToolCallStarted,
)
from client.scripted import ScriptedCall, ScriptedModelServer, Turn
from config import ModelSettings
from tests.model_fixtures import SleepRecorder, scripted_client

pytest_plugins = ["tests.model_fixtures"]

MESSAGES = [
    {"role": "system", "content": "You are the test agent."},
    {"role": "user", "content": "Write a test."},
]
ANSWER = "The failing case is add(2, 3) returning -1; here is a regression test for it."


async def collect(
    server: ScriptedModelServer, sleep: SleepRecorder | None = None, **settings: Any
) -> list[ModelEvent]:
    client = scripted_client(server, sleep=sleep, **settings)
    return [event async for event in client.stream(MESSAGES)]


def final(events: list[ModelEvent]) -> MessageComplete:
    assert isinstance(events[-1], MessageComplete)
    return events[-1]


@pytest.mark.parametrize(("retry_after", "expected"), [(3, 3.0), (0.25, 0.25), (60, 8.0)])
async def test_rate_limit_honours_retry_after_capped(
    scripted_server: ScriptedModelServer, retry_after: float, expected: float
) -> None:
    scripted_server.load(
        {"*": [Turn(content=ANSWER, faults=[{"kind": "rate_limit", "retry_after_s": retry_after}])]}
    )
    sleep = SleepRecorder()
    events = await collect(scripted_server, sleep, backoff_max_s=8.0)
    assert sleep.delays == [expected]
    assert final(events).text == ANSWER
    assert final(events).attempts == 2
    assert "HTTP 429" in final(events).notes[0]


async def test_server_errors_back_off_exponentially(scripted_server: ScriptedModelServer) -> None:
    faults = [
        "server_error",
        {"kind": "server_error", "status": 502},
        {"kind": "server_error", "status": 503},
    ]
    scripted_server.load({"*": [Turn(content=ANSWER, faults=faults)]})
    sleep = SleepRecorder()
    events = await collect(scripted_server, sleep, backoff_base_s=0.5, backoff_max_s=1.5, max_attempts=4)
    assert sleep.delays == [0.5, 1.0, 1.5]
    assert final(events).attempts == 4
    assert len(scripted_server.requests) == 4


async def test_jitter_shortens_the_delay_by_at_most_half(scripted_server: ScriptedModelServer) -> None:
    scripted_server.load({"*": [Turn(content=ANSWER, faults=["server_error", "server_error"])]})
    sleep = SleepRecorder()
    async with ModelClient(
        ModelSettings(base_url=scripted_server.base_url, backoff_base_s=2.0),
        api_key=None,
        sleep=sleep,
        jitter=iter([0.0, 0.5]).__next__,
    ) as client:
        [event async for event in client.stream(MESSAGES)]
    assert sleep.delays == [1.0, 3.0]


async def test_retries_are_logged_with_model_attempt_reason_and_delay(
    scripted_server: ScriptedModelServer, caplog: pytest.LogCaptureFixture
) -> None:
    scripted_server.load({"*": [Turn(content=ANSWER, faults=["server_error"])]})
    with caplog.at_level(logging.WARNING, logger="nightshift.client"):
        await collect(scripted_server, name="gpt-4.1-mini", backoff_base_s=0.5)
    (record,) = [r for r in caplog.records if r.name == "nightshift.client"]
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert "gpt-4.1-mini" in message and "attempt 1 of 4" in message
    assert "HTTP 500" in message and "0.50s" in message


@pytest.mark.parametrize("fault", [{"kind": "cut", "after_chunks": 4}, {"kind": "drop", "after_chunks": 6}])
async def test_cut_stream_is_retried_without_repeating_text(
    scripted_server: ScriptedModelServer, fault: dict[str, Any]
) -> None:
    scripted_server.load(
        {"*": [Turn(content=ANSWER, chunk_chars=5, faults=[fault, {**fault, "after_chunks": 9}])]}
    )
    events = await collect(scripted_server)
    streamed = "".join(event.text for event in events if isinstance(event, TextDelta))
    assert streamed == ANSWER
    assert final(events).text == ANSWER
    assert final(events).attempts == 3


async def test_cut_stream_never_hands_a_tool_call_twice(scripted_server: ScriptedModelServer) -> None:
    """Call 0 was complete and call 1 announced when the stream dropped; the replay hands over the rest."""
    calls = [
        ScriptedCall(name="read_file", arguments={"path": "calc/ops.py"}),
        ScriptedCall(name="run_tests", arguments={"path": "tests/test_ops.py"}),
    ]
    # data lines: role, text, call 0 name, call 0 arguments, call 1 name | dropped
    turn = Turn(
        content="Looking...", chunk_chars=30, tool_calls=calls, faults=[{"kind": "drop", "after_chunks": 5}]
    )
    scripted_server.load({"*": [turn]})
    events = await collect(scripted_server)

    handed = [
        (type(e).__name__, e.position, e.call_id)
        for e in events
        if isinstance(e, ToolCallStarted | ToolCallComplete)
    ]
    assert handed == [
        ("ToolCallStarted", 0, "call_0_0"),
        ("ToolCallComplete", 0, "call_0_0"),
        ("ToolCallStarted", 1, "call_0_1"),
        ("ToolCallComplete", 1, "call_0_1"),  # the replay's call_1_1, under the id the caller already has
    ]
    message = final(events)
    assert [(c.call_id, c.arguments) for c in message.tool_calls] == [
        ("call_0_0", calls[0].arguments),
        ("call_0_1", calls[1].arguments),
    ]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Looking..."


@pytest.mark.parametrize(
    ("status", "provider_message"),
    [(400, "Invalid 'messages'"), (401, "Incorrect API key"), (404, "The model does not exist")],
)
async def test_rejections_are_not_retried(
    scripted_server: ScriptedModelServer, status: int, provider_message: str
) -> None:
    fault = {"kind": "reject", "status": status, "message": provider_message}
    scripted_server.load({"*": [Turn(content=ANSWER, faults=[fault])]})
    sleep = SleepRecorder()
    with pytest.raises(ModelRejected) as caught:
        await collect(scripted_server, sleep, name="gpt-4o", fallback="gpt-4o-mini")
    assert len(scripted_server.requests) == 1
    assert sleep.delays == []
    error = caught.value
    assert (error.status, error.model, error.endpoint) == (status, "gpt-4o", scripted_server.base_url)
    for part in ("gpt-4o", scripted_server.base_url, str(status), provider_message):
        assert part in str(error)


async def test_fallback_model_after_the_last_attempt(scripted_server: ScriptedModelServer) -> None:
    scripted_server.load({"*": [Turn(content=ANSWER, faults=["server_error", "rate_limit"])]})
    sleep = SleepRecorder()
    events = await collect(scripted_server, sleep, name="gpt-4o", fallback="gpt-4o-mini", max_attempts=2)

    assert [request.body["model"] for request in scripted_server.requests] == [
        "gpt-4o",
        "gpt-4o",
        "gpt-4o-mini",
    ]
    assert len(sleep.delays) == 1, "no backoff before switching model"
    message = final(events)
    assert message.model == "gpt-4o-mini" and message.attempts == 3
    assert any(
        "fell back from gpt-4o to gpt-4o-mini after 2 failed attempts" in note for note in message.notes
    )


async def test_no_fallback_raises_unavailable_naming_everything(scripted_server: ScriptedModelServer) -> None:
    scripted_server.load({"*": [Turn(content=ANSWER, faults=["server_error", "cut", "drop"])]})
    with pytest.raises(ModelUnavailable) as caught:
        await collect(scripted_server, name="gpt-4.1", max_attempts=3)
    message = str(caught.value)
    assert "'gpt-4.1'" in message and scripted_server.base_url in message and "3 attempts" in message
    assert "connection error" in message, "the last error (a dropped connection) is named"
    assert caught.value.attempts == 3


async def test_fallback_exhausted_names_both_models(scripted_server: ScriptedModelServer) -> None:
    scripted_server.load({"*": [Turn(content=ANSWER, faults=["server_error"] * 4)]})
    with pytest.raises(ModelUnavailable) as caught:
        await collect(scripted_server, name="gpt-4o", fallback="gpt-4o-mini", max_attempts=2)
    assert "'gpt-4o' then 'gpt-4o-mini'" in str(caught.value)
    assert "4 attempts" in str(caught.value) and "HTTP 500" in str(caught.value)
    assert len(scripted_server.requests) == 4


async def test_exhausted_script_surfaces_as_unavailable(scripted_server: ScriptedModelServer) -> None:
    scripted_server.load({"*": []})
    with pytest.raises(ModelUnavailable, match="exhausted"):
        await collect(scripted_server, max_attempts=1)


async def test_stalled_stream_times_out_and_is_retried(scripted_server: ScriptedModelServer) -> None:
    stalled = Turn(content=ANSWER, chunk_chars=5, stall_after_chunks=3, stall_s=3)
    scripted_server.load({"*": [stalled, stalled]})
    events: list[ModelEvent] = []
    client = scripted_client(scripted_server, max_attempts=2, request_timeout_s=0.2)
    with pytest.raises(ModelUnavailable, match="timed out"):
        async for event in client.stream(MESSAGES):
            events.append(event)
    assert len(scripted_server.requests) == 2
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == ANSWER[:10], "no text handed twice"


async def test_a_model_that_refuses_our_temperature_is_asked_again_without_one(
    scripted_server: ScriptedModelServer, caplog: pytest.LogCaptureFixture
) -> None:
    refusal = {
        "kind": "reject",
        "status": 400,
        "param": "temperature",
        "message": "Unsupported value: 'temperature' does not support 0.2 with this model. "
        "Only the default (1) value is supported.",
    }
    scripted_server.load({"*": [Turn(content=ANSWER, faults=[refusal]), Turn(content=ANSWER)]})
    sleep = SleepRecorder()
    client = scripted_client(scripted_server, sleep=sleep, name="o4-mini", temperature=0.2)
    with caplog.at_level(logging.WARNING, logger="nightshift.client"):
        first = [event async for event in client.stream(MESSAGES)]
        second = [event async for event in client.stream(MESSAGES)]

    assert final(first).text == ANSWER and final(second).text == ANSWER
    sent = [request.body for request in scripted_server.requests]
    assert [body.get("temperature") for body in sent] == [0.2, None, None]
    assert "temperature" not in sent[1] and "temperature" not in sent[2]
    assert sleep.delays == [], "a refused temperature is not a failure to back off from"
    assert final(first).attempts == 1
    assert "model o4-mini refused temperature 0.2" in caplog.text


async def test_another_bad_request_is_still_a_rejection(scripted_server: ScriptedModelServer) -> None:
    fault = {"kind": "reject", "status": 400, "param": "max_completion_tokens", "message": "Too many tokens"}
    scripted_server.load({"*": [Turn(content=ANSWER, faults=[fault])]})
    with pytest.raises(ModelRejected, match="Too many tokens"):
        await collect(scripted_server, SleepRecorder(), name="o4-mini")
    assert len(scripted_server.requests) == 1


async def test_a_caller_that_stops_reading_ends_the_stream_without_a_retry(
    scripted_server: ScriptedModelServer,
) -> None:
    scripted_server.load({"*": [Turn(content=ANSWER, chunk_chars=5)]})
    sleep = SleepRecorder()
    client = scripted_client(scripted_server, sleep=sleep)
    async with aclosing(client.stream(MESSAGES)) as events:
        async for event in events:
            if isinstance(event, TextDelta):
                break
    assert sleep.delays == [] and len(scripted_server.requests) == 1


async def test_a_cancelled_stream_is_cancelled_not_retried(scripted_server: ScriptedModelServer) -> None:
    stalled = Turn(content=ANSWER, chunk_chars=5, stall_after_chunks=3, stall_s=30)
    scripted_server.load({"*": [stalled, stalled]})
    sleep = SleepRecorder()
    client = scripted_client(scripted_server, sleep=sleep)
    streaming = asyncio.Event()

    async def read() -> None:
        async for event in client.stream(MESSAGES):
            if isinstance(event, TextDelta):
                streaming.set()

    reader = asyncio.create_task(read())
    await asyncio.wait_for(streaming.wait(), timeout=30)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    assert sleep.delays == [] and len(scripted_server.requests) == 1
