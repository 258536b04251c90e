"""File tools: read_file, list_dir, write_file, edit_file, delete_file.

Every path goes through ``ToolContext.resolve`` (confined to the workspace, symlinks resolved) and
every write through ``write_rules.check_write``. Writes are atomic: the new content goes to a temporary
file in the same directory that then replaces the target, so a failure never leaves half a file.
``delete_file`` removes only what the agent made: a file the base commit does not hold (asked of git in
the sandbox), so scratch files can go while the repository's own files are changed with edits.
"""

import difflib
import os
import posixpath
import tempfile
from pathlib import Path

from pydantic import PositiveInt

from tools.context import HIDDEN, ToolContext
from tools.errors import ToolError
from tools.text import read_text, tail

MAX_LINE_CHARS = 2000
"""A longer line (minified code, data) is cut when shown by read_file."""
CONTEXT_LINES = 2
"""Lines shown around an edit or a near miss."""


async def read_file(
    ctx: ToolContext, path: str, offset: PositiveInt = 1, limit: PositiveInt | None = None
) -> str:
    """Read a text file, with line numbers.

    Args:
        path: File path relative to the workspace root.
        offset: First line to show (1-based).
        limit: Number of lines to show; defaults to the configured page size.
    """
    resolved = ctx.resolve(path)
    shown = ctx.relative(resolved)
    _require_file(ctx, resolved, shown)
    lines = _split_lines(read_text(resolved, shown))
    if not lines:
        return f"({shown} is empty)"
    if offset > len(lines):
        raise ToolError(f"offset {offset} is past the end of {shown} ({len(lines)} lines)")
    last = min(len(lines), offset - 1 + (limit or ctx.settings.read_limit_lines))
    body = _numbered(lines, offset, last)
    if last < len(lines):
        return f"{body}\n(lines {offset}-{last} of {len(lines)}; use offset={last + 1} to read more)"
    if offset > 1:
        return f"{body}\n(lines {offset}-{last} of {len(lines)}; end of file)"
    return body


async def list_dir(ctx: ToolContext, path: str = ".") -> str:
    """List a directory: entries sorted by name, directories with a trailing '/'.

    Args:
        path: Directory relative to the workspace root; defaults to the root.
    """
    resolved = ctx.resolve(path)
    shown = ctx.relative(resolved)
    if not resolved.exists():
        raise _missing(ctx, resolved, shown)
    if not resolved.is_dir():
        raise ToolError(f"{shown} is a file, not a directory; use read_file to read it")
    entries = _entries(resolved)
    if not entries:
        return f"({shown} is an empty directory)"
    cap = ctx.settings.search_max_results
    listing = "\n".join(entries[:cap])
    if len(entries) > cap:
        listing += f"\n(showing {cap} of {len(entries)} entries; use glob to narrow down)"
    return listing


async def write_file(ctx: ToolContext, path: str, content: str) -> str:
    """Create or overwrite a file with the given content (parent directories are created).

    Args:
        path: File path relative to the workspace root.
        content: The complete new content of the file.
    """
    resolved = ctx.resolve(path)
    shown = ctx.relative(resolved)
    ctx.write_rules.check_write(shown)
    if resolved.is_dir():
        raise ToolError(f"{shown} is a directory; give a file path")
    existed = resolved.exists()
    resolved.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode("utf-8")
    atomic_write(resolved, data)
    return f"{'overwrote' if existed else 'created'} {shown} ({len(data)} bytes written)"


async def edit_file(ctx: ToolContext, path: str, old_text: str, new_text: str) -> str:
    """Replace one exact occurrence of old_text with new_text in a file.

    Args:
        path: File path relative to the workspace root.
        old_text: Text to replace, copied exactly (whitespace included); it must occur exactly once.
            Include surrounding lines to make it unique.
        new_text: The replacement text.
    """
    resolved = ctx.resolve(path)
    shown = ctx.relative(resolved)
    ctx.write_rules.check_write(shown)
    _require_file(ctx, resolved, shown)
    if not old_text:
        raise ToolError("old_text is empty; to create or replace a whole file use write_file")
    if old_text == new_text:
        raise ToolError("old_text and new_text are the same; nothing to change")
    text = read_text(resolved, shown)
    starts = _occurrences(text, old_text)
    if not starts:
        raise ToolError(f"old_text was not found in {shown}.\n{_nearest(text, old_text)}")
    if len(starts) > 1:
        numbers = ", ".join(str(text.count("\n", 0, start) + 1) for start in starts)
        raise ToolError(
            f"old_text occurs {len(starts)} times in {shown} (starting on lines {numbers}); "
            "include more surrounding lines so that it matches exactly once"
        )
    start = starts[0]
    updated = text[:start] + new_text + text[start + len(old_text) :]
    atomic_write(resolved, updated.encode("utf-8"))
    first = text.count("\n", 0, start) + 1
    last = first + new_text.count("\n")
    lines = _split_lines(updated)
    window = _numbered(lines, max(1, first - CONTEXT_LINES), min(len(lines), last + CONTEXT_LINES))
    return f"edited {shown}; lines {first}-{last} now read:\n{window}"


