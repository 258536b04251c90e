"""Excerpts of failing GitHub Actions job logs, for a CI-triggered run's ticket.

A job log can be tens of megabytes of timestamped, colourised lines; the agents need the few lines
that say what broke. ``LogExcerpt`` reads a log once, line by line, with memory bounded by its budget,
and keeps the lines around error markers (``Error``, ``ERROR``, ``FAILED``, ``error:``, ``##[error]``)
plus the end of the log, which is where test runners print their summary.

``download_excerpt`` streams one log from the pre-signed URL GitHub redirects to. It is fetched with a
plain client that carries no credentials: the URL is its own authorisation, and the token must never
travel to the storage host it points at.
"""

import re
from collections import deque

import httpx

MARKERS = re.compile(r"Error|ERROR|FAILED|error:|##\[error\]")
"""A line matching this is kept with its neighbours."""
CONTEXT_LINES = 2
"""Lines kept before and after each marked line."""
MAX_LINE_CHARS = 400
"""Longer lines (minified output, base64 blobs) are cut to this."""
_TIMESTAMP = re.compile(r"^\ufeff?\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z ?")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def clean_line(line: str) -> str:
    """The line without GitHub's timestamp prefix, colour codes and trailing blanks, cut if too long."""
    text = _ANSI.sub("", _TIMESTAMP.sub("", line)).rstrip()
    return text if len(text) <= MAX_LINE_CHARS else text[: MAX_LINE_CHARS - 1] + "…"


class LogExcerpt:
    """Feed a log line by line; ``text()`` is at most ``budget`` characters.

    At most half the budget goes to the lines around markers (the first ones: the earliest error is
    usually the cause); the rest, and whatever those lines leave unused, goes to the end of the log.
    """

    def __init__(self, budget: int) -> None:
        if budget <= 0:
            raise ValueError(f"an excerpt needs a positive budget, not {budget}")
        self._budget = budget
        self._marked_budget = budget // 2
        self._count = 0
        self._before: deque[tuple[int, str]] = deque(maxlen=CONTEXT_LINES)
        self._marked: dict[int, str] = {}
        self._marked_chars = 0
        self._marked_full = False
        self._after = 0
        self._tail: deque[tuple[int, str]] = deque()
        self._tail_chars = 0

    def feed(self, raw: str) -> None:
        number, line = self._count, clean_line(raw)
        self._count += 1
        if not self._marked_full:
            if MARKERS.search(line):
                self._mark([*self._before, (number, line)])
                self._after = CONTEXT_LINES
            elif self._after:
                self._mark([(number, line)])
                self._after -= 1
        self._before.append((number, line))
        self._tail.append((number, line))
        self._tail_chars += len(line) + 1
        while self._tail_chars > self._budget:
            self._tail_chars -= len(self._tail.popleft()[1]) + 1

    def _mark(self, group: list[tuple[int, str]]) -> None:
        """Keep the whole group (a marked line with the lines before it) or, once full, nothing more."""
        new = [(n, line) for n, line in group if n not in self._marked]
        cost = sum(len(line) + 1 for _, line in new)
        if self._marked_chars + cost > self._marked_budget:
            self._marked_full = True
            return
        self._marked.update(new)
        self._marked_chars += cost

    def text(self) -> str:
        """The kept lines in log order, ``[... N lines skipped ...]`` where lines were left out."""
        marked = list(self._marked.items())
        tail = deque(self._tail)
        tail_chars = self._tail_chars
        head = head_chars = 0  # marked[:head] come before the tail; head_chars counts their gaps too
        last = -1
        while True:
            start = tail[0][0] if tail else self._count
            while head < len(marked) and marked[head][0] < start:
                number, line = marked[head]
                head_chars += len(_gap(number - last - 1)) + len(line) + 1
                last, head = number, head + 1
            if not tail or tail_chars + head_chars + len(_gap(start - last - 1)) <= self._budget:
                break
            tail_chars -= len(tail.popleft()[1]) + 1
        out: list[str] = []
        expected = 0
        for number, line in [*marked[:head], *tail]:
            if number > expected:
                out.append(_gap(number - expected).rstrip("\n"))
            out.append(line)
            expected = number + 1
        if expected < self._count:
            out.append(_gap(self._count - expected).rstrip("\n"))
        text = "\n".join(out)
        if len(text) > self._budget:  # only with a budget too small for even the markers
            text = text[-self._budget :]
        return text


def _gap(skipped: int) -> str:
    """The marker for ``skipped`` left-out lines, with its line break ("" when none were)."""
    return f"[... {skipped} lines skipped ...]\n" if skipped > 0 else ""


async def download_excerpt(client: httpx.AsyncClient, url: str, budget: int) -> str:
    """Stream the log at ``url`` into a ``LogExcerpt``. ``client`` must carry no credentials.

    Raises ``httpx.HTTPError`` (a status >= 400 included) for the caller to report.
    """
    excerpt = LogExcerpt(budget)
    async with client.stream("GET", url) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            excerpt.feed(line)
    return excerpt.text()
