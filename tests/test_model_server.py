"""The scripted model server speaks OpenAI's wire protocol, routes by system message and fails loudly."""

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from client.scripted import ScriptedCall, ScriptedModelServer, ScriptedUsage, Turn

pytest_plugins = ["tests.model_fixtures"]

READ = ScriptedCall(name="read_file", arguments={"path": "calc/ops.py", "start": 1})
GREP = ScriptedCall(name="grep", arguments={"pattern": "def add"})


def body(system: str = "You are a helpful agent.", **extra: Any) -> dict[str, Any]:
    return {
        "model": "gpt-test",
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": "fix the bug"}],
        **extra,
    }


def sse(server: ScriptedModelServer, request: dict[str, Any]) -> list[str]:
    """The data payloads of a streamed response, in order."""
    with httpx.stream("POST", f"{server.base_url}/chat/completions", json=request, timeout=10) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return [line.removeprefix("data: ") for line in response.iter_lines() if line.startswith("data: ")]


def chunks(payloads: list[str]) -> list[dict[str, Any]]:
    return [json.loads(payload) for payload in payloads if payload != "[DONE]"]


def fragments(payloads: list[str]) -> list[dict[str, Any]]:
    return [
        fragment
        for chunk in chunks(payloads)
        for choice in chunk["choices"]
        for fragment in choice["delta"].get("tool_calls", [])
    ]


