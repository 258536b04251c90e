"""The agent loop through the real AsyncOpenAI client against the scripted model server."""

import asyncio
import dataclasses
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from agent import run_agent
from client.scripted import ScriptedCall, ScriptedModelServer, ScriptedUsage, Turn
from config import ContextSettings, HookSpec, Price
from hooks import HookRunner
from tests.agent_fixtures import SYSTEM, Recorder, probe_registry, run, spec
from tests.model_fixtures import scripted_client
from tests.tools_fixtures import make_context, make_repo
from tools import ToolContext

pytest_plugins = ["tests.model_fixtures"]

SUBMIT = ScriptedCall(name="submit_answer", arguments={"summary": "found it", "confidence": 90})


def tool_results(request_index: int, server: ScriptedModelServer) -> list[str]:
    """Contents of the tool messages the model received in request ``request_index``."""
    return [m["content"] for m in server.requests[request_index].body["messages"] if m["role"] == "tool"]


def script(*turns: Turn) -> dict[str, list[Turn]]:
    return {"loop-test agent": list(turns)}


def call(name: str, **arguments: Any) -> ScriptedCall:
    return ScriptedCall(name=name, arguments=arguments)


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    return make_context(make_repo(tmp_path / "repo"), tmp_path / "state", secrets=["sk-very-secret-123"])


async def test_submits_after_tools_and_sends_arguments_back_as_json(
    scripted_server: ScriptedModelServer, ctx: ToolContext
) -> None:
    scripted_server.load(
        script(
            Turn(
                content="Reading.", tool_calls=[call("read_file", path="calc/ops.py"), call("note", text="a")]
            ),
            Turn(tool_calls=[SUBMIT]),
        )
    )
    log: list[str] = []
    sink = Recorder()
    result = await run(
        spec(tools=("read_file", "note")),
        scripted_client(scripted_server),
        ctx,
        probe_registry(log),
        sink=sink,
    )
    assert result.ok and result.status == "submitted"
    assert result.submission is not None and result.submission.model_dump() == {
        "summary": "found it",
        "confidence": 90,
    }
    assert result.turns == 2 and log == ["a"]
    second = scripted_server.requests[1].body["messages"]
    assistant = second[2]
    assert assistant["content"] == "Reading."
    assert [json.loads(c["function"]["arguments"]) for c in assistant["tool_calls"]] == [
        {"path": "calc/ops.py"},
        {"text": "a"},
    ]
    results = [m for m in second if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in results] == [c["id"] for c in assistant["tool_calls"]]
    assert "def add(a, b):" in results[0]["content"] and results[1]["content"] == "noted a"
    kinds = sink.kinds()
    assert kinds[0] == "started" and kinds[-1] == "finished"
    assert {"turn_started", "text_delta", "tool_started", "tool_finished", "usage"} <= set(kinds)
    finished = sink.of("tool_finished")[0].data
    assert finished["tool"] == "read_file" and finished["duration_s"] >= 0


async def test_tool_starts_before_the_stream_that_asked_for_it_has_ended(
    scripted_server: ScriptedModelServer, ctx: ToolContext
) -> None:
    """Eager dispatch: each call runs while the model is still streaming (before [DONE])."""
    scripted_server.load(
        script(
            Turn(
                tool_calls=[call("watch", label="first"), call("watch", label="second")],
                tail_delay_s=0.3,
                done_delay_s=0.3,
            ),
            Turn(tool_calls=[SUBMIT]),
        )
    )
    seen: list[tuple[str, bool]] = []
    registry = probe_registry([])

    @registry.tool(read_only=True)
    async def watch(ctx: ToolContext, label: str) -> str:
        """Note whether the model's stream had ended when this call started.

        Args:
            label: Name of the call.
        """
        seen.append((label, "done" in scripted_server.requests[0].marks))
        return label

    result = await run(spec(tools=("watch",)), scripted_client(scripted_server), ctx, registry)
    assert result.ok
    assert seen == [("first", False), ("second", False)]


