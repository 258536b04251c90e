"""A unified ``git diff`` as FileChange rows, and the diffstat text shown in the PR body and the report.

``unidiff`` reads the diff: it counts a hunk's lines by its header's lengths (so a removed line that
itself starts with ``--`` is not taken for a file header) and knows new, deleted and binary files. What
it does not read is taken from git's own headers here: renames and copies (``rename from``, ``copy
to``), C-quoted paths (``"a/\303\251.py"``), and a path with `` b/`` in it (a folder ``plan b``), which
unidiff would split at the wrong `` b/`` of ``diff --git a/plan b/x.py b/plan b/x.py``. A plain
``diff -u`` without git's headers works too.
"""

import codecs
import re
from collections.abc import Iterator, Sequence

from unidiff import PatchedFile, PatchSet
from unidiff.constants import DEV_NULL
from unidiff.errors import UnidiffParseError

from documents.facts import FileChange, FileStatus

_MAX_LABEL_WIDTH = 60
_SAME_PATH = re.compile(r'^diff --git (?P<q>"?)a/(?P<path>.+)(?P=q) (?P=q)b/(?P=path)(?P=q)$')
"""git's header for a file that keeps its path: the same path twice, which is how git splits it too."""
_MOVES = ("rename from", "rename to", "copy from", "copy to")


def diff_files(diff: str) -> list[FileChange]:
    """The files a unified diff touches, in order, with added/removed line counts; ValueError for text
    that is not one."""
    try:
        patched = PatchSet("".join(_without_git_file_lines(diff)))
    except UnidiffParseError as exc:
        raise ValueError(f"not a unified diff: {exc}") from None
    return [_change(file) for file in patched]


def _without_git_file_lines(diff: str) -> Iterator[str]:
    """The diff without the ``---``/``+++`` lines of git's headers: they repeat the ``diff --git`` line
    (and ``new``/``deleted file mode``), and unidiff refuses them when it split that line wrong."""
    in_header = False
    for line in diff.splitlines(keepends=True):
        if line.startswith("diff --git "):
            in_header = True
        elif line.startswith("@@"):
            in_header = False
        elif in_header and line.startswith(("--- ", "+++ ")):
            continue
        yield line


def _change(file: PatchedFile) -> FileChange:
    info = [line.rstrip("\n") for line in file.patch_info or ()]
    moves = {
        key: _unquoted(line[len(key) + 1 :]) for line in info for key in _MOVES if line.startswith(f"{key} ")
    }
    old, new = _path(file.source_file), _path(file.target_file)
    same = next((match for line in info if (match := _SAME_PATH.match(line))), None)
    if same is not None:
        old = new = _unquoted(f'"{same["path"]}"' if same["q"] else same["path"])
    status: FileStatus = "modified"
    if moves:
        status = "copied" if "copy from" in moves else "renamed"
        old = moves.get("copy from") or moves.get("rename from") or old
        new = moves.get("copy to") or moves.get("rename to") or new
    elif file.source_file == DEV_NULL:
        status = "added"
    elif file.target_file == DEV_NULL:
        status = "deleted"
    return FileChange(
        path=old if status == "deleted" else new,
        added=file.added,
        removed=file.removed,
        status=status,
        old_path=old if status in ("renamed", "copied") else None,
        binary=file.is_binary_file,
    )


def _unquoted(name: str) -> str:
    """A path as git wrote it: C-quoted (``"\303\251.py"``) when it has unusual characters."""
    if len(name) >= 2 and name[0] == name[-1] == '"':
        return codecs.escape_decode(name[1:-1].encode())[0].decode("utf-8", "replace")
    return name


def _path(name: str) -> str:
    """A path of a file header, unquoted and without its ``a/`` or ``b/``."""
    name = _unquoted(name)
    return name[2:] if name[:2] in ("a/", "b/") else name


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
