"""Search tools: glob (file names) and grep (file contents).

Both walk the workspace without following directory symlinks and never enter ``.git``. The walk runs
in a worker thread so a large tree does not stall the other agents sharing the event loop.
"""

import asyncio
import os
import re
from collections.abc import Iterator
from fnmatch import fnmatchcase
from pathlib import Path

from tools.context import HIDDEN, ToolContext
from tools.errors import ToolError
from tools.text import looks_binary

MAX_GREP_FILE_BYTES = 2_000_000
"""Larger files (data dumps, bundles) are skipped by grep."""
MAX_MATCH_CHARS = 300
"""A matching line is cut to this length."""
_MAGIC = re.compile(r"[*?[]")


async def glob(ctx: ToolContext, pattern: str) -> str:
    """Find files and directories whose path matches a glob pattern; '**' matches any number of directories.

    Args:
        pattern: Pattern relative to the workspace root, e.g. 'src/**/*.py' or 'tests/test_*.py'.
    """
    parts = [part for part in pattern.replace("\\", "/").split("/") if part not in ("", ".")]
    if pattern.startswith(("/", "~")) or ".." in parts:
        raise ToolError(
            f"pattern {pattern!r} leaves the workspace; give a pattern relative to the workspace root"
        )
    if not parts:
        raise ToolError("the pattern is empty; try '**/*.py'")
    literal = 0
    while literal < len(parts) - 1 and not _MAGIC.search(parts[literal]):
        literal += 1
    base = ctx.resolve("/".join(parts[:literal]) or ".")
    cap = ctx.settings.search_max_results
    matches = await asyncio.to_thread(_glob, base, parts[literal:], cap + 1)
    if not matches:
        return f"no paths match {pattern!r}"
    shown = [ctx.relative(base / rel) + ("/" if (base / rel).is_dir() else "") for rel in matches[:cap]]
    if len(matches) > cap:
        shown.append(f"(results capped at {cap}; use a narrower pattern)")
    return "\n".join(shown)


async def grep(ctx: ToolContext, pattern: str, path: str = ".", ignore_case: bool = False) -> str:
    """Search text files for a Python regular expression; prints 'path:line: text' for each match.

    Args:
        pattern: Python regular expression, matched against each line.
        path: File or directory to search, relative to the workspace root; defaults to everything.
        ignore_case: Match without regard to case.
    """
    try:
        regex = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
    except re.error as exc:
        raise ToolError(f"invalid regular expression {pattern!r}: {exc}") from None
    resolved = ctx.resolve(path)
    if not resolved.exists():
        raise ToolError(f"{ctx.relative(resolved)} does not exist; use list_dir or glob to find the path")
    cap = ctx.settings.search_max_results
    hits = await asyncio.to_thread(_grep, ctx.workspace.resolve(), resolved, regex, cap + 1)
    if not hits:
        return f"no matches for {pattern!r} in {ctx.relative(resolved)}"
    if len(hits) > cap:
        hits = [*hits[:cap], f"(results capped at {cap}; narrow the pattern or the path)"]
    return "\n".join(hits)


def _walk(root: Path) -> Iterator[tuple[Path, bool]]:
    """(path, is_dir) under ``root`` in sorted order; ``.git`` and directory symlinks are not entered."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(name for name in dirnames if name not in HIDDEN)
        here = Path(dirpath)
        for name in dirnames:
            yield here / name, True
        for name in sorted(filenames):
            yield here / name, False


def _glob(base: Path, parts: list[str], limit: int) -> list[str]:
    matches: list[str] = []
    for path, _ in _walk(base):
        rel = path.relative_to(base).as_posix()
        if _match(parts, rel.split("/")):
            matches.append(rel)
            if len(matches) >= limit:
                break
    return sorted(matches)


def _match(pattern: list[str], path: list[str]) -> bool:
    """Glob matching by path component; a '**' component matches zero or more components."""
    if not pattern:
        return not path
    if pattern[0] == "**":
        return any(_match(pattern[1:], path[skip:]) for skip in range(len(path) + 1))
    return bool(path) and fnmatchcase(path[0], pattern[0]) and _match(pattern[1:], path[1:])


def _grep(workspace: Path, target: Path, regex: re.Pattern[str], limit: int) -> list[str]:
    files = [target] if target.is_file() else [path for path, is_dir in _walk(target) if not is_dir]
    hits: list[str] = []
    for file in files:
        try:
            if not file.is_file() or file.stat().st_size > MAX_GREP_FILE_BYTES:
                continue
            data = file.read_bytes()
        except OSError:
            continue
        if looks_binary(data):
            continue
        rel = file.relative_to(workspace).as_posix()
        for number, line in enumerate(data.decode("utf-8", errors="replace").split("\n"), start=1):
            if regex.search(line):
                hits.append(f"{rel}:{number}: {line.strip()[:MAX_MATCH_CHARS]}")
                if len(hits) >= limit:
                    return hits
    return hits
