"""ModelClient.stream assembles text and tool calls from the real SDK talking to the scripted server."""

import asyncio
import json
import time
from typing import Any

import httpx
import pytest

from client import MessageComplete, ModelClient, ModelEvent, TextDelta, ToolCallComplete, ToolCallStarted
from client.scripted import ScriptedCall, ScriptedModelServer, Turn
from config import ModelSettings
from tests.model_fixtures import scripted_client

pytest_plugins = ["tests.model_fixtures"]

MESSAGES = [{"role": "system", "content": "You are the code agent."}, {"role": "user", "content": "Fix it."}]
READ = ScriptedCall(name="read_file", arguments={"path": "calc/ops.py"})
EDIT = ScriptedCall(name="edit_file", arguments={"path": "calc/ops.py", "old": "a - b", "new": "a + b"})
TOOLS = [
    {"type": "function", "function": {"name": name, "parameters": {"type": "object", "properties": {}}}}
    for name in ("read_file", "edit_file")
]


async def collect(client: ModelClient, **kwargs: Any) -> list[ModelEvent]:
    return [event async for event in client.stream(MESSAGES, tools=TOOLS, **kwargs)]


def final(events: list[ModelEvent]) -> MessageComplete:
    assert isinstance(events[-1], MessageComplete)
    assert not any(isinstance(event, MessageComplete) for event in events[:-1])
    return events[-1]


async def test_text_and_tool_calls_are_assembled(scripted_server: ScriptedModelServer) -> None:
    scripted_server.load(
        {"*": [Turn(content="Let me look at the code.", tool_calls=[READ, EDIT], chunk_chars=3)]}
    )
    events = await collect(scripted_client(scripted_server))

    text = "".join(event.text for event in events if isinstance(event, TextDelta))
    assert text == "Let me look at the code."
    message = final(events)
    assert message.text == text
    assert message.finish_reason == "tool_calls"
    assert [(call.name, call.arguments, call.error) for call in message.tool_calls] == [
        ("read_file", READ.arguments, None),
        ("edit_file", EDIT.arguments, None),
    ]
    assert [call.call_id for call in message.tool_calls] == ["call_0_0", "call_0_1"]
    assert message.tool_calls == tuple(event for event in events if isinstance(event, ToolCallComplete))
    assert message.attempts == 1 and message.notes == ()


async def test_each_call_completes_before_the_next_starts(scripted_server: ScriptedModelServer) -> None:
    scripted_server.load({"*": [Turn(tool_calls=[READ, EDIT, READ], chunk_chars=4)]})
    events = await collect(scripted_client(scripted_server))

    calls = [
        (type(event).__name__, event.position) for event in events if not isinstance(event, MessageComplete)
    ]
    assert calls == [
        ("ToolCallStarted", 0),
        ("ToolCallComplete", 0),
        ("ToolCallStarted", 1),
        ("ToolCallComplete", 1),
        ("ToolCallStarted", 2),
        ("ToolCallComplete", 2),
    ]


async def test_tool_calls_complete_before_the_stream_ends(scripted_server: ScriptedModelServer) -> None:
    """Eager dispatch: call 0 is handed over before finish_reason is sent, the last call before [DONE]."""
    scripted_server.load({"*": [Turn(tool_calls=[READ, EDIT], tail_delay_s=0.3, done_delay_s=0.3)]})
    received: dict[int, float] = {}
    async for event in scripted_client(scripted_server).stream(MESSAGES, tools=TOOLS):
        if isinstance(event, ToolCallComplete):
            received[event.position] = time.monotonic()
    marks = scripted_server.requests[0].marks
    assert received[0] < marks["finish_reason"]
    assert received[1] < marks["done"]


@pytest.mark.parametrize(
    "quirks",
    [
        {"omit_index"},
        {"reuse_index"},
        {"repeat_name"},
        {"omit_index", "repeat_name"},
        {"reuse_index", "repeat_name"},
    ],
)
async def test_provider_quirks_give_the_same_calls(
    scripted_server: ScriptedModelServer, quirks: set[str]
) -> None:
    scripted_server.load(
        {"*": [Turn(content="ok", tool_calls=[READ, EDIT, READ], chunk_chars=5, quirks=quirks)]}
    )
    events = await collect(scripted_client(scripted_server))

    message = final(events)
    assert [(call.call_id, call.name, call.arguments) for call in message.tool_calls] == [
        ("call_0_0", "read_file", READ.arguments),
        ("call_0_1", "edit_file", EDIT.arguments),
        ("call_0_2", "read_file", READ.arguments),
    ]
    started = [event.name for event in events if isinstance(event, ToolCallStarted)]
    assert started == ["read_file", "edit_file", "read_file"]


