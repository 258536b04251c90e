"""Keeping an agent's conversation inside its context window, and noticing when it goes in circles.

Three parts, each used by the agent loop after every tool call or model turn:

* ``truncate_output`` (truncate.py): a tool output longer than ``max_tool_output_chars`` keeps its
  head (about 2/3) and tail (about 1/3), cut at line boundaries, with a note in between saying how much
  was left out and how to read it.
* ``LoopDetector`` (loops.py): the same call, or a cycle of 2 or 3 calls, repeated ``loop_repeat``
  times in a row gives one WARN (with ``warning_text()`` for the model), then STUCK.
* ``needs_compression`` / ``compress`` (compress.py): when the conversation fills ``compress_at`` of
  the context window, the older turns are replaced by one summary message (marked ``SUMMARY_MARKER``);
  the system prompt, the goal and the latest turns stay verbatim, and tool calls keep their results.

Token counts come from ``context.tokens`` (offline tiktoken).

Errors::

    ContextError
     └── CompressionError   the summariser gave nothing usable; the conversation is left as it was
"""

from context.compress import SUMMARY_MARKER, CompressionError, ContextError, compress, needs_compression
from context.loops import LoopDetector, LoopVerdict
from context.truncate import truncate_output

__all__ = [
    "SUMMARY_MARKER",
    "CompressionError",
    "ContextError",
    "LoopDetector",
    "LoopVerdict",
    "compress",
    "needs_compression",
    "truncate_output",
]