async def test_independent_tool_calls_run_concurrently(
    scripted_server: ScriptedModelServer, ctx: ToolContext
) -> None:
    scripted_server.load(
        script(
            Turn(tool_calls=[call("meet", who="left"), call("meet", who="right")]),
            Turn(tool_calls=[SUBMIT]),
        )
    )
    log: list[str] = []
    result = await run(
        spec(tools=("meet",)), scripted_client(scripted_server), ctx, probe_registry(log, asyncio.Barrier(2))
    )
    assert result.ok  # each meet waits for the other: only concurrent execution finishes
    results = tool_results(1, scripted_server)
    assert results == ["left met", "right met"]  # appended in call order


async def test_rate_limit_and_cut_stream_are_recovered(
    scripted_server: ScriptedModelServer, ctx: ToolContext
) -> None:
    scripted_server.load(
        script(
            Turn(
                content="Looking around the code.",
                faults=["rate_limit", "cut"],
                tool_calls=[call("note", text="x")],
            ),
            Turn(tool_calls=[SUBMIT]),
        )
    )
    sink = Recorder()
    result = await run(
        spec(tools=("note",)), scripted_client(scripted_server), ctx, probe_registry([]), sink=sink
    )
    assert result.ok
    text = "".join(e.data["text"] for e in sink.of("text_delta"))
    assert text == "Looking around the code."  # never handed twice after the retry
    assert len(scripted_server.requests) == 4


async def test_rejected_request_ends_with_a_model_error_naming_model_and_endpoint(
    scripted_server: ScriptedModelServer, ctx: ToolContext
) -> None:
    scripted_server.load(script(Turn(faults=[{"kind": "reject", "status": 401, "message": "bad key"}])))
    client = scripted_client(scripted_server)
    result = await run(spec(), client, ctx, probe_registry([]))
    assert result.status == "model_error"
    assert (
        "scripted-test" in result.message
        and client.endpoint in result.message
        and "bad key" in result.message
    )
    assert len(scripted_server.requests) == 1


async def test_fallback_model_takes_over(scripted_server: ScriptedModelServer, ctx: ToolContext) -> None:
    scripted_server.load(script(Turn(tool_calls=[SUBMIT], faults=["server_error", "server_error"])))
    client = scripted_client(scripted_server, max_attempts=2, fallback="scripted-fallback")
    result = await run(spec(), client, ctx, probe_registry([]))
    assert result.ok
    assert [r.body["model"] for r in scripted_server.requests] == [
        "scripted-test",
        "scripted-test",
        "scripted-fallback",
    ]


async def test_time_limit_stops_a_hanging_stream(
    scripted_server: ScriptedModelServer, ctx: ToolContext
) -> None:
    scripted_server.load(script(Turn(content="x" * 200, stall_after_chunks=2, stall_s=30)))
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await run(
        spec(timeout_s=0.5), scripted_client(scripted_server, request_timeout_s=60), ctx, probe_registry([])
    )
    assert result.status == "timeout"
    assert "timed out after 0.5s" in result.message
    assert loop.time() - started < 10  # ended by the limit, not by the stall


async def test_turn_limit_never_starts_the_next_stream(
    scripted_server: ScriptedModelServer, ctx: ToolContext
) -> None:
    scripted_server.load(
        script(
            Turn(tool_calls=[call("note", text="1")]),
            Turn(tool_calls=[call("note", text="2")]),
            Turn(content="hang", stall_after_chunks=1, stall_s=30),
        )
    )
    result = await run(
        spec(tools=("note",), max_turns=2), scripted_client(scripted_server), ctx, probe_registry([])
    )
    assert result.status == "turn_limit" and "2 turns" in result.message
    assert len(scripted_server.requests) == 2


