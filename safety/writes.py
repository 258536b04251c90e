"""Who may write which files: the code agent never touches tests, the test agent writes only tests.

Verification depends on this split: "base + tests must fail, base + fix + tests must pass" proves
nothing if the code agent could edit the tests it is judged by. Test files are recognised by glob
patterns relative to the workspace (``safety.test_patterns``), where ``**`` spans any number of
directories (none included) and ``*`` stays inside one path component.

No role may write inside ``.git``: hooks and config there run commands the next time Nightshift itself
calls git in the worktree.
"""

import posixpath
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Literal

from safety.errors import WriteDenied

Role = Literal["code", "test", "any"]
_ROLES: tuple[Role, ...] = ("code", "test", "any")


class WriteRules:
    """Write permissions of one agent role over workspace-relative paths."""

    def __init__(self, role: Role, test_patterns: Sequence[str]) -> None:
        if role not in _ROLES:
            raise ValueError(f"unknown write role {role!r}; expected one of {', '.join(_ROLES)}")
        self.role: Role = role
        self.test_patterns = tuple(test_patterns)

    def is_test_file(self, relative_path: str) -> bool:
        """Whether ``relative_path`` matches one of the test patterns."""
        return self._matching_pattern(_normalise(relative_path)) is not None

    def check_write(self, relative_path: str) -> None:
        """Raise ``WriteDenied`` (naming the rule) unless this role may create, change or delete the file."""
        path = _normalise(relative_path)
        if path == ".." or path.startswith("../") or path.startswith("/"):
            raise WriteDenied(f"write to {relative_path!r} refused: it is not a path inside the workspace")
        if ".git" in path.split("/"):
            raise WriteDenied(
                f"write to {relative_path!r} refused: nothing inside .git may be written "
                "(git hooks and config would run commands); change the working tree only"
            )
        pattern = self._matching_pattern(path)
        if self.role == "code" and pattern is not None:
            raise WriteDenied(
                f"write to {path!r} refused: it is a test file (matches the test pattern {pattern!r}) and "
                "the code agent may not create or change tests; the test agent owns them. "
                "Fix the code so the existing tests pass"
            )
        if self.role == "test" and pattern is None:
            raise WriteDenied(
                f"write to {path!r} refused: the test agent may write only test files, and it matches none "
                f"of the test patterns ({', '.join(self.test_patterns) or 'none configured'}). "
                "Put tests and their fixtures under a test path"
            )

    def _matching_pattern(self, path: str) -> str | None:
        for pattern in self.test_patterns:
            if _glob_regex(pattern).fullmatch(path):
                return pattern
        return None


def _normalise(relative_path: str) -> str:
    path = posixpath.normpath(relative_path.replace("\\", "/"))
    return path[2:] if path.startswith("./") else path


@lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """Translate a glob with ``**`` (any directories, none included), ``*``, ``?`` and ``[...]``."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("/**", i) and i + 3 == n:
            out.append("(?:/.*)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and (end := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : end]
            negate = body.startswith("!")
            body = body[1:] if negate else body
            out.append(f"[{'^' if negate else ''}{body.replace(chr(92), chr(92) * 2)}]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))
