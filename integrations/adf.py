"""Atlassian Document Format (ADF, Jira Cloud's rich text) to readable plain text, and plain text to ADF.

The agents read a ticket as text, so ``adf_to_text`` keeps what a reader needs (structure, code, links,
who was mentioned) and drops styling. Markdown-like markers (``## ``, ``- ``, ``1. ``, fences, ``> ``)
keep the structure visible. A node type it does not know still gives its text children, so a new Jira
node never loses words.
"""

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

_INLINE = frozenset(
    {"text", "hardBreak", "mention", "emoji", "inlineCard", "status", "date", "mediaInline", "placeholder"}
)
NO_LINKS: Mapping[str, str] = MappingProxyType({})
"""The empty, read-only default of ``links``."""
_URL = re.compile(r"https?://[^\s<>\"]+[^\s<>\".,;:!?)\]]")


def adf_to_text(node: Any) -> str:
    """Readable plain text of an ADF document or node; a plain string is returned as it is."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node
    if not isinstance(node, Mapping):
        return ""
    return _render(node).strip()


def _render(node: Mapping[str, Any]) -> str:
    kind = node.get("type")
    attrs: Mapping[str, Any] = node.get("attrs") or {}
    content: Sequence[Any] = node.get("content") or []
    match kind:
        case "text":
            return _marked_text(node)
        case "hardBreak":
            return "\n"
        case "mention":
            name = str(attrs.get("text") or attrs.get("id") or "someone")
            return name if name.startswith("@") else f"@{name}"
        case "emoji":
            return str(attrs.get("shortName") or attrs.get("text") or "")
        case "inlineCard" | "blockCard" | "embedCard":
            return str(attrs.get("url") or "")
        case "status":
            return f"[{attrs.get('text', '')}]"
        case "date":
            return _date(attrs.get("timestamp"))
        case "heading":
            level = attrs.get("level")
            hashes = "#" * (level if isinstance(level, int) and 1 <= level <= 6 else 1)
            return f"{hashes} {_children(content)}"
        case "codeBlock":
            code = "".join(str(child.get("text", "")) for child in content if isinstance(child, Mapping))
            return f"```{attrs.get('language') or ''}\n{code}\n```"
        case "bulletList":
            return _list(content, lambda _: "- ")
        case "orderedList":
            start = attrs.get("order")
            first = start if isinstance(start, int) else 1
            return _list(content, lambda index: f"{first + index}. ")
        case "taskList":
            return _list(content, lambda _: "- ")
        case "taskItem":
            done = "x" if attrs.get("state") == "DONE" else " "
            return f"[{done}] {_children(content)}"
        case "blockquote" | "panel":
            return "\n".join(f"> {line}".rstrip() for line in _children(content).splitlines())
        case "table":
            return "\n".join(_row(row) for row in content if isinstance(row, Mapping))
        case "rule":
            return "---"
        case "expand" | "nestedExpand":
            title = str(attrs.get("title") or "")
            body = _children(content)
            return f"{title}\n{body}" if title else body
        case _:
            return _children(content) if content else str(node.get("text") or "")


def _children(content: Sequence[Any], block_separator: str = "\n\n") -> str:
    """Inline children run together; block children are separated (by a blank line by default)."""
    blocks: list[str] = []
    inline: list[str] = []
    for child in content:
        if not isinstance(child, Mapping):
            continue
        if child.get("type") in _INLINE:
            inline.append(_render(child))
            continue
        if inline:
            blocks.append("".join(inline))
            inline = []
        blocks.append(_render(child))
    if inline:
        blocks.append("".join(inline))
    return block_separator.join(block for block in blocks if block.strip())


def _list(items: Sequence[Any], marker: Callable[[int], str]) -> str:
    lines: list[str] = []
    for index, item in enumerate(child for child in items if isinstance(child, Mapping)):
        prefix = marker(index)
        body = _children(item.get("content") or [], "\n") if item.get("type") == "listItem" else _render(item)
        for number, line in enumerate(body.splitlines() or [""]):
            lines.append(prefix + line if number == 0 else (" " * len(prefix) + line if line else ""))
    return "\n".join(lines)


def _row(row: Mapping[str, Any]) -> str:
    cells = [
        " ".join(_children(cell.get("content") or [], " ").split())
        for cell in row.get("content") or []
        if isinstance(cell, Mapping)
    ]
    return " | ".join(cells)


def _marked_text(node: Mapping[str, Any]) -> str:
    text = str(node.get("text") or "")
    for mark in node.get("marks") or []:
        if not isinstance(mark, Mapping):
            continue
        if mark.get("type") == "code":
            text = f"`{text}`"
        elif mark.get("type") == "link":
            href = (mark.get("attrs") or {}).get("href")
            if href and href != text:
                text = f"{text} ({href})"
    return text


def _date(timestamp: Any) -> str:
    """ADF dates are milliseconds since the epoch, as a string."""
    try:
        return datetime.fromtimestamp(int(timestamp) / 1000, UTC).date().isoformat()
    except (TypeError, ValueError, OverflowError):
        return ""


def text_to_adf(text: str, *, links: Mapping[str, str] = NO_LINKS) -> dict[str, Any]:
    """An ADF document: a paragraph per blank-line block, line breaks kept, bare URLs made links.

    ``links`` (label -> url) are appended as one last paragraph of link-marked labels.
    """
    paragraphs = [
        {"type": "paragraph", "content": _inline_text(block)}
        for block in re.split(r"\n\s*\n", text.strip())
        if block.strip()
    ]
    if links:
        content: list[dict[str, Any]] = []
        for label, url in links.items():
            if content:
                content.append({"type": "text", "text": " · "})
            content.append({"type": "text", "text": label, "marks": [_link(url)]})
        paragraphs.append({"type": "paragraph", "content": content})
    return {"type": "doc", "version": 1, "content": paragraphs or [{"type": "paragraph", "content": []}]}


def _inline_text(block: str) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    for number, line in enumerate(block.strip("\n").splitlines()):
        if number:
            nodes.append({"type": "hardBreak"})
        position = 0
        for match in _URL.finditer(line):
            if match.start() > position:
                nodes.append({"type": "text", "text": line[position : match.start()]})
            nodes.append({"type": "text", "text": match.group(), "marks": [_link(match.group())]})
            position = match.end()
        if position < len(line):
            nodes.append({"type": "text", "text": line[position:]})
    return nodes


def _link(url: str) -> dict[str, Any]:
    return {"type": "link", "attrs": {"href": url}}