def test_stream_follows_the_openai_chunk_protocol(scripted_server: ScriptedModelServer) -> None:
    scripted_server.load(
        {
            "*": [
                Turn(
                    content="Reading the file first.",
                    tool_calls=[READ, GREP],
                    chunk_chars=8,
                    usage=ScriptedUsage(prompt_tokens=120, completion_tokens=30, cached_tokens=100),
                )
            ]
        }
    )
    payloads = sse(scripted_server, body(stream=True, stream_options={"include_usage": True}))

    assert payloads[-1] == "[DONE]"
    parsed = chunks(payloads)
    assert all(
        chunk["object"] == "chat.completion.chunk" and chunk["model"] == "gpt-test" for chunk in parsed
    )
    assert parsed[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(chunk["choices"][0]["delta"].get("content") or "" for chunk in parsed if chunk["choices"])
    assert text == "Reading the file first."

    calls = fragments(payloads)
    firsts = [fragment for fragment in calls if "id" in fragment]
    assert [(f["index"], f["type"], f["function"]["name"]) for f in firsts] == [
        (0, "function", "read_file"),
        (1, "function", "grep"),
    ]
    rest = [fragment for fragment in calls if "id" not in fragment]
    assert len(rest) > 2, "arguments should arrive in several fragments"
    assert all(set(f) == {"index", "function"} and set(f["function"]) == {"arguments"} for f in rest)
    for index, call in enumerate([READ, GREP]):
        joined = "".join(f["function"]["arguments"] for f in calls if f["index"] == index)
        assert json.loads(joined) == call.arguments

    finish, usage = parsed[-2], parsed[-1]
    assert finish["choices"][0]["finish_reason"] == "tool_calls"
    assert [c["choices"][0]["finish_reason"] for c in parsed[:-2]] == [None] * (len(parsed) - 2)
    assert usage["choices"] == []
    assert usage["usage"]["prompt_tokens"] == 120
    assert usage["usage"]["completion_tokens"] == 30
    assert usage["usage"]["total_tokens"] == 150
    assert usage["usage"]["prompt_tokens_details"]["cached_tokens"] == 100


def test_no_usage_chunk_unless_asked_and_text_turn_stops(scripted_server: ScriptedModelServer) -> None:
    scripted_server.load({"*": [Turn(content="Done.")]})
    parsed = chunks(sse(scripted_server, body(stream=True)))
    assert all(chunk["choices"] for chunk in parsed)
    assert parsed[-1]["choices"][0]["finish_reason"] == "stop"
    assert "usage" not in parsed[-1]


def test_automatic_usage_is_deterministic(scripted_server: ScriptedModelServer) -> None:
    request = body(stream=True, stream_options={"include_usage": True})
    scripted_server.load({"*": [Turn(content="Same answer."), Turn(content="Same answer.")]})
    first = chunks(sse(scripted_server, request))[-1]["usage"]
    second = chunks(sse(scripted_server, request))[-1]["usage"]
    assert first == second
    assert first["prompt_tokens"] > 0 and first["completion_tokens"] > 0


def test_non_streamed_completion(scripted_server: ScriptedModelServer) -> None:
    scripted_server.load({"*": [Turn(content="", tool_calls=[READ])]})
    response = httpx.post(f"{scripted_server.base_url}/chat/completions", json=body(), timeout=10)
    assert response.status_code == 200
    completion = response.json()
    assert completion["object"] == "chat.completion"
    choice = completion["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    (call,) = choice["message"]["tool_calls"]
    assert call["function"]["name"] == "read_file"
    assert json.loads(call["function"]["arguments"]) == READ.arguments
    assert completion["usage"]["total_tokens"] > 0


def test_requests_are_routed_by_system_message(scripted_server: ScriptedModelServer) -> None:
    scripted_server.load(
        {
            "triage agent": [Turn(content="triage 1"), Turn(content="triage 2")],
            "code agent": [Turn(content="code 1")],
            "*": [Turn(content="anyone")],
        }
    )

    def reply(system: str) -> str:
        response = httpx.post(f"{scripted_server.base_url}/chat/completions", json=body(system), timeout=10)
        return str(response.json()["choices"][0]["message"]["content"])

    assert reply("You are the triage agent.") == "triage 1"
    assert reply("You are the code agent.") == "code 1"
    assert reply("You are the triage agent.") == "triage 2"
    assert reply("You are the PR agent.") == "anyone"
    assert [(r.script, r.turn) for r in scripted_server.requests] == [
        ("triage agent", 0),
        ("code agent", 0),
        ("triage agent", 1),
        ("*", 0),
    ]


def test_per_conversation_each_conversation_plays_the_script_from_its_first_turn() -> None:
    script = {"code agent": [Turn(content="read"), Turn(content="edit"), Turn(content="submit")]}

    def reply(server: ScriptedModelServer, replies_so_far: list[str]) -> str:
        request = body("You are the code agent.")
        request["messages"] += [{"role": "assistant", "content": text} for text in replies_so_far]
        response = httpx.post(f"{server.base_url}/chat/completions", json=request, timeout=10)
        return str(response.json()["choices"][0]["message"]["content"])

    with ScriptedModelServer(script, per_conversation=True) as server:
        first = reply(server, [])
        second = reply(server, [])  # another incident, at the same time
        assert (first, second) == ("read", "read")
        assert reply(server, ["read"]) == "edit"
        assert reply(server, []) == "read"  # an agent run again from the start
        assert reply(server, ["read", "edit"]) == "submit"
    with pytest.raises(ValueError, match="cannot have faults"):
        ScriptedModelServer({"*": [Turn(content="x", faults=["rate_limit"])]}, per_conversation=True)


def test_a_script_may_also_route_on_the_conversations_task(scripted_server: ScriptedModelServer) -> None:
    """``code agent & requested changes`` takes the code agent's revision conversations; the other
    conversations of that agent still go to ``code agent``."""
    scripted_server.load(
        {"code agent": [Turn(content="fix")], "code agent & requested changes": [Turn(content="revise")]}
    )

    def reply(task: str) -> str:
        request = body("You are the code agent.")
        request["messages"][1]["content"] = task  # the first user message: the task
        response = httpx.post(f"{scripted_server.base_url}/chat/completions", json=request, timeout=10)
        return str(response.json()["choices"][0]["message"]["content"])

    assert reply("A reviewer looked at your fix and requested changes.") == "revise"
    assert reply("Fix the bug this incident describes.") == "fix"
    assert [r.script for r in scripted_server.requests] == ["code agent & requested changes", "code agent"]


def test_exhausted_script_answers_500_saying_so(scripted_server: ScriptedModelServer) -> None:
    scripted_server.load({"*": [Turn(content="only turn")]})
    url = f"{scripted_server.base_url}/chat/completions"
    assert httpx.post(url, json=body(), timeout=10).status_code == 200
    response = httpx.post(url, json=body(stream=True), timeout=10)
    assert response.status_code == 500
    message = response.json()["error"]["message"]
    assert "'*' is exhausted" in message and "1 turns" in message


def test_unmatched_request_answers_500_naming_the_scripts(scripted_server: ScriptedModelServer) -> None:
    scripted_server.load({"code agent": [Turn(content="x")]})
    response = httpx.post(f"{scripted_server.base_url}/chat/completions", json=body("triage"), timeout=10)
    assert response.status_code == 500
    assert "no script matches" in response.json()["error"]["message"]
    assert "code agent" in response.json()["error"]["message"]


def test_faults_take_one_request_each_before_the_turn(scripted_server: ScriptedModelServer) -> None:
    scripted_server.load(
        {
            "*": [
                Turn(
                    content="finally",
                    faults=[
                        {"kind": "rate_limit", "retry_after_s": 7},
                        {"kind": "server_error", "status": 503},
                        {"kind": "reject", "status": 401, "message": "Incorrect API key provided"},
                    ],
                )
            ]
        }
    )
    url = f"{scripted_server.base_url}/chat/completions"
    limited = httpx.post(url, json=body(), timeout=10)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "7"
    assert httpx.post(url, json=body(), timeout=10).status_code == 503
    rejected = httpx.post(url, json=body(), timeout=10)
    assert rejected.status_code == 401
    assert rejected.json()["error"]["message"] == "Incorrect API key provided"
    served = httpx.post(url, json=body(), timeout=10)
    assert served.json()["choices"][0]["message"]["content"] == "finally"
    assert [r.fault for r in scripted_server.requests] == ["rate_limit", "server_error", "reject", None]


def test_cut_ends_without_finish_reason_and_drop_breaks_the_connection(
    scripted_server: ScriptedModelServer,
) -> None:
    scripted_server.load(
        {
            "*": [
                Turn(
                    content="a fairly long answer, in chunks",
                    chunk_chars=4,
                    faults=[{"kind": "cut", "after_chunks": 3}, "drop"],
                )
            ]
        }
    )
    request = body(stream=True)
    cut = sse(scripted_server, request)
    assert len(cut) == 3 and "[DONE]" not in cut
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks(cut))

    with pytest.raises(httpx.RemoteProtocolError):
        sse(scripted_server, request)

    served = chunks(sse(scripted_server, request))
    assert served[-1]["choices"][0]["finish_reason"] == "stop"


def test_bad_json_fault_sends_malformed_arguments_once(scripted_server: ScriptedModelServer) -> None:
    scripted_server.load({"*": [Turn(tool_calls=[READ], faults=["bad_json"])]})

    def arguments() -> str:
        return "".join(f["function"]["arguments"] for f in fragments(sse(scripted_server, body(stream=True))))

    with pytest.raises(json.JSONDecodeError):
        json.loads(arguments())
    assert json.loads(arguments()) == READ.arguments


@pytest.mark.parametrize(
    ("quirk", "check"),
    [
        ("omit_index", lambda fs: all("index" not in f for f in fs)),
        ("reuse_index", lambda fs: {f["index"] for f in fs} == {0}),
        ("repeat_name", lambda fs: all(f["function"].get("name") in ("read_file", "grep") for f in fs)),
    ],
)
def test_tool_call_quirks_on_the_wire(scripted_server: ScriptedModelServer, quirk: str, check: Any) -> None:
    scripted_server.load({"*": [Turn(tool_calls=[READ, GREP], chunk_chars=5, quirks={quirk})]})
    assert check(fragments(sse(scripted_server, body(stream=True))))


def test_usage_quirks_on_the_wire(scripted_server: ScriptedModelServer) -> None:
    scripted_server.load(
        {"*": [Turn(content="a", quirks={"no_cached_details"}), Turn(content="b", quirks={"no_usage"})]}
    )
    request = body(stream=True, stream_options={"include_usage": True})
    usage = chunks(sse(scripted_server, request))[-1]["usage"]
    assert usage["prompt_tokens"] > 0 and "prompt_tokens_details" not in usage
    assert all(chunk["choices"] for chunk in chunks(sse(scripted_server, request)))


def test_marks_record_when_finish_reason_and_done_were_sent(scripted_server: ScriptedModelServer) -> None:
    scripted_server.load({"*": [Turn(content="slow tail", tail_delay_s=0.05, done_delay_s=0.05)]})
    sse(scripted_server, body(stream=True))
    marks = scripted_server.requests[0].marks
    assert marks["first_chunk"] < marks["finish_reason"] < marks["done"]


def test_load_replaces_scripts_and_clears_the_log(scripted_server: ScriptedModelServer) -> None:
    scripted_server.load({"*": [Turn(content="old")]})
    httpx.post(f"{scripted_server.base_url}/chat/completions", json=body(), timeout=10)
    scripted_server.load({"*": [Turn(content="new")]})
    assert scripted_server.requests == []
    response = httpx.post(f"{scripted_server.base_url}/chat/completions", json=body(), timeout=10)
    assert response.json()["choices"][0]["message"]["content"] == "new"


def test_command_line_serves_a_script_file(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"*": [{"content": "from the file", "faults": ["server_error"]}]}))
    process = subprocess.Popen(
        [sys.executable, "-m", "client.scripted", "--script", str(script), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().split(": ", 1)[1].strip()
        url = f"{base_url}/chat/completions"
        deadline = time.monotonic() + 10
        while True:
            try:
                first = httpx.post(url, json=body(), timeout=5)
                break
            except httpx.ConnectError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        assert first.status_code == 500
        assert (
            httpx.post(url, json=body(), timeout=5).json()["choices"][0]["message"]["content"]
            == "from the file"
        )
    finally:
        process.terminate()
        process.wait(timeout=10)
