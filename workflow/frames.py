"""An alert's frames mapped onto the repository, and checked against it at the run's base commit.

A frame's path is where the code ran (``/srv/app/releases/1.4.0/todo/service.py``, a virtualenv's
``site-packages/todo/service.py``), not where it lives in the repository (``src/todo/service.py``). The
candidates tried, in order: the absolute path with a ``[sentry] path_prefixes`` entry stripped, the part
after ``site-packages/`` (or ``dist-packages/``), the event's own relative path (Python's SDK gives the
path below the import root: ``todo/service.py``), then the absolute path's tails of two components or
more, longest first. A candidate maps when it is a file of the repository at the base commit, or the tail
of exactly one such file (again of two components or more). The first candidate that maps wins. A frame
none maps stays unmapped, with the reason, and is never pointed at a file it merely resembles: a bare
``handlers.py`` from ``/srv/app/views/handlers.py`` is not the repository's ``handlers.py``.

A mapped frame is checked against the file at the base commit: a line past the file's end, or a line
that reads otherwise than the event captured (the deployed release is older or newer), is said as
``drift``. ``line_url`` gives a link to the file's line at the base commit, when the repository has a
web view (GitHub).
"""

import re
from collections import defaultdict
from collections.abc import Callable, Sequence

from documents.alerts import Alert, StackFrame
from gitrepo import GitRepo

SITE_DIRS = ("site-packages/", "dist-packages/")
_ABSOLUTE = re.compile(r"^(/|[A-Za-z]:/|[a-z]+://)")
LineUrl = Callable[[str, int | None], str | None]
"""(repository path, line) -> a link to that line at the base commit, or None."""


def candidates(frame: StackFrame, prefixes: Sequence[str] = ()) -> list[str]:
    """The repository paths ``frame`` may be in, most specific first."""
    absolute = (frame.abs_path or "").replace("\\", "/")
    relative = frame.filename.replace("\\", "/")
    found = [absolute[len(p) :] for p in prefixes if p and absolute.startswith(p)]
    found += [absolute.rsplit(marker, 1)[1] for marker in SITE_DIRS if marker in absolute]
    if not _ABSOLUTE.match(relative):
        found.append(relative)
    parts = [part for part in absolute.split("/") if part and part != "."]
    found += ["/".join(parts[i:]) for i in range(len(parts) - 1)]
    return list(dict.fromkeys(c.strip("/") for c in found if c.strip("/")))


class RepositoryFiles:
    """The files of the repository at one commit, looked up by path or by a unique tail."""

    def __init__(self, paths: Sequence[str]) -> None:
        self.paths = set(paths)
        self._by_name: dict[str, list[str]] = defaultdict(list)
        for path in paths:
            self._by_name[path.rsplit("/", 1)[-1]].append(path)

    def find(self, candidate: str) -> str | None:
        """``candidate`` itself, or the one file it is the tail of (two components at least)."""
        if candidate in self.paths:
            return candidate
        if "/" not in candidate:
            return None
        tails = [
            p for p in self._by_name.get(candidate.rsplit("/", 1)[-1], []) if p.endswith("/" + candidate)
        ]
        return tails[0] if len(tails) == 1 else None

    def map(self, frame: StackFrame, prefixes: Sequence[str]) -> str | None:
        return next(filter(None, (self.find(c) for c in candidates(frame, prefixes))), None)


async def map_frames(
    alert: Alert, repo: GitRepo, base: str, *, prefixes: Sequence[str] = (), line_url: LineUrl | None = None
) -> Alert:
    """``alert`` with each frame mapped to the repository at ``base`` and checked there, or unmapped."""
    files = RepositoryFiles(list(await repo.files_at(base)))
    texts: dict[str, list[str] | None] = {}
    frames = []
    for frame in alert.frames:
        path = files.map(frame, prefixes)
        if path is None:
            frames.append(
                frame.model_copy(
                    update={
                        "repo_path": None,
                        "url": None,
                        "unmapped": f"not in the repository at {base[:12]}",
                    }
                )
            )
            continue
        if path not in texts:
            text = await repo.read_at(base, path)
            texts[path] = text.splitlines() if text is not None else None
        frames.append(
            frame.model_copy(
                update={
                    "repo_path": path,
                    "url": line_url(path, frame.lineno) if line_url else None,
                    "unmapped": None,
                    "drift": _drift(frame, texts[path], base),
                }
            )
        )
    return alert.model_copy(update={"frames": frames, "mapped_at": base})


def _drift(frame: StackFrame, lines: list[str] | None, base: str) -> str | None:
    """How the base commit's line differs from the captured one, or None when it reads the same."""
    if lines is None or frame.lineno is None:
        return None
    if not 1 <= frame.lineno <= len(lines):
        return f"line {frame.lineno} is past the end of the file at {base[:12]} ({len(lines)} lines)"
    captured, actual = frame.line, lines[frame.lineno - 1]
    if captured is not None and captured.strip() != actual.strip():
        return f"at {base[:12]} line {frame.lineno} reads {actual.strip()[:120]!r}"
    return None
