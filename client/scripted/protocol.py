"""The OpenAI chat-completions wire format for one scripted turn, streamed or whole.

A stream is the sequence OpenAI sends: a chunk with ``delta.role="assistant"``, content deltas, each
tool call as a first fragment (index, id, type, function name, empty arguments) followed by argument
fragments (index and arguments only), a chunk carrying ``finish_reason``, the usage chunk
(``choices: []``) when ``stream_options.include_usage`` is set, then ``[DONE]``.
"""

import json
import time
from dataclasses import dataclass
from typing import Any

from client.scripted.script import Turn
from context.tokens import count_messages, count_text

DONE = "[DONE]"


@dataclass(frozen=True, slots=True)
class Line:
    """One ``data:`` line of the stream and when to send it."""

    payload: str
    delay_s: float = 0.0
    """Wait before sending this line."""
    mark: str | None = None
    """Name under which the send time is recorded (``first_chunk``, ``finish_reason``, ``done``)."""


@dataclass(frozen=True, slots=True)
class Reply:
    """A turn made concrete for one request: ids, argument strings, usage."""

    turn: Turn
    model: str
    completion_id: str
    call_ids: list[str]
    arguments: list[str]
    usage: dict[str, Any] | None

    @property
    def finish_reason(self) -> str:
        return self.turn.finish_reason or ("tool_calls" if self.turn.tool_calls else "stop")


def make_reply(turn: Turn, body: dict[str, Any], *, request_no: int, bad_json: bool) -> Reply:
    """Fix everything a response needs; ``bad_json`` drops the last character of every call's arguments."""
    arguments = [
        call.arguments
        if isinstance(call.arguments, str)
        else json.dumps(call.arguments, separators=(",", ":"))
        for call in turn.tool_calls
    ]
    if bad_json:
        arguments = [text[:-1] if len(text) > 1 else "{" for text in arguments]
    call_ids = [call.id or f"call_{request_no}_{position}" for position, call in enumerate(turn.tool_calls)]
    return Reply(
        turn=turn,
        model=str(body.get("model", "")),
        completion_id=f"chatcmpl-scripted-{request_no}",
        call_ids=call_ids,
        arguments=arguments,
        usage=None if "no_usage" in turn.quirks else _usage(turn, body, arguments),
    )


def _usage(turn: Turn, body: dict[str, Any], arguments: list[str]) -> dict[str, Any]:
    if turn.usage is not None:
        prompt, completion, cached = (
            turn.usage.prompt_tokens,
            turn.usage.completion_tokens,
            turn.usage.cached_tokens,
        )
    else:
        prompt = count_messages(body.get("messages") or [])
        if body.get("tools"):
            prompt += count_text(json.dumps(body["tools"]))
        completion = count_text(turn.content) + sum(
            count_text(call.name) + count_text(text)
            for call, text in zip(turn.tool_calls, arguments, strict=True)
        )
        cached = 0
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if "no_cached_details" not in turn.quirks:
        usage["prompt_tokens_details"] = {"cached_tokens": cached, "audio_tokens": 0}
        usage["completion_tokens_details"] = {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        }
    return usage


def _pieces(text: str, size: int) -> list[str]:
    return [text[start : start + size] for start in range(0, len(text), size)]


def stream_lines(reply: Reply, *, include_usage: bool) -> list[Line]:
    """Every data line of the streamed reply, with its delay, in order."""
    turn = reply.turn
    created = int(time.time())

    def chunk(delta: dict[str, Any] | None, finish_reason: str | None = None) -> str:
        data: dict[str, Any] = {
            "id": reply.completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": reply.model,
            "system_fingerprint": "fp_scripted",
            "choices": []
            if delta is None
            else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        }
        if include_usage:
            data["usage"] = None
        return json.dumps(data, separators=(",", ":"))

    first_content: str | None = None if turn.tool_calls and not turn.content else ""
    lines = [
        Line(
            chunk({"role": "assistant", "content": first_content, "refusal": None}),
            turn.ttft_s,
            "first_chunk",
        )
    ]
    lines += [
        Line(chunk({"content": piece}), turn.chunk_delay_s)
        for piece in _pieces(turn.content, turn.chunk_chars)
    ]
    for position, call in enumerate(turn.tool_calls):
        lines += [
            Line(chunk({"tool_calls": [fragment]}), turn.chunk_delay_s)
            for fragment in _call_fragments(reply, position, call.name)
        ]
    lines.append(Line(chunk({}, reply.finish_reason), turn.tail_delay_s, "finish_reason"))
    after_finish = turn.done_delay_s
    if include_usage and reply.usage is not None:
        usage_chunk = json.loads(chunk(None))
        usage_chunk["usage"] = reply.usage
        lines.append(Line(json.dumps(usage_chunk, separators=(",", ":")), after_finish))
        after_finish = 0.0
    lines.append(Line(DONE, after_finish, "done"))
    return lines


def _call_fragments(reply: Reply, position: int, name: str) -> list[dict[str, Any]]:
    quirks = reply.turn.quirks
    index = 0 if "reuse_index" in quirks else position
    first: dict[str, Any] = {
        "index": index,
        "id": reply.call_ids[position],
        "type": "function",
        "function": {"name": name, "arguments": ""},
    }
    fragments = [first]
    for piece in _pieces(reply.arguments[position], reply.turn.chunk_chars):
        function = {"name": name, "arguments": piece} if "repeat_name" in quirks else {"arguments": piece}
        fragments.append({"index": index, "function": function})
    if "omit_index" in quirks:
        for fragment in fragments:
            del fragment["index"]
    return fragments


def completion_body(reply: Reply) -> dict[str, Any]:
    """The whole (non-streamed) ``chat.completion`` object."""
    message: dict[str, Any] = {"role": "assistant", "content": reply.turn.content or None, "refusal": None}
    if reply.turn.tool_calls:
        message["tool_calls"] = [
            {"id": call_id, "type": "function", "function": {"name": call.name, "arguments": arguments}}
            for call, call_id, arguments in zip(
                reply.turn.tool_calls, reply.call_ids, reply.arguments, strict=True
            )
        ]
    body: dict[str, Any] = {
        "id": reply.completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": reply.model,
        "system_fingerprint": "fp_scripted",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": reply.finish_reason}],
    }
    if reply.usage is not None:
        body["usage"] = reply.usage
    return body


def error_body(
    message: str, *, kind: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """OpenAI's error envelope."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}
