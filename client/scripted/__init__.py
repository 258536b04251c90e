"""A scripted, OpenAI-compatible model server: the model Nightshift uses when no real one is configured
(``client.scripted.local``, playing a script file), and the model at the HTTP boundary for tests, the
demo and benchmarks.

It lives outside ``demo/`` because the server depends on it (the no-credentials default), and nothing
that runs in production imports ``demo/``; the sample incident's scripts live there
(``demo/incident.py``), and the server reads them as data (``demo/sample_incident.json``).

It speaks the real chat-completions protocol (SSE chunks, tool calls in fragments, usage chunk,
``[DONE]``) so the real ``AsyncOpenAI`` client can be driven through every path: latency, stalls,
faults (429, 5xx, 4xx, cut or dropped streams, malformed tool arguments) and provider quirks.
Several agents can share one server: each request goes to the script its routing phrases name (``script``).

Run standalone: ``python -m client.scripted --script FILE.json [--port N]``.
"""

from client.scripted.app import RecordedRequest, ScriptBook
from client.scripted.script import SCRIPTS, Fault, FaultKind, Quirk, ScriptedCall, ScriptedUsage, Turn
from client.scripted.server import ScriptedModelServer

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
