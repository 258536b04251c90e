"""Usage and cost: provider numbers priced from the settings, local estimates when a provider sends none."""

import logging

import pytest

from client import MessageComplete, ModelClient
from client.scripted import ScriptedCall, ScriptedModelServer, ScriptedUsage, Turn
from config import Price
from context.tokens import count_messages, count_text
from tests.model_fixtures import scripted_client

pytest_plugins = ["tests.model_fixtures"]

MESSAGES = [
    {"role": "system", "content": "You are the PR agent."},
    {"role": "user", "content": "Open the PR."},
]
PRICING = {"house-model": Price(input=2.0, output=8.0), "cheap-model": Price(input=0.5, output=1.0)}


async def final(client: ModelClient, model: str | None = None) -> MessageComplete:
    events = [event async for event in client.stream(MESSAGES, model=model)]
    assert isinstance(events[-1], MessageComplete)
    return events[-1]


async def test_usage_and_cost_follow_the_provider_and_the_price_table(
    scripted_server: ScriptedModelServer,
) -> None:
    scripted_server.load(
        {
            "*": [
                Turn(
                    content="one",
                    usage=ScriptedUsage(prompt_tokens=1000, completion_tokens=200, cached_tokens=600),
                ),
                Turn(content="two", usage=ScriptedUsage(prompt_tokens=3000, completion_tokens=100)),
                Turn(content="three", usage=ScriptedUsage(prompt_tokens=500_000, completion_tokens=0)),
            ]
        }
    )
    client = scripted_client(scripted_server, name="house-model", pricing=PRICING)

    first = await final(client)
    assert (first.usage.input_tokens, first.usage.output_tokens, first.usage.cached_input_tokens) == (
        1000,
        200,
        600,
    )
    assert first.usage.cost_usd == pytest.approx((1000 * 2.0 + 200 * 8.0) / 1e6)
    assert not first.usage.estimated
    await final(client)
    third = await final(client, model="cheap-model")
    assert third.usage.cost_usd == pytest.approx(0.25)

    house = client.usage["house-model"]
    assert (house.input_tokens, house.output_tokens, house.cached_input_tokens) == (4000, 300, 600)
    assert house.cost_usd == pytest.approx((4000 * 2.0 + 300 * 8.0) / 1e6)
    total = client.total_usage()
    assert total.input_tokens == 504_000
    assert total.cost_usd == pytest.approx(house.cost_usd + 0.25)


async def test_usage_without_prompt_details_is_read(scripted_server: ScriptedModelServer) -> None:
    usage = ScriptedUsage(prompt_tokens=40, completion_tokens=7)
    scripted_server.load({"*": [Turn(content="ok", usage=usage, quirks={"no_cached_details"})]})
    message = await final(scripted_client(scripted_server))
    assert (message.usage.input_tokens, message.usage.output_tokens, message.usage.cached_input_tokens) == (
        40,
        7,
        0,
    )
    assert not message.usage.estimated


async def test_no_usage_from_the_provider_is_estimated(scripted_server: ScriptedModelServer) -> None:
    call = ScriptedCall(
        name="open_pr", arguments={"title": "Fix add", "body": "add() subtracted; now it adds."}
    )
    scripted_server.load({"*": [Turn(content="Opening it now.", tool_calls=[call], quirks={"no_usage"})]})
    client = scripted_client(scripted_server, name="house-model", pricing=PRICING)
    message = await final(client)

    usage = message.usage
    assert usage.estimated
    assert usage.input_tokens >= count_messages(MESSAGES)
    assert usage.output_tokens > count_text("Opening it now.")
    assert usage.cost_usd > 0
    assert any("estimated" in note for note in message.notes)
    assert client.usage["house-model"].estimated


async def test_unknown_model_costs_nothing_and_is_warned_about_once(
    scripted_server: ScriptedModelServer, caplog: pytest.LogCaptureFixture
) -> None:
    usage = ScriptedUsage(prompt_tokens=100, completion_tokens=10)
    scripted_server.load({"*": [Turn(content="a", usage=usage), Turn(content="b", usage=usage)]})
    client = scripted_client(scripted_server, name="mystery-model", pricing=PRICING)
    with caplog.at_level(logging.WARNING, logger="nightshift.client"):
        assert (await final(client)).usage.cost_usd == 0.0
        assert (await final(client)).usage.cost_usd == 0.0
    warnings = [record.getMessage() for record in caplog.records if record.name == "nightshift.client"]
    assert len(warnings) == 1
    assert "mystery-model" in warnings[0]
    assert client.usage["mystery-model"].input_tokens == 200


def test_price_helper(scripted_server: ScriptedModelServer) -> None:
    client = scripted_client(scripted_server, pricing=PRICING)
    assert client.price("house-model", 1_000_000, 500_000) == pytest.approx(6.0)
    assert client.price("gpt-4o-mini", 1_000_000, 1_000_000) == pytest.approx(0.75), "built-in prices remain"


def test_token_counts() -> None:
    assert count_text("") == 0
    assert count_text("hello world") == 2
    plain = [{"role": "user", "content": "Please fix the failing test."}]
    with_call = [
        *plain,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "read_file", "arguments": '{"path": "a.py"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "def add(a, b):\n    return a - b\n"},
    ]
    assert count_messages([]) == 3
    assert count_messages(plain) > count_text("Please fix the failing test.")
    grown = count_messages(with_call) - count_messages(plain)
    assert grown > count_text('{"path": "a.py"}') + count_text("def add(a, b):\n    return a - b\n")
    parts = [{"role": "user", "content": [{"type": "text", "text": "Please fix the failing test."}]}]
    assert count_messages(parts) == count_messages(plain)
