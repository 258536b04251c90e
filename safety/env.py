"""The environment every subprocess gets: an allowlist, never the bot's own secrets.

Commands run by agents (and the repository's tests they start) are hostile as far as the bot's
credentials go: anything in their environment can be printed into a tool result and from there into a
prompt, Slack or a PR. So the environment is built from an allowlist of harmless variables, ``HOME``
points to a scratch directory, and two filters run over the result, ``extra`` included:

- a variable whose NAME looks like a credential (KEY, TOKEN, SECRET, PASSWORD, PASSWD, CREDENTIAL, AUTH;
  case-insensitive; ``AUTHOR`` as in ``GIT_AUTHOR_NAME`` is not a credential) is dropped;
- a variable whose VALUE equals a known secret, or contains one of at least ``MIN_SECRET_LENGTH``
  characters, is dropped, whatever its name.

``PYTHONPATH`` is not passed on: the bot's import path has no business in the repository's test run.
Proxy variables are passed on unless they carry credentials (``http://user:pass@proxy``).
"""

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from safety.redact import MIN_SECRET_LENGTH

_ALLOWED = frozenset(
    {
        "PATH", "LANG", "LANGUAGE", "TZ", "TERM", "TMPDIR", "VIRTUAL_ENV", "USER", "LOGNAME", "SHELL",
        "COLUMNS", "LINES", "NO_COLOR", "SSL_CERT_FILE", "SSL_CERT_DIR",
        "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
    }
)  # fmt: skip
_ALLOWED_PREFIXES = ("LC_",)
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH(?!OR)", re.IGNORECASE)
_URL_CREDENTIALS = re.compile(r"://[^/@\s]*@")

FIXED = {"PYTHONDONTWRITEBYTECODE": "1", "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1"}
"""Always set: no stray bytecode in worktrees, git never waits for a password, no system git config."""


def subprocess_env(
    home: Path,
    *,
    secrets: Iterable[str] = (),
    extra: Mapping[str, str] | None = None,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment for a subprocess: allowlisted ``base`` (default ``os.environ``) + ``extra``,
    credentials dropped by name and by value, then ``HOME=home`` and ``FIXED``."""
    source = os.environ if base is None else base
    env = {name: value for name, value in source.items() if _allowed(name)}
    env.update(extra or {})
    known = [s for s in secrets if s]
    env = {name: value for name, value in env.items() if not _is_secret(name, value, known)}
    env.update(FIXED)
    env["HOME"] = str(home)
    return env


def _allowed(name: str) -> bool:
    return name in _ALLOWED or name.startswith(_ALLOWED_PREFIXES)


def _is_secret(name: str, value: str, secrets: list[str]) -> bool:
    if _SECRET_NAME.search(name) or _URL_CREDENTIALS.search(value):
        return True
    return any(value == s or (len(s) >= MIN_SECRET_LENGTH and s in value) for s in secrets)
