"""Keep file tools inside the agent's workspace.

The model names files relative to its worktree. ``resolve_in_workspace`` turns such a name into an
absolute path with every symlink resolved, and refuses anything that would land outside: absolute
paths, ``~``, NUL bytes, ``..`` escapes, and symlinks (the file itself or any parent directory) that
point out. A target that does not exist yet is fine when its nearest existing parent is inside, so a new
file in a new sub-directory can be created.

The check is made at the moment of the call. A symlink swapped in between the check and the open (by a
background shell command, say) is not covered; the shell policy and the OS user are the next line.
"""

import os
from pathlib import Path, PurePosixPath

from safety.errors import PathEscape


def resolve_in_workspace(workspace: Path, path: str) -> Path:
    """Resolve ``path`` (relative to ``workspace``) and return it; raise ``PathEscape`` if it is outside.

    An empty path or ``.`` means the workspace itself.
    """
    if "\x00" in path:
        raise PathEscape(f"path {path!r} contains a NUL byte; give a plain path relative to the workspace")
    if PurePosixPath(path).is_absolute():
        raise PathEscape(
            f"absolute path {path!r} refused: give a path relative to the workspace root, e.g. 'src/app.py'"
        )
    if path.startswith("~"):
        raise PathEscape(
            f"path {path!r} refused: '~' (a home directory) is outside the workspace; "
            "give a path relative to the workspace root"
        )
    root = workspace.resolve()
    # os.path.realpath follows every symlink that exists (file and parents, dangling ones included) and
    # applies '..' after resolving the link before it, exactly as the kernel will when the path is opened.
    resolved = Path(os.path.realpath(root / path))
    if resolved != root and root not in resolved.parents:
        how = "through a symlink" if _crosses_symlink(root, path) else "via '..'"
        raise PathEscape(
            f"path {path!r} refused: it leads outside the workspace {how}; "
            "only files inside the workspace can be used"
        )
    return resolved


def workspace_relative(workspace: Path, resolved: Path) -> str:
    """``resolved`` relative to the workspace, posix style (``.`` for the workspace itself)."""
    root = workspace.resolve()
    try:
        relative = resolved.relative_to(root)
    except ValueError:
        raise PathEscape(f"path {str(resolved)!r} is not inside the workspace") from None
    return relative.as_posix() if relative.parts else "."


def _crosses_symlink(root: Path, path: str) -> bool:
    """Whether any existing component of ``path`` under ``root`` is a symlink (for the refusal message)."""
    current = root
    for part in PurePosixPath(path).parts:
        current = current / part
        if current.is_symlink():
            return True
    return False
