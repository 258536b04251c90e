"""Text written by others, made safe to show a model: fenced in a named block, defused, capped.

Every text that did not come from us (a ticket, a CI log, an alert's stack trace, reviewer feedback,
test output, a diff, a repository's own agent instructions, the compressor's digest of earlier turns,
which can quote any of those) reaches a model inside a named delimiter block (``<ticket>...</ticket>``)
whose label says it is data. Before it is wrapped it is defused: any opening or closing delimiter of ours
inside it (``</ticket>``, ``< /TICKET``, one written with a full-width less-than sign) has its bracket
replaced by ``&lt;``, and invisible format and control characters (zero-width characters, Unicode tag
characters, bidi overrides) are dropped. Whoever wrote the text therefore cannot close the block early
and write text that reads as ours. Only our own tag names are defused: ``a < b`` or ``List<String>`` in
a diff stays as it is (a word that merely starts like a tag name, ``<tickets>``, is defused too).
"""

import re
import unicodedata
from typing import Literal

DELIMITERS = (
    "ticket",
    "ci_log",
    "stack_trace",
    "lessons",
    "feedback",
    "test_output",
    "diff",
    "repo_instructions",
    "acceptance_criteria",
    "summary",
    "turns",
)
"""Tag names of the blocks untrusted text is wrapped in (the system prompts name them too)."""

_TAG = re.compile(r"[<\uff1c\ufe64]\s*/?\s*(?:" + "|".join(DELIMITERS) + ")", re.IGNORECASE)
_INVISIBLE = ("Cc", "Cf")
_KEPT_CONTROLS = "\n\t"

Keep = Literal["head", "tail"]


def untrusted(text: str, limit: int, *, keep: Keep = "head") -> str:
    """``text`` capped at ``limit`` characters, with invisible characters dropped and delimiters defused.

    ``keep="tail"`` keeps the end of a longer text (a log's failure is at its end)."""
    visible = "".join(ch for ch in text if ch in _KEPT_CONTROLS or unicodedata.category(ch) not in _INVISIBLE)
    return _TAG.sub(lambda match: "&lt;" + match[0][1:], clip(visible, limit, keep))


def fence(tag: str, text: str) -> str:
    """``text`` (already passed through ``untrusted``) between ``<tag>`` and ``</tag>``."""
    if tag not in DELIMITERS:
        raise ValueError(f"{tag!r} is not one of the fence tags {DELIMITERS}; add it to DELIMITERS")
    return f"<{tag}>\n{text.strip()}\n</{tag}>"


def clip(text: str, limit: int, keep: Keep = "head") -> str:
    """``text`` cut to ``limit`` characters, with a line saying how many were cut and where."""
    if len(text) <= limit:
        return text
    cut = len(text) - limit
    if keep == "tail":
        return f"[... {cut:,} earlier characters cut ...]\n{text[-limit:]}"
    return f"{text[:limit]}\n[... {cut:,} more characters cut ...]"
