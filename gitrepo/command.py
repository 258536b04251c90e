"""Running git for one repository: scrubbed environment, captured output, redacted errors, lock retries.

Every command is a real ``git`` subprocess (never a shell) with:

- an environment built from an allowlist (``git_env``): what git needs to find its config and reach a
  remote (PATH, HOME, SSH agent, proxies, CA files), never the bot's API keys; ``GIT_TERMINAL_PROMPT=0``
  so a missing credential fails instead of waiting for a password, ``LC_ALL=C`` so messages are stable;
- hooks and fsmonitor switched off (``core.hooksPath=/dev/null``, ``core.fsmonitor=false``): no script
  named by the repository's git directory runs inside Nightshift's own git calls (``worktree add`` would
  run ``post-checkout``, ``push`` ``pre-push``);
- every command line and stderr redacted before it reaches a log line or a ``GitError``: URL userinfo
  becomes ``[redacted]``, and so does any credential learned from a remote URL (``remember_url``);
- retries with backoff when another git process holds a lock file (``index.lock``, a ref lock): several
  runs and agents share one repository, and git itself refuses rather than waits.

Operations that change worktree registrations or refs take ``lock()``: one ``asyncio.Lock`` per
repository path (and event loop), so concurrent runs in one process do not race each other.
"""

import asyncio
import logging
import os
import re
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from gitrepo.errors import GitError
from safety.redact import Redactor

logger = logging.getLogger(__name__)

_PASSED = frozenset(
    {
        "PATH", "HOME", "USER", "LOGNAME", "TZ", "TMPDIR", "XDG_CONFIG_HOME",
        "SSH_AUTH_SOCK", "GIT_SSH", "GIT_SSH_COMMAND", "GIT_ASKPASS", "SSH_ASKPASS",
        "GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM", "SSL_CERT_FILE", "SSL_CERT_DIR", "GIT_SSL_CAINFO",
        "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
    }
)  # fmt: skip
"""Variables git may need (config, SSH agent, askpass helpers, proxies, CAs). ``GIT_DIR``,
``GIT_INDEX_FILE`` and friends are deliberately absent: a stray one would point git elsewhere."""
_FIXED = {"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GIT_OPTIONAL_LOCKS": "0"}
"""Never prompt; stable English messages; read-only commands (status) take no index lock."""
_CONFIG = ("-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false", "-c", "commit.gpgSign=false")

LOCK_RETRIES = 8
"""Attempts after the first when a lock file is held by another git process."""
LOCK_BACKOFF_S = 0.05
"""First retry delay; doubles per attempt, capped at one second."""
_LOCK_HELD = re.compile(r"\.lock'?: File exists|another git process seems to be running", re.IGNORECASE)
_URL_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")
_MAX_STDERR = 4000

_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Path, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def git_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of Nightshift's own git calls: allowlisted ``base`` (default ``os.environ``)."""
    source = os.environ if base is None else base
    env = {name: value for name, value in source.items() if name in _PASSED or name.startswith("LC_")}
    env.update(_FIXED)
    return env


def redact_urls(text: str) -> str:
    """``text`` with the userinfo of every URL (``https://user:token@host``) replaced by ``[redacted]``."""
    return _URL_USERINFO.sub(r"\1[redacted]@", text)


@dataclass(frozen=True)
class GitResult:
    returncode: int
    stdout: str
    """Decoded as UTF-8 with ``surrogateescape``: bytes that are not UTF-8 survive a round trip."""
    stderr: str


class Git:
    """Runs git commands for the repository at ``repo`` (a resolved path)."""

    def __init__(self, repo: Path, env: Mapping[str, str] | None = None) -> None:
        self.repo = repo
        self._env = git_env(env)
        self._redactor = Redactor()

    def lock(self) -> asyncio.Lock:
        """The lock that serialises worktree registrations and ref updates on this repository."""
        locks = _LOCKS.setdefault(asyncio.get_running_loop(), {})
        return locks.setdefault(self.repo, asyncio.Lock())

    def remember_url(self, url: str) -> None:
        """Redact the credential in an http(s) ``url`` (the password, or a token given as the user
        name) wherever it shows up from now on, even outside a URL."""
        parts = urlsplit(url)
        secret = parts.password or parts.username
        if parts.scheme in ("http", "https") and secret:
            self._redactor.add(secret)
            self._redactor.add(unquote(secret))

    def scrub(self, text: str) -> str:
        """``text`` without URL userinfo or remembered credentials."""
        return self._redactor.redact(redact_urls(text))

    async def run(
        self,
        *args: str,
        cwd: Path | None = None,
        stdin: str | None = None,
        env: Mapping[str, str] | None = None,
        ok: tuple[int, ...] = (0,),
    ) -> GitResult:
        """Run ``git args`` in ``cwd`` (default: the repository); raise ``GitError`` unless the exit code
        is in ``ok``. ``env`` adds variables (``GIT_INDEX_FILE``) to the scrubbed environment."""
        delay = LOCK_BACKOFF_S
        for attempt in range(LOCK_RETRIES + 1):
            result = await self._once(args, cwd or self.repo, stdin, env)
            if result.returncode in ok:
                return result
            if attempt < LOCK_RETRIES and _LOCK_HELD.search(result.stderr):
                logger.debug("git lock held, retrying in %.2fs: %s", delay, self._describe(args))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            break
        stderr = self.scrub(result.stderr.strip() or result.stdout.strip())[-_MAX_STDERR:]
        command = self._describe(args)
        raise GitError(
            f"`{command}` failed with exit code {result.returncode}: {stderr or '(no output)'}",
            command=command,
            returncode=result.returncode,
            stderr=stderr,
        )

    async def out(self, *args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> str:
        """Stdout of ``git args`` without the trailing newline."""
        return (await self.run(*args, cwd=cwd, env=env)).stdout.rstrip("\n")

    async def succeeds(self, *args: str, cwd: Path | None = None) -> bool:
        """Whether ``git args`` exits 0 rather than 1 (questions git answers with its exit code);
        any other exit code is an error."""
        return (await self.run(*args, cwd=cwd, ok=(0, 1))).returncode == 0

    def _describe(self, args: tuple[str, ...]) -> str:
        return self.scrub(" ".join(("git", *args)))

    async def _once(
        self, args: tuple[str, ...], cwd: Path, stdin: str | None, extra: Mapping[str, str] | None
    ) -> GitResult:
        env = {**self._env, **(extra or {})}
        logger.debug("running %s in %s", self._describe(args), cwd)
        try:
            process = await asyncio.create_subprocess_exec(
                "git",
                *_CONFIG,
                *args,
                cwd=cwd,
                env=env,
                stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise GitError(f"`{self._describe(args)}` could not start in {cwd}: {exc}") from exc
        data = stdin.encode("utf-8", "surrogateescape") if stdin is not None else None
        try:
            stdout, stderr = await process.communicate(data)
        except BaseException:
            if process.returncode is None:
                process.kill()
                await process.wait()
            raise
        assert process.returncode is not None
        return GitResult(
            process.returncode,
            stdout.decode("utf-8", "surrogateescape"),
            stderr.decode("utf-8", "replace"),
        )