async def test_budget_is_enforced_while_a_stream_hangs(
    scripted_server: ScriptedModelServer, ctx: ToolContext
) -> None:
    """A long reply that would blow the token budget is stopped mid-stream, before its stall ends."""
    scripted_server.load(
        script(Turn(content="word " * 4000, chunk_chars=40, stall_after_chunks=60, stall_s=30))
    )
    result = await run(
        spec(max_tokens=400, timeout_s=15), scripted_client(scripted_server), ctx, probe_registry([])
    )
    assert result.status == "budget"
    assert "while streaming" in result.message and "limit 400" in result.message
    assert result.usage.estimated


async def test_usd_budget_after_a_turn(scripted_server: ScriptedModelServer, ctx: ToolContext) -> None:
    usage = ScriptedUsage(prompt_tokens=100_000, completion_tokens=10_000)
    scripted_server.load(
        script(Turn(tool_calls=[call("note", text="1")], usage=usage), Turn(tool_calls=[SUBMIT]))
    )
    client = scripted_client(scripted_server, pricing={"scripted-test": Price(input=10.0, output=30.0)})
    result = await run(spec(tools=("note",), max_cost_usd=1.0), client, ctx, probe_registry([]))
    assert result.status == "budget"
    assert result.usage.cost_usd == pytest.approx(1.3)  # 0.1M * $10 + 0.01M * $30
    assert "$1.3000" in result.message


async def test_usage_and_cost_totals_match_the_script(
    scripted_server: ScriptedModelServer, ctx: ToolContext
) -> None:
    scripted_server.load(
        script(
            Turn(
                tool_calls=[call("note", text="1")],
                usage=ScriptedUsage(prompt_tokens=1000, completion_tokens=200),
            ),
            Turn(tool_calls=[SUBMIT], usage=ScriptedUsage(prompt_tokens=1500, completion_tokens=100)),
        )
    )
    client = scripted_client(scripted_server, pricing={"scripted-test": Price(input=2.0, output=8.0)})
    result = await run(spec(tools=("note",)), client, ctx, probe_registry([]))
    assert (result.usage.input_tokens, result.usage.output_tokens) == (2500, 300)
    assert result.usage.cost_usd == pytest.approx((2500 * 2.0 + 300 * 8.0) / 1e6)
    assert client.total_usage().cost_usd == pytest.approx(result.usage.cost_usd)


async def test_invalid_submit_is_corrected(scripted_server: ScriptedModelServer, ctx: ToolContext) -> None:
    scripted_server.load(
        script(
            Turn(
                tool_calls=[ScriptedCall(name="submit_answer", arguments={"summary": "x", "confidence": 900})]
            ),
            Turn(tool_calls=[SUBMIT]),
        )
    )
    result = await run(spec(), scripted_client(scripted_server), ctx, probe_registry([]))
    assert result.ok and result.turns == 2
    feedback = tool_results(1, scripted_server)[0]
    assert "submit_answer was rejected" in feedback
    assert "summary" in feedback and "confidence" in feedback


async def test_invalid_submits_are_bounded(scripted_server: ScriptedModelServer, ctx: ToolContext) -> None:
    bad = Turn(tool_calls=[ScriptedCall(name="submit_answer", arguments={"summary": "no"})])
    scripted_server.load(script(bad, bad, bad, Turn(tool_calls=[SUBMIT])))
    result = await run(spec(), scripted_client(scripted_server), ctx, probe_registry([]))
    assert result.status == "invalid_submission"
    assert "3 times" in result.message


async def test_stopping_without_submit_is_nudged_once_then_fails(
    scripted_server: ScriptedModelServer, ctx: ToolContext
) -> None:
    scripted_server.load(script(Turn(content="I think it is fine."), Turn(content="Still fine.")))
    result = await run(spec(), scripted_client(scripted_server), ctx, probe_registry([]))
    assert result.status == "no_submit"
    assert "submit_answer" in result.message and "reminder" in result.message
    nudge = scripted_server.requests[1].body["messages"][-1]
    assert nudge["role"] == "user" and "submit_answer" in nudge["content"]


