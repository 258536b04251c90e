"""A scripted, OpenAI-compatible model server: the model at the HTTP boundary for tests, demo and benchmarks.

It speaks the real chat-completions protocol (SSE chunks, tool calls in fragments, usage chunk,
``[DONE]``) so the real ``AsyncOpenAI`` client can be driven through every path: latency, stalls,
faults (429, 5xx, 4xx, cut or dropped streams, malformed tool arguments) and provider quirks.
Several agents can share one server: each request goes to the script named in its system message.

Run standalone: ``python -m demo.model_server --script FILE.json [--port N]``.
"""

from demo.model_server.app import RecordedRequest, ScriptBook
from demo.model_server.script import SCRIPTS, Fault, FaultKind, Quirk, ScriptedCall, ScriptedUsage, Turn
from demo.model_server.server import ScriptedModelServer

__all__ = [
    "SCRIPTS",
    "Fault",
    "FaultKind",
    "Quirk",
    "RecordedRequest",
    "ScriptBook",
    "ScriptedCall",
    "ScriptedModelServer",
    "ScriptedUsage",
    "Turn",
]