async def test_bad_json_arguments_come_with_an_error(scripted_server: ScriptedModelServer) -> None:
    scripted_server.load({"*": [Turn(tool_calls=[READ], faults=["bad_json"])]})
    (call,) = final(await collect(scripted_client(scripted_server))).tool_calls
    assert call.arguments is None
    assert call.raw_arguments == '{"path":"calc/ops.py"'
    assert call.error is not None and "not valid JSON" in call.error and "calc/ops.py" in call.error


@pytest.mark.parametrize(
    ("raw", "arguments", "error"),
    [
        ("[1, 2]", None, "must be a JSON object, got an array"),
        ('"text"', None, "must be a JSON object, got a string"),
        ("", {}, None),
        ('{"n": 1}', {"n": 1}, None),
    ],
)
async def test_arguments_must_be_a_json_object(
    scripted_server: ScriptedModelServer, raw: str, arguments: dict[str, Any] | None, error: str | None
) -> None:
    scripted_server.load({"*": [Turn(tool_calls=[ScriptedCall(name="run", arguments=raw)])]})
    (call,) = final(await collect(scripted_client(scripted_server))).tool_calls
    assert call.raw_arguments == raw
    assert call.arguments == arguments
    assert (call.error is None) if error is None else (call.error is not None and error in call.error)


async def test_request_carries_the_settings_and_overrides(scripted_server: ScriptedModelServer) -> None:
    scripted_server.load({"*": [Turn(content="a"), Turn(content="b")]})
    client = scripted_client(scripted_server, name="gpt-4.1-mini", temperature=0.3, max_output_tokens=900)
    await collect(client)
    await collect(client, model="gpt-4o", temperature=1.0, max_output_tokens=50)

    first, second = (request.body for request in scripted_server.requests)
    assert first["stream"] is True and first["stream_options"] == {"include_usage": True}
    assert (first["model"], first["temperature"], first["max_completion_tokens"]) == (
        "gpt-4.1-mini",
        0.3,
        900,
    )
    assert (second["model"], second["temperature"], second["max_completion_tokens"]) == ("gpt-4o", 1.0, 50)
    assert first["tools"] == TOOLS and first["messages"] == MESSAGES


async def test_complete_returns_text_and_usage(scripted_server: ScriptedModelServer) -> None:
    scripted_server.load({"*": [Turn(content="Summary: the add function subtracted.")]})
    text, usage = await scripted_client(scripted_server).complete(MESSAGES)
    assert text == "Summary: the add function subtracted."
    assert usage.input_tokens > 0 and usage.output_tokens > 0
    assert "tools" not in scripted_server.requests[0].body


def sse_response(chunks: list[dict[str, Any]]) -> httpx.Response:
    body = "".join(f"data: {json.dumps(chunk)}\n\n" for chunk in chunks) + "data: [DONE]\n\n"
    return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})


def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


async def test_provider_resending_the_id_on_every_fragment() -> None:
    """Unit level through httpx.MockTransport: id and name on every fragment, all on index 0."""

    def fragment(call_id: str, arguments: str) -> dict[str, Any]:
        return {
            "tool_calls": [{"index": 0, "id": call_id, "function": {"name": "grep", "arguments": arguments}}]
        }

    stream = [
        chunk({"role": "assistant"}),
        chunk(fragment("a", '{"pattern": ')),
        chunk(fragment("a", '"x"}')),
        chunk(fragment("b", '{"pattern": ')),
        chunk(fragment("b", '"y"}')),
        chunk({}, "tool_calls"),
    ]
    transport = httpx.MockTransport(lambda request: sse_response(stream))
    async with httpx.AsyncClient(transport=transport) as http:
        client = ModelClient(ModelSettings(base_url="http://model.test/v1"), api_key="k", http_client=http)
        events = [event async for event in client.stream(MESSAGES)]
    message = final(events)
    assert [(call.call_id, call.name, call.arguments) for call in message.tool_calls] == [
        ("a", "grep", {"pattern": "x"}),
        ("b", "grep", {"pattern": "y"}),
    ]
    assert message.usage.estimated


async def test_agents_share_one_server_concurrently(scripted_server: ScriptedModelServer) -> None:
    slow = {"chunk_chars": 2, "chunk_delay_s": 0.01}
    scripted_server.load(
        {
            "triage agent": [Turn(content="triage: the bug is in add()", **slow)],
            "code agent": [Turn(content="code: fixed add()", **slow)],
        }
    )
    client = scripted_client(scripted_server)

    async def ask(agent: str) -> str:
        text, _ = await client.complete([{"role": "system", "content": f"You are the {agent}."}, MESSAGES[1]])
        return text

    assert await asyncio.gather(ask("triage agent"), ask("code agent")) == [
        "triage: the bug is in add()",
        "code: fixed add()",
    ]
    assert sorted(request.script or "" for request in scripted_server.requests) == [
        "code agent",
        "triage agent",
    ]