async def test_nudge_then_submit_succeeds(scripted_server: ScriptedModelServer, ctx: ToolContext) -> None:
    scripted_server.load(script(Turn(content="Done, I think."), Turn(tool_calls=[SUBMIT])))
    result = await run(spec(), scripted_client(scripted_server), ctx, probe_registry([]))
    assert result.ok and result.turns == 2


async def test_loop_is_warned_once_then_stopped(
    scripted_server: ScriptedModelServer, ctx: ToolContext
) -> None:
    same = Turn(tool_calls=[call("note", text="again")])
    scripted_server.load(script(same, same, same, same, Turn(tool_calls=[SUBMIT])))
    sink = Recorder()
    result = await run(
        spec(tools=("note",)), scripted_client(scripted_server), ctx, probe_registry([]), sink=sink
    )
    assert result.status == "stuck"
    assert "stuck in a loop" in result.message
    warnings = [
        m
        for m in scripted_server.requests[3].body["messages"]
        if m["role"] == "user" and "note" in m["content"] and m is not None
    ]
    assert len(warnings) == 1  # one warning injected after the third identical call
    assert len(sink.of("warning")) == 1


async def test_malformed_arguments_and_unknown_tools_go_back_to_the_model(
    scripted_server: ScriptedModelServer, ctx: ToolContext
) -> None:
    scripted_server.load(
        script(
            Turn(tool_calls=[call("note", text="x")], faults=["bad_json"]),
            Turn(tool_calls=[call("launch_rockets")]),
            Turn(tool_calls=[SUBMIT]),
        )
    )
    result = await run(spec(tools=("note",)), scripted_client(scripted_server), ctx, probe_registry([]))
    assert result.ok
    third = scripted_server.requests[-1].body["messages"]
    results = [m["content"] for m in third if m["role"] == "tool"]
    assert "not a JSON object" in results[0] or "noted x" in results[0]
    assert "no tool named 'launch_rockets'" in results[-1]
    for message in third:
        for tool_call in message.get("tool_calls") or []:
            json.loads(tool_call["function"]["arguments"])  # always valid JSON, never a repr


async def test_compression_keeps_system_goal_and_latest_turns(
    scripted_server: ScriptedModelServer, ctx: ToolContext
) -> None:
    big = "line of output\n" * 600
    (ctx.workspace / "big.txt").write_text(big)
    read = Turn(tool_calls=[call("read_file", path="big.txt")])
    scripted_server.load(
        {
            "loop-test agent": [
                read,
                Turn(tool_calls=[call("read_file", path="calc/ops.py")]),
                Turn(tool_calls=[SUBMIT]),
            ],
            "You compress the working notes": [
                Turn(content="Read big.txt: 300 repeated lines. Nothing else found yet.")
            ],
        }
    )
    result = await run(
        spec(tools=("read_file",)),
        scripted_client(scripted_server),
        ctx,
        probe_registry([]),
        goal="GOAL: find the bug in calc",
        context=ContextSettings(keep_recent_messages=2, max_tool_output_chars=20_000),
        context_window=3000,
    )
    assert result.ok
    served = [r.script for r in scripted_server.requests]
    assert "You compress the working notes" in served
    last = scripted_server.requests[-1].body["messages"]
    assert last[0]["content"] == SYSTEM
    assert last[1]["content"] == "GOAL: find the bug in calc"
    assert any("Summary of earlier work" in (m.get("content") or "") for m in last)
    assert "Read big.txt: 300 repeated lines" in json.dumps(last)
    assert all("line of output" not in (m.get("content") or "") for m in last[2:4])


