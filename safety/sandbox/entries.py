"""What the environment set-up made, shown at its own path under /workspace in a sandbox.

An entry is a path relative to the worktree, at any depth: a directory (``.venv``, a nested
``node_modules``, ``src/pkg.egg-info``) or a file (``src/pkg/_version.py``, an extension module built
in place). How it is shown depends on the sandbox's access to the worktree:

- ``read_write`` and ``read_only``: bound read-only over a mount point in the worktree itself, an empty
  directory or file that the repository ignores locally (a *placeholder*; made here when missing);
- ``overlay`` (every test run): inside the throwaway overlay, writable like the rest of /workspace and
  gone when the command ends, so that ``[environment] build`` can rebuild an extension in place or
  reinstall the project into ``.venv``: a directory is a throwaway overlay of the kept one, a file a
  copy (bwrap's ``--file``, whose time ``[environment] build`` sets back first: see ``copies``); no
  placeholder is made.

The worktree's own files win: where the worktree holds something other than a placeholder at an
entry's path (a file the fix adds, a non-empty directory, a link), the entry is not shown there.

Nothing on the host is reached through a link the repository made: the mount points are found and made
one component at a time without following links (a link among them means the worktree has something
else there), since bwrap would otherwise resolve a link inside the worktree while mounting, outside
the sandbox. The kept entries themselves are never links (``environment.keep`` refuses them).
"""

import contextlib
import os
import stat
from pathlib import Path
from typing import Literal

Access = Literal["read_write", "read_only", "overlay"]
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def entry_args(
    source: Path, entries: tuple[str, ...], workspace: Path, access: Access, inside: str, fds: list[int]
) -> list[str]:
    """bwrap arguments showing each of ``entries`` (kept in ``source``) at ``inside/<entry>``; the file
    descriptors that ``--file`` copies from are appended to ``fds`` (the caller passes, then closes them)."""
    args: list[str] = []
    for entry in entries:
        kept = source / entry
        try:
            status = os.stat(kept, follow_symlinks=False)
        except OSError:
            continue  # a damaged environment: what is missing is not shown
        directory = stat.S_ISDIR(status.st_mode)
        if not (directory or stat.S_ISREG(status.st_mode)):
            continue
        if not _mount_point(workspace, entry, directory=directory, create=access != "overlay"):
            continue
        target = f"{inside}/{entry}"
        if access != "overlay":
            args += ["--ro-bind", str(kept), target]
        elif directory:
            args += ["--overlay-src", str(kept), "--tmp-overlay", target]
        else:
            fd = os.open(kept, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            fds.append(fd)
            args += ["--perms", f"{stat.S_IMODE(status.st_mode):04o}", "--file", str(fd), target]
    return args


def copies(source: Path, entries: tuple[str, ...], workspace: Path) -> list[tuple[str, int]]:
    """The file entries a test run (``overlay``) of ``workspace`` gets as copies, with the modification
    time (ns) of the kept file: ``--file`` cannot keep it, and a build tool that compares times
    (``build_ext``, make) must see the artefact as old as the set-up made it, not newer than the
    sources the fix changed since."""
    found = []
    for entry in entries:
        try:
            status = os.stat(source / entry, follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISREG(status.st_mode) and _mount_point(workspace, entry, directory=False, create=False):
            found.append((entry, status.st_mtime_ns))
    return found


def _mount_point(workspace: Path, entry: str, *, directory: bool, create: bool) -> bool:
    """Whether ``entry`` may be shown in ``workspace``: no link on its way, and nothing of the worktree's
    own at its place. ``create``: make the missing directories on its way and its placeholder."""
    *parents, name = entry.split("/")
    try:
        fd = os.open(workspace, _DIRECTORY)
    except OSError:
        return False
    try:
        for part in parents:
            try:
                step = os.open(part, _DIRECTORY, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    return True  # nothing of the worktree's below here; bwrap makes the way in the overlay
                with contextlib.suppress(FileExistsError):  # made meanwhile by another sandbox
                    os.mkdir(part, dir_fd=fd)
                step = os.open(part, _DIRECTORY, dir_fd=fd)
            except OSError:  # a link (ELOOP) or a file (ENOTDIR): the worktree has something else there
                return False
            os.close(fd)
            fd = step
        return _placeholder(fd, name, directory=directory, create=create)
    except OSError:
        return False
    finally:
        os.close(fd)


def _placeholder(parent: int, name: str, *, directory: bool, create: bool) -> bool:
    """Whether ``name`` in the directory ``parent`` is missing or an empty placeholder of the entry's
    kind (made when missing and ``create``)."""
    try:
        status = os.stat(name, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        if create:
            with contextlib.suppress(FileExistsError):  # made meanwhile by another sandbox of this worktree
                if directory:
                    os.mkdir(name, dir_fd=parent)
                else:
                    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
                    os.close(os.open(name, flags, 0o644, dir_fd=parent))
            return _placeholder(parent, name, directory=directory, create=False)
        return True
    if directory and stat.S_ISDIR(status.st_mode):
        inner = os.open(name, _DIRECTORY, dir_fd=parent)
        try:
            return not os.listdir(inner)
        finally:
            os.close(inner)
    return not directory and stat.S_ISREG(status.st_mode) and status.st_size == 0
