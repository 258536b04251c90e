"""Context management: how big tool outputs may be, when to compress, when a loop is a loop."""

from typing import Annotated

from pydantic import Field

from config.base import Section


class ContextSettings(Section):
    """Token budget, compression and loop-detection settings."""

    max_tool_output_chars: Annotated[int, Field(gt=200)] = 12_000
    """A tool result longer than this is truncated, with a note saying how to read the rest."""
    compress_at: Annotated[float, Field(gt=0, le=1)] = 0.8
    """Fraction of the model's context window at which older turns are summarised."""
    keep_recent_messages: Annotated[int, Field(ge=2)] = 6
    """Latest messages kept verbatim when compressing (besides the system prompt and goal)."""
    loop_repeat: Annotated[int, Field(ge=2)] = 3
    """The same call this many times (or a short cycle repeating this often) is a loop."""
