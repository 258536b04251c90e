"""The model client: one OpenAI-compatible chat model, streamed as typed events.

``ModelClient.stream`` yields ``TextDelta``, ``ToolCallStarted``, ``ToolCallComplete`` (as soon as a
call's arguments are complete, not at stream end) and finally one ``MessageComplete`` with the whole
message, its usage and cost. Retries (429, 5xx, connection errors, cut streams) and the fallback model
happen inside the stream, without handing the caller anything twice. ``Model`` is the Protocol the
agent loop depends on; ``ModelClient`` implements it.

Errors::

    ModelError              base of every error raised here
     ├── ModelRejected      the endpoint refused the request (400, 401, 403, 404, ...); never retried
     └── ModelUnavailable   every attempt failed, on the fallback model too
"""

from client.errors import ModelError, ModelRejected, ModelUnavailable
from client.events import MessageComplete, ModelEvent, TextDelta, ToolCallComplete, ToolCallStarted, Usage
from client.model import Model, ModelClient

__all__ = [
    "MessageComplete",
    "Model",
    "ModelClient",
    "ModelError",
    "ModelEvent",
    "ModelRejected",
    "ModelUnavailable",
    "TextDelta",
    "ToolCallComplete",
    "ToolCallStarted",
    "Usage",
]
