"""A unified ``git diff`` as FileChange rows, and the diffstat text shown in the PR body and the report.

The parser counts lines by the hunk headers' lengths, so a removed line that itself starts with
``--`` is not taken for a file header. It reads git's extended headers (new, deleted, renamed,
copied, binary) and git's C-style quoted paths; a plain ``diff -u`` without them works too.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

from documents.facts import FileChange, FileStatus

_HUNK = re.compile(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")
_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}
_MAX_LABEL_WIDTH = 60


@dataclass
class _Block:
    old_path: str | None = None
    new_path: str | None = None
    status: FileStatus = "modified"
    added: int = 0
    removed: int = 0
    binary: bool = False
    seen_hunk: bool = False

    def change(self) -> FileChange:
        path = self.new_path if self.status != "deleted" else self.old_path
        path = path or self.old_path or self.new_path or "?"
        old = self.old_path if self.status in ("renamed", "copied") else None
        return FileChange(
            path=path,
            added=self.added,
            removed=self.removed,
            status=self.status,
            old_path=old,
            binary=self.binary,
        )


def _take_quoted(text: str) -> tuple[str, str]:
    """Split a leading C-quoted path (git's quoting for unusual names) from the rest of ``text``."""
    out = bytearray()
    i = 1
    while i < len(text):
        ch = text[i]
        if ch == '"':
            return out.decode("utf-8", "replace"), text[i + 1 :].lstrip(" ")
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt in "0123" and text[i + 1 : i + 4].isdigit():
                out.append(int(text[i + 1 : i + 4], 8))
                i += 4
                continue
            out.append(_ESCAPES.get(nxt, ord(nxt)))
            i += 2
            continue
        out += ch.encode()
        i += 1
    return out.decode("utf-8", "replace"), ""


def _path(token: str) -> str:
    """A path from a header token: unquoted, without a trailing tab/timestamp."""
    if token.startswith('"'):
        return _take_quoted(token)[0]
    return token.split("\t", 1)[0]


def _strip_prefix(path: str) -> str:
    return path[2:] if path[:2] in ("a/", "b/") else path


def _header_paths(rest: str) -> tuple[str, str]:
    """The two paths of ``diff --git <a> <b>``, where unquoted paths may contain spaces."""
    if rest.startswith('"'):
        old, tail = _take_quoted(rest)
        return old, _path(tail)
    if rest.endswith('"'):
        for idx in (m.start() for m in re.finditer(' "', rest)):
            new, tail = _take_quoted(rest[idx + 1 :])
            if not tail:
                return rest[:idx], new
    half = (len(rest) - 5) // 2  # "a/<p> b/<p>": the same path twice, which may contain " b/"
    same = rest[:2] == "a/" and rest[2 + half : 5 + half] == " b/" and rest[2 : 2 + half] == rest[5 + half :]
    if half > 0 and same:
        return rest[: 2 + half], rest[3 + half :]
    old, sep, new = rest.partition(" b/")
    return old, ("b/" + new) if sep else old


def diff_files(diff: str) -> list[FileChange]:
    """The files a unified diff touches, in order, with added/removed line counts."""
    blocks: list[_Block] = []
    current: _Block | None = None
    old_left = new_left = 0
    for line in diff.splitlines():
        if current is not None and (old_left > 0 or new_left > 0):
            tag = line[:1]
            if tag == "+":
                current.added += 1
                new_left -= 1
            elif tag == "-":
                current.removed += 1
                old_left -= 1
            elif tag != "\\":
                old_left -= 1
                new_left -= 1
            continue
        if line.startswith("diff --git "):
            old, new = _header_paths(line[len("diff --git ") :])
            current = _Block(old_path=_strip_prefix(old), new_path=_strip_prefix(new))
            blocks.append(current)
        elif line.startswith("--- ") and (current is None or current.seen_hunk):
            current = _Block()  # a plain unified diff: no ``diff --git`` line between files
            blocks.append(current)
            _set_old(current, line[4:])
        elif current is None:
            continue
        elif match := _HUNK.match(line):
            current.seen_hunk = True
            old_left = int(match.group(1)) if match.group(1) is not None else 1
            new_left = int(match.group(2)) if match.group(2) is not None else 1
        else:
            _read_header(current, line)
    return [block.change() for block in blocks]


def _set_old(block: _Block, token: str) -> None:
    path = _path(token)
    if path == "/dev/null":
        block.status = "added"
    else:
        block.old_path = _strip_prefix(path)


def _read_header(block: _Block, line: str) -> None:
    """Apply one extended-header line of git's diff to ``block``."""
    if line.startswith("new file mode"):
        block.status = "added"
    elif line.startswith("deleted file mode"):
        block.status = "deleted"
    elif line.startswith(("rename from ", "copy from ")):
        block.status = "renamed" if line.startswith("rename") else "copied"
        block.old_path = _path(line.split(" ", 2)[2])
    elif line.startswith(("rename to ", "copy to ")):
        block.new_path = _path(line.split(" ", 2)[2])
    elif line.startswith("--- "):
        _set_old(block, line[4:])
    elif line.startswith("+++ "):
        path = _path(line[4:])
        if path == "/dev/null":
            block.status = "deleted"
        else:
            block.new_path = _strip_prefix(path)
    elif line.startswith("Binary files ") or line == "GIT binary patch":
        block.binary = True


def _label(change: FileChange) -> str:
    if change.old_path and change.status in ("renamed", "copied"):
        return f"{change.old_path} => {change.path}"
    return change.path


def _counts(change: FileChange) -> str:
    counts = "binary" if change.binary else f"+{change.added} -{change.removed}"
    suffix = {"added": " (new)", "deleted": " (deleted)", "copied": " (copy)"}.get(change.status, "")
    return counts + suffix


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def diffstat(files: Sequence[FileChange]) -> str:
    """One ``path | +A -R`` line per file, aligned, then the totals."""
    if not files:
        return "no files changed"
    labels = [_label(change) for change in files]
    width = min(max(len(label) for label in labels), _MAX_LABEL_WIDTH)
    lines = [f"{label.ljust(width)} | {_counts(change)}" for label, change in zip(labels, files, strict=True)]
    added = sum(change.added for change in files)
    removed = sum(change.removed for change in files)
    lines.append(
        f"{_plural(len(files), 'file')} changed, {_plural(added, 'insertion')}(+), "
        f"{_plural(removed, 'deletion')}(-)"
    )
    return "\n".join(lines)