async def test_large_tool_output_is_truncated_with_a_hint(
    scripted_server: ScriptedModelServer, ctx: ToolContext
) -> None:
    (ctx.workspace / "huge.txt").write_text("".join(f"row {i}\n" for i in range(3000)))
    scripted_server.load(
        script(Turn(tool_calls=[call("read_file", path="huge.txt", limit=3000)]), Turn(tool_calls=[SUBMIT]))
    )
    result = await run(
        spec(tools=("read_file",)),
        scripted_client(scripted_server),
        ctx,
        probe_registry([]),
        context=ContextSettings(max_tool_output_chars=2000),
    )
    assert result.ok
    content = tool_results(1, scripted_server)[0]
    assert len(content) < 2600 and "omitted" in content


async def test_transcript_is_saved_as_jsonl_with_secrets_redacted(
    scripted_server: ScriptedModelServer, ctx: ToolContext, tmp_path: Path
) -> None:
    (ctx.workspace / "config.txt").write_text("api_key = sk-very-secret-123\n")
    scripted_server.load(
        script(Turn(tool_calls=[call("read_file", path="config.txt")]), Turn(tool_calls=[SUBMIT]))
    )
    path = tmp_path / "transcripts" / "tester.jsonl"
    result = await run(
        spec(tools=("read_file",)), scripted_client(scripted_server), ctx, probe_registry([]), transcript=path
    )
    assert result.transcript == path
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["role"] for line in lines] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
        "tool",
        "outcome",
    ]
    assert lines[-1]["status"] == "submitted"
    assert "sk-very-secret-123" not in path.read_text() and "[redacted]" in path.read_text()
    assert "sk-very-secret-123" not in tool_results(1, scripted_server)[0]  # never sent to the model either


async def test_a_request_that_would_carry_a_secret_is_not_sent(
    scripted_server: ScriptedModelServer, ctx: ToolContext
) -> None:
    """A ticket that quotes the bot's secret base64-encoded (raw it would be redacted) stops the agent
    before anything reaches the model, naming the secret but not its value."""
    import base64

    encoded = base64.b64encode(b"token: sk-very-secret-123").decode()
    scripted_server.load(script(Turn(tool_calls=[SUBMIT])))
    result = await run(
        spec(), scripted_client(scripted_server), ctx, probe_registry([]), goal=f"Decode this: {encoded}"
    )
    assert result.status == "failed"
    assert result.message == (
        "the model request was not sent: it contains the secret SECRET_0 (base64); nothing of it left "
        "Nightshift"
    )
    assert scripted_server.requests == []


async def test_before_tool_hook_veto_reaches_the_model(
    scripted_server: ScriptedModelServer, ctx: ToolContext, tmp_path: Path
) -> None:
    hook = tmp_path / "veto.sh"
    hook.write_text("#!/bin/sh\ncat > /dev/null\necho 'no reading on Sundays' >&2\nexit 1\n")
    hook.chmod(0o755)
    runner = HookRunner([HookSpec(event="before_tool", command=[str(hook)])], env={"PATH": "/usr/bin:/bin"})
    scripted_server.load(
        script(Turn(tool_calls=[call("read_file", path="calc/ops.py")]), Turn(tool_calls=[SUBMIT]))
    )
    result = await run(
        spec(tools=("read_file",)), scripted_client(scripted_server), ctx, probe_registry([]), hooks=runner
    )
    assert result.ok
    content = tool_results(1, scripted_server)[0]
    assert content == "vetoed by a before_tool hook: no reading on Sundays"


async def test_empty_allowlist_offers_only_the_submit_tool(
    scripted_server: ScriptedModelServer, ctx: ToolContext
) -> None:
    scripted_server.load(script(Turn(tool_calls=[SUBMIT])))
    result = await run(spec(tools=()), scripted_client(scripted_server), ctx, probe_registry([]))
    assert result.ok
    offered = [t["function"]["name"] for t in scripted_server.requests[0].body["tools"]]
    assert offered == ["submit_answer"]


