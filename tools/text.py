"""Text helpers shared by the built-in tools: binary detection, reading text, trimming output."""

from pathlib import Path

from tools.errors import ToolError

SNIFF_BYTES = 8192
"""A NUL byte in this many leading bytes marks a file as binary (git's own heuristic)."""
OUTPUT_TAIL_CHARS = 8000
"""Characters of a command's output a tool returns: the tail, where errors and summaries are."""


def looks_binary(data: bytes) -> bool:
    return b"\0" in data[:SNIFF_BYTES]


def read_text(path: Path, shown: str) -> str:
    """The file's text; ToolError when it is binary (``shown`` is the name the model used)."""
    data = path.read_bytes()
    if looks_binary(data):
        raise ToolError(f"{shown} is a binary file ({len(data)} bytes); only text files can be read")
    return data.decode("utf-8", errors="replace")


def tail(text: str, limit: int = OUTPUT_TAIL_CHARS) -> str:
    """The last ``limit`` characters of ``text``, saying how much was cut."""
    if len(text) <= limit:
        return text
    cut = text[-limit:]
    newline = cut.find("\n")
    if 0 <= newline < 200:
        cut = cut[newline + 1 :]
    return f"[... {len(text) - len(cut)} earlier characters cut ...]\n{cut}"
