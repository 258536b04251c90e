"""GitHub-flavoured Markdown from untrusted text.

Ticket text and model text are shown as text, never as markup: ``inline``/``cell``/``block`` escape
every character that could start a link, emphasis, HTML, a table column or a block construct;
``code_span`` and ``fence`` pick a backtick run longer than any in the content, so the content cannot
close them. ``contain`` is for a Markdown document we do want rendered (the PR agent's narrative): it
only makes sure the document cannot swallow or hide what follows it (unclosed fence, raw HTML).
"""

import re

_INLINE = re.compile(r"([\\`*_\[\]<>|~&#$])")
_LINE_START = re.compile(r"^([>+=-]|\d+(?=[.)]))")
_BACKTICKS = re.compile(r"`+")
_SAFE_URL = re.compile(r"^https?://[^\s<>\"'`()\[\]|\\]+$")
_LANG = re.compile(r"^[\w+-]*$")
_FENCE_LINE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_CODE_SPAN = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)")


def _escape_line(line: str) -> str:
    """Escape one line of text so that nothing in it is read as Markdown."""
    escaped = _INLINE.sub(r"\\\1", line)
    match = _LINE_START.match(escaped)
    if match is None:
        return escaped
    if match.group(1).isdigit():
        end = match.end()
        return escaped[:end] + "\\" + escaped[end:]
    return "\\" + escaped


def inline(text: str) -> str:
    """``text`` on one line (whitespace collapsed), every Markdown character escaped."""
    return _escape_line(" ".join(text.split()))


def cell(text: str) -> str:
    """A table cell: one line, ``|`` escaped with the rest."""
    return inline(text)


def block(text: str) -> str:
    """Prose paragraphs shown as written: line breaks kept (hard breaks), nothing read as Markdown.

    Leading indentation is dropped, as four spaces would start a code block.
    """
    out: list[str] = []
    for raw in text.strip().splitlines():
        line = raw.strip()
        if not line:
            if out and out[-1]:
                out[-1] = out[-1].removesuffix("  ")
                out.append("")
            continue
        out.append(_escape_line(line) + "  ")
    if out:
        out[-1] = out[-1].removesuffix("  ")
    return "\n".join(out)


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in _BACKTICKS.findall(text)), default=0)


def code_span(text: str, *, in_table: bool = False) -> str:
    """``text`` as inline code; inside a table, ``|`` is escaped as GFM requires."""
    text = " ".join(text.splitlines())
    if not text:
        return ""
    ticks = "`" * (_longest_backtick_run(text) + 1)
    if text.startswith("`") or text.endswith("`") or (text.startswith(" ") and text.endswith(" ")):
        text = f" {text} "
    if in_table:
        text = text.replace("|", "\\|")
    return f"{ticks}{text}{ticks}"


def fence(content: str, lang: str = "") -> str:
    """A fenced code block whose fence is longer than any backtick run in ``content``."""
    ticks = "`" * max(3, _longest_backtick_run(content) + 1)
    lang = lang if _LANG.match(lang) else ""
    return f"{ticks}{lang}\n{content.rstrip(chr(10))}\n{ticks}"


def link(text: str, url: str | None) -> str:
    """A link to ``url`` when it is a plain http(s) URL; otherwise the text with the URL as code."""
    if url and _SAFE_URL.match(url):
        return f"[{inline(text)}]({url})"
    if url:
        return f"{inline(text)} ({code_span(url)})"
    return inline(text)


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A GFM table; headers and cells must already be escaped (``cell``, ``code_span(in_table=True)``)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _neutralise_html(line: str) -> str:
    """``<`` outside code spans becomes ``&lt;``: no raw HTML, comments or images from model text."""
    parts: list[str] = []
    last = 0
    for match in _CODE_SPAN.finditer(line):
        parts.append(line[last : match.start()].replace("<", "&lt;"))
        parts.append(match.group(0))
        last = match.end()
    parts.append(line[last:].replace("<", "&lt;"))
    return "".join(parts)


def contain(markdown: str) -> str:
    """A Markdown document kept as Markdown, but unable to affect what is rendered after it.

    An unclosed code fence is closed and raw HTML (which could hide the rest in a comment or an
    unclosed ``<details>``) is shown as text.
    """
    out: list[str] = []
    open_fence: str | None = None
    for line in markdown.rstrip().splitlines():
        match = _FENCE_LINE.match(line)
        if open_fence is None:
            if match and not (match.group(1)[0] == "`" and "`" in match.group(2)):
                open_fence = match.group(1)
                out.append(line)
            else:
                out.append(_neutralise_html(line))
            continue
        out.append(line)
        if (
            match
            and match.group(1)[0] == open_fence[0]
            and len(match.group(1)) >= len(open_fence)
            and not match.group(2).strip()
        ):
            open_fence = None
    if open_fence is not None:
        out.append(open_fence)
    return "\n".join(out)