async def delete_file(ctx: ToolContext, path: str) -> str:
    """Delete a file you created (a reproduction script, notes, debug output). Files of the repository
    as it was at the base commit cannot be deleted with this tool: undo your changes to them with
    edit_file instead.

    Args:
        path: File path relative to the workspace root.
    """
    # The parent is resolved, the name is not: a symlink the agent made is removed, never its target.
    parent = ctx.resolve(posixpath.dirname(path) or ".")
    name = posixpath.basename(path.rstrip("/"))
    if name in ("", ".", ".."):
        raise ToolError(f"{path!r} names no file; give the path of the file to delete")
    target = parent / name
    shown = ctx.relative(target)
    ctx.write_rules.check_write(shown)
    if target.is_dir() and not target.is_symlink():
        raise ToolError(f"{shown} is a directory; delete the files in it (git keeps no empty directory)")
    if not target.is_symlink():
        _require_file(ctx, target, shown)
    if await _in_base_commit(ctx, shown):
        raise ToolError(
            f"{shown} is part of the repository at the base commit, not a file you created: undo your "
            "changes to it with edit_file instead of deleting it"
        )
    target.unlink()
    return f"deleted {shown}"


async def _in_base_commit(ctx: ToolContext, shown: str) -> bool:
    """Whether the worktree's HEAD (the base commit) holds ``shown``; asked of git in the sandbox."""
    run = await ctx.sandbox.run(
        ["git", "--literal-pathspecs", "ls-tree", "-z", "--name-only", "HEAD", "--", shown],
        workspace=ctx.workspace,
        environment=ctx.environment,
        timeout_s=ctx.settings.shell_timeout_s,
        access="read_only",
    )
    if run.exit_code != 0 or run.timed_out:
        raise ToolError(
            f"{shown} was not deleted: git could not tell whether the base commit holds it "
            f"(exit code {run.exit_code}: {tail(run.output, 300).strip()})"
        )
    return bool(run.output.strip("\0\n"))


def atomic_write(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` through a temporary sibling and ``os.replace``; keep the file mode."""
    mode = target.stat().st_mode & 0o7777 if target.exists() else 0o644
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _require_file(ctx: ToolContext, resolved: Path, shown: str) -> None:
    if not resolved.exists():
        raise _missing(ctx, resolved, shown)
    if resolved.is_dir():
        raise ToolError(f"{shown} is a directory; use list_dir to see what it holds")


def _missing(ctx: ToolContext, resolved: Path, shown: str) -> ToolError:
    """A 'does not exist' error that lists what is there instead, closest names first."""
    parent = resolved.parent
    while not parent.is_dir() and parent != ctx.workspace:
        parent = parent.parent
    entries = _entries(parent)
    close = difflib.get_close_matches(resolved.name, entries, n=3, cutoff=0.5)
    where = ctx.relative(parent)
    where = "the workspace root" if where in ("", ".") else where
    message = f"{shown} does not exist."
    if close:
        message += f" Did you mean: {', '.join(close)}?"
    shown_entries = ", ".join(entries[:30]) + (f", ... ({len(entries)} in all)" if len(entries) > 30 else "")
    return ToolError(f"{message} Entries in {where}: {shown_entries or '(none)'}")


def _entries(directory: Path) -> list[str]:
    return sorted(
        entry.name + ("/" if entry.is_dir() else "")
        for entry in directory.iterdir()
        if entry.name not in HIDDEN
    )


def _split_lines(text: str) -> list[str]:
    """Lines as editors and grep number them (a final newline does not start another line)."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def _numbered(lines: list[str], first: int, last: int) -> str:
    out = []
    for number in range(first, last + 1):
        line = lines[number - 1]
        if len(line) > MAX_LINE_CHARS:
            line = f"{line[:MAX_LINE_CHARS]} [... line cut at {MAX_LINE_CHARS} characters]"
        out.append(f"{number:6d}\t{line}")
    return "\n".join(out)


def _occurrences(text: str, needle: str) -> list[int]:
    starts = []
    index = text.find(needle)
    while index != -1:
        starts.append(index)
        index = text.find(needle, index + 1)
    return starts


def _nearest(text: str, old_text: str) -> str:
    """The window of the file most similar to ``old_text``, numbered, to show what to copy."""
    lines = _split_lines(text)
    if not lines:
        return "The file is empty."
    size = len(_split_lines(old_text)) or 1
    matcher = difflib.SequenceMatcher(None, autojunk=False)
    matcher.set_seq2(old_text.rstrip("\n"))
    best_start, best_ratio = 0, -1.0
    for start in range(max(1, len(lines) - size + 1)):
        matcher.set_seq1("\n".join(lines[start : start + size]))
        if matcher.real_quick_ratio() <= best_ratio or matcher.quick_ratio() <= best_ratio:
            continue
        ratio = matcher.ratio()
        if ratio > best_ratio:
            best_start, best_ratio = start, ratio
    first = max(1, best_start + 1 - CONTEXT_LINES)
    last = min(len(lines), best_start + size + CONTEXT_LINES)
    return (
        f"The closest text ({best_ratio:.0%} similar) is around lines {best_start + 1}-{best_start + size}:\n"
        f"{_numbered(lines, first, last)}"
    )
