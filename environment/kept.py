"""What the set-up made: every path of its worktree that git does not track, at any depth.

After ``[environment] setup`` ran in a worktree of the base commit, everything there that the commit
does not track is the environment: ``.venv`` and ``node_modules`` at the top, and below it a version
file written by hatch-vcs or setuptools-scm (``src/pkg/_version.py``), an extension module compiled in
place, ``src/pkg.egg-info``, generated stubs. Each *entry* is the largest untracked path: a directory
that holds no tracked file is one entry, whole; a directory that holds tracked files is looked into.

A symbolic link is never an entry, at any depth: each entry is later the source of a bind mount or a
copy, which the host resolves, so a link the set-up (repository code) made to ``/root`` would show the
bot's HOME to every later sandbox. Nor is anything that is neither a file nor a directory (a FIFO, a
socket). Links *inside* a kept directory (``.venv/bin/python``) are harmless: the sandbox resolves them.
What lies below the top level is size-capped (``[environment] generated_max_mb``).
"""

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

MB = 1024 * 1024
_LARGEST = 3


class TooLarge(Exception):
    """What the set-up left below the top level is over the cap; the message names the largest items."""


@dataclass
class Found:
    entries: list[str] = field(default_factory=list)
    """Worktree-relative paths, in walking order (parents' names sorted)."""
    refused: list[str] = field(default_factory=list)
    """Links and special files the set-up made: not kept."""


def untracked(worktree: Path, tracked: set[str]) -> Found:
    """The entries of ``worktree`` (see the module docstring); ``tracked`` holds the commit's files."""
    directories = {parent.as_posix() for path in tracked for parent in Path(path).parents} - {"."}
    found = Found()
    _walk(worktree, "", tracked, directories, found)
    return found


def _walk(worktree: Path, inside: str, tracked: set[str], directories: set[str], found: Found) -> None:
    with os.scandir(worktree / inside if inside else worktree) as listing:
        items = sorted(listing, key=lambda item: item.name)
    for item in items:
        path = f"{inside}/{item.name}" if inside else item.name
        if path == ".git" or item.name == "__pycache__" or path in tracked:
            continue  # byte code is rewritten by Python wherever it is missing
        if item.is_symlink():
            found.refused.append(path)
        elif path in directories:
            if item.is_dir(follow_symlinks=False):
                _walk(worktree, path, tracked, directories, found)
        elif item.is_dir(follow_symlinks=False) or item.is_file(follow_symlinks=False):
            found.entries.append(path)
        else:
            found.refused.append(path)


def check_size(worktree: Path, entries: list[str], max_mb: int) -> None:
    """Raise TooLarge when the entries below the top level weigh more than ``max_mb`` together."""
    sizes = {entry: _size(worktree / entry) for entry in entries if "/" in entry}
    total = sum(sizes.values())
    if total <= max_mb * MB:
        return
    largest = sorted(sizes, key=lambda entry: -sizes[entry])[:_LARGEST]
    shown = ", ".join(f"{entry} {_mb(sizes[entry])}" for entry in largest)
    raise TooLarge(
        f"the set-up left {_mb(total)} below the top level of the worktree ({shown}), more than "
        f"[environment] generated_max_mb = {max_mb}: raise it, or make the set-up build less there"
    )


def move(worktree: Path, files: Path, entries: list[str]) -> None:
    """Move each entry from ``worktree`` to the same relative path in ``files``."""
    for entry in entries:
        target = files / entry
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(worktree / entry, target)


def exclude_pattern(entry: str) -> str:
    """A git exclude line that matches ``entry`` (from the top of the worktree) and nothing else."""
    escaped = "".join(f"\\{char}" if char in "*?[\\" else char for char in entry)
    return f"/{escaped}"


def files_in(files: Path, entries: list[str]) -> list[str]:
    """Every regular file below the top level of the kept ``entries`` (and each file entry at the top),
    worktree-relative: where built artefacts can be."""
    found = []
    for entry in entries:
        path = files / entry
        if path.is_file() and not path.is_symlink():
            found.append(entry)
        elif "/" in entry:
            for root, _dirs, names in os.walk(path):
                found += [
                    (Path(root) / name).relative_to(files).as_posix()
                    for name in names
                    if stat.S_ISREG(os.lstat(Path(root) / name).st_mode)
                ]
    return sorted(found)


def _size(path: Path) -> int:
    status = os.lstat(path)
    if not stat.S_ISDIR(status.st_mode):
        return status.st_size
    total = 0
    for root, _dirs, names in os.walk(path):
        for name in names:
            total += os.lstat(Path(root) / name).st_size
    return total


def _mb(size: int) -> str:
    return f"{size / MB:.1f} MB"