async def test_a_submit_check_answers_the_first_valid_submit_and_the_second_submits(
    scripted_server: ScriptedModelServer, ctx: ToolContext
) -> None:
    looked: list[str] = []

    async def check(ctx: ToolContext, submission: Any) -> str:
        looked.append(submission.summary)
        return "CHECKLIST: look at your diff, then call submit_answer again"

    invalid = Turn(tool_calls=[ScriptedCall(name="submit_answer", arguments={"summary": "x"})])
    scripted_server.load(script(invalid, Turn(tool_calls=[SUBMIT]), Turn(tool_calls=[SUBMIT])))
    checked = dataclasses.replace(spec(), submit_check=check)
    result = await run(checked, scripted_client(scripted_server), ctx, probe_registry([]))

    assert result.ok and result.turns == 3
    assert "was rejected" in tool_results(1, scripted_server)[0]  # an invalid call is not the check
    assert (
        tool_results(2, scripted_server)[-1] == "CHECKLIST: look at your diff, then call submit_answer again"
    )
    assert looked == ["found it"]


async def test_near_the_turn_limit_the_agent_is_told_once_to_wrap_up(
    scripted_server: ScriptedModelServer, ctx: ToolContext
) -> None:
    note = Turn(tool_calls=[call("note", text="n")])
    scripted_server.load(
        script(note, Turn(tool_calls=[call("note", text="m")]), note, note, Turn(tool_calls=[SUBMIT]))
    )
    sink = Recorder()
    result = await run(
        spec(tools=("note",), max_turns=5),
        scripted_client(scripted_server),
        ctx,
        probe_registry([]),
        sink=sink,
    )

    assert result.ok
    told = [
        [m["content"] for m in r.body["messages"] if m["role"] == "user" and "Wrap up" in m["content"]]
        for r in scripted_server.requests
    ]
    assert told[:4] == [[], [], [], []]  # 80 % of 5 turns is 4: said once 4 are used, before the last
    assert len(told[4]) == 1 and told[4][0].startswith("You have used 4 of your 5 turns. Wrap up now")
    assert "call `submit_answer`" in told[4][0]
    assert [e.data["message"] for e in sink.of("warning")] == told[4]


async def test_near_the_time_limit_the_agent_is_told_to_wrap_up(
    scripted_server: ScriptedModelServer, ctx: ToolContext
) -> None:
    """A clock the test advances 30 s at each reading: 90 s of 100 are used when the third turn starts."""
    readings = itertools.count(0.0, 30.0)
    note = Turn(tool_calls=[call("note", text="n")])
    scripted_server.load(script(note, note, Turn(tool_calls=[SUBMIT])))
    sink = Recorder()
    result = await run_agent(
        spec(tools=("note",), timeout_s=100.0),
        "Find out what is wrong.",
        model=scripted_client(scripted_server),
        tools=probe_registry([]).select(("note",)),
        ctx=ctx,
        sink=sink,
        clock=lambda: next(readings),
    )

    assert result.ok
    told = [
        [m["content"] for m in r.body["messages"] if m["role"] == "user" and "Wrap up" in m["content"]]
        for r in scripted_server.requests
    ]
    assert told[:2] == [[], []]
    assert len(told[2]) == 1 and told[2][0].startswith("You have used 90 s of your 100 s. Wrap up now")
    assert [e.data["message"] for e in sink.of("warning")] == told[2]


async def test_near_the_token_limit_the_agent_is_told_to_wrap_up(
    scripted_server: ScriptedModelServer, ctx: ToolContext
) -> None:
    heavy = ScriptedUsage(prompt_tokens=8_500, completion_tokens=100)
    scripted_server.load(
        script(Turn(tool_calls=[call("note", text="n")], usage=heavy), Turn(tool_calls=[SUBMIT]))
    )
    result = await run(
        spec(tools=("note",), max_tokens=10_000), scripted_client(scripted_server), ctx, probe_registry([])
    )

    assert result.ok
    last = scripted_server.requests[1].body["messages"][-1]
    assert last["role"] == "user" and "8,600 of your 10,000 tokens" in last["content"]
