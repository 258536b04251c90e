"""Cut a tool output that is too long for the context, keeping its head and its tail.

The head usually holds what the command printed first (a header, the first failure); the tail holds
the summary line, the exit status, the last traceback. Two thirds of the budget go to the head, one
third to the tail, both cut at line boundaries when a boundary is close enough.
"""

DEFAULT_HINT = "narrow the command or query (a pattern, a path, a line range) to see the part you need"

_HEAD_SHARE = 2 / 3
_MIN_KEPT_SHARE = 0.5
"""A cut moves to a line boundary only if at least this share of the part's budget is kept."""


def truncate_output(text: str, max_chars: int, *, hint: str = "") -> str:
    """Return ``text`` unchanged if it fits in ``max_chars``, else its head and tail with a note between.

    The kept head and tail together never exceed ``max_chars``; only the note is extra. The note says
    how many characters and lines were left out and how to read them: ``hint`` (for example
    "use read_file with offset=120 to read more") or, by default, to narrow the command.
    """
    if len(text) <= max_chars:
        return text
    budget = max(max_chars, 0)
    head_budget = int(budget * _HEAD_SHARE)
    tail_budget = budget - head_budget
    head = _head(text, head_budget)
    tail = _tail(text, tail_budget)
    omitted = text[len(head) : len(text) - len(tail)]
    lines = omitted.count("\n") + (0 if omitted.endswith("\n") else 1)
    note = (
        f"[... {len(omitted):,} of {len(text):,} characters ({lines:,} lines) omitted; "
        f"{hint or DEFAULT_HINT} ...]"
    )
    if head and not head.endswith("\n"):
        note = "\n" + note
    return f"{head}{note}\n{tail}"


def _head(text: str, budget: int) -> str:
    """The first ``budget`` characters, ending after a newline if one is near the end."""
    head = text[:budget]
    newline = head.rfind("\n")
    if newline >= 0 and newline + 1 >= budget * _MIN_KEPT_SHARE:
        return head[: newline + 1]
    return head


def _tail(text: str, budget: int) -> str:
    """The last ``budget`` characters, starting at a line start if one is near the beginning."""
    if budget <= 0:
        return ""
    tail = text[-budget:]
    if text[-budget - 1 : -budget] == "\n":
        return tail
    newline = tail.find("\n")
    if newline >= 0 and len(tail) - (newline + 1) >= budget * _MIN_KEPT_SHARE:
        return tail[newline + 1 :]
    return tail
