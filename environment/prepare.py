"""The repository's environment: prepared once per hash of its dependency manifests, in the sandbox,
then shown read-only in every later sandbox of the repository.

``[environment] setup`` (say ``python -m venv .venv && .venv/bin/pip install -e '.[test]'``) runs in
a worktree of the base commit at ``/workspace``, with the network when ``setup_network`` is on. What
it leaves in the worktree that git does not track, at any depth (``.venv``, ``node_modules``,
``src/pkg/_version.py``, an extension built in place: ``environment.kept``), is moved into
``<state>/environments/<repo>/<key>/files`` and from then on shown at ``/workspace/<path>`` in every
sandbox of the repository (``safety.sandbox.entries``), except where a base commit tracks that path:
an editable install made at ``/workspace`` therefore serves every worktree, and each worktree's own
code is what runs. The key hashes the set-up command and every dependency manifest at the base
commit, so the next run on the same manifests does no set-up at all; a change to a manifest builds a
new environment beside the old one.

A set-up that fails is not kept: the run reports it (``environment_error``), and the next run tries
again. Several runs that need the same environment at once wait for one set-up (a file lock, so
separate processes on one state directory wait too).
"""

import asyncio
import dataclasses
import fcntl
import fnmatch
import hashlib
import json
import logging
import re
import shlex
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from config import EnvironmentSettings, Settings
from documents.facts import EnvironmentStatus
from documents.phrases import listed
from environment import kept
from environment.artefacts import artefacts
from gitrepo import GitRepo
from safety.sandbox import Environment, Sandbox
from tools.runner_reports import strip_ansi
from tools.text import tail

logger = logging.getLogger("nightshift.environment")

MANIFESTS = (
    "pyproject.toml", "setup.cfg", "setup.py", "requirements*.txt", "requirements*.in", "constraints*.txt",
    "poetry.lock", "uv.lock", "pdm.lock", "Pipfile", "Pipfile.lock", "environment.yml", ".python-version",
    "package.json", "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "Gemfile.lock", "go.sum",
    "Cargo.lock",
)  # fmt: skip
"""File names (at any depth) whose content decides the environment."""
LOG_CHARS = 4000
MAX_WARNINGS = 10
_WARNING = re.compile(r"^\s*(?:npm )?(?:warning|warn|deprecation)\b", re.IGNORECASE)
"""A warning line of pip (``WARNING: pkg 1.0 does not provide the extra 'test'``), uv, poetry or npm."""
NO_SETUP = "No set-up is configured: tests run with the interpreters on the host's PATH, read-only."
_READY = "ready.json"


@dataclass(frozen=True)
class Prepared:
    """The outcome of preparing the environment for one base commit."""

    status: EnvironmentStatus
    """``none`` (no set-up configured), ``ready`` (built now), ``reused``, or ``failed``."""
    environment: Environment
    key: str | None = None
    duration_s: float = 0.0
    log: str = ""
    """The tail of the set-up's output."""
    detail: str = ""
    """One sentence on what happened, for the report and the briefing."""
    warnings: tuple[str, ...] = ()
    """The warnings the set-up printed (kept with the environment, so a reuse still shows them)."""
    shadowed: tuple[str, ...] = ()
    """What the set-up made that this base commit tracks: the worktree's own file is used there."""
    refused: tuple[str, ...] = ()
    """Symbolic links (and FIFOs, sockets) the set-up made: never kept."""

    @property
    def ok(self) -> bool:
        return self.status != "failed"


def plain_environment(settings: EnvironmentSettings) -> Environment:
    """The environment without a set-up: the configured read-only paths and variables, and the test
    command's interpreter when the command names one by its path."""
    return Environment(
        read_only_paths=tuple(settings.read_only_paths),
        variables=tuple(settings.variables.items()),
        programs=command_programs(settings.test_command),
        build=settings.build,
        build_timeout_s=settings.build_timeout_s,
    )


class Environments:
    """Prepares and finds the environments of one repository for this process."""

    def __init__(self, repo: GitRepo, settings: Settings, sandbox: Sandbox, state_dir: Path) -> None:
        self.repo = repo
        self.settings = settings.environment
        self.sandbox = sandbox
        self.root = state_dir / "environments" / _slug(repo.path.name)
        self._locks: dict[str, asyncio.Lock] = {}

    def plain(self) -> Environment:
        return plain_environment(self.settings)

    async def prepare(self, base: str) -> Prepared:
        """The environment for ``base``: reused when its key was built before, else built now."""
        if not self.settings.setup:
            return Prepared("none", self.plain(), detail=NO_SETUP)
        files = await self.repo.files_at(base)
        key = self._key(files)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            ready = self._ready(key, files)
            if ready is not None:
                return ready
            self.root.mkdir(parents=True, exist_ok=True)
            handle = await asyncio.to_thread(_locked, self.root / f"{key}.lock")
            try:
                ready = self._ready(key, files)  # another process may have built it while we waited
                if ready is not None:
                    return ready
                return await self._build(base, key, files)
            finally:
                handle.close()  # closing the file releases the lock

    async def key(self, base: str) -> str:
        """A hash of the set-up command, the read-only paths, the variables and every dependency manifest
        at ``base``."""
        return self._key(await self.repo.files_at(base))

    def _key(self, files: dict[str, str]) -> str:
        digest = hashlib.sha256()
        digest.update(f"{self.settings.setup}\0{self.settings.setup_network}\0".encode())
        digest.update("\0".join(str(path) for path in self.settings.read_only_paths).encode())
        digest.update(json.dumps(self.settings.variables, sort_keys=True).encode())
        for path, blob in sorted(files.items()):
            if any(fnmatch.fnmatchcase(Path(path).name, pattern) for pattern in MANIFESTS):
                digest.update(f"\0{path}\0{blob}".encode())
        return digest.hexdigest()[:16]

    def _ready(self, key: str, files: dict[str, str]) -> Prepared | None:
        """The environment ``key``, when it was built, as a commit tracking ``files`` sees it: what the
        commit tracks itself wins over what the set-up made at the same path."""
        marker = self.root / key / _READY
        if not marker.is_file():
            return None
        data: dict[str, Any] = json.loads(marker.read_text(encoding="utf-8"))
        tracked = _tracked(files)
        environment = dataclasses.replace(
            self.plain(),
            source=self.root / key / "files",
            entries=tuple(entry for entry in data["entries"] if entry not in tracked),
            virtualenv=data.get("virtualenv"),
            artefacts=tuple(path for path in data.get("artefacts", []) if path not in tracked),
        )
        return Prepared(
            "reused",
            environment,
            key,
            detail=f"The environment {key} was reused.",
            warnings=tuple(data.get("warnings", [])),
            shadowed=tuple(entry for entry in data["entries"] if entry in tracked),
            refused=tuple(data.get("refused", [])),
        )

    async def _build(self, base: str, key: str, files: dict[str, str]) -> Prepared:
        place = self.root / key
        build = place / "build"
        await asyncio.to_thread(shutil.rmtree, place / "files", True)
        await self.repo.remove_worktree(build)
        started = time.monotonic()
        setup = self.settings.setup or ""
        try:
            worktree = await self.repo.add_worktree(build, base)
            logger.info("preparing the environment %s: %s", key, setup)
            run = await self.sandbox.run(
                ["bash", "-c", setup],
                workspace=worktree,
                environment=self.plain(),
                timeout_s=self.settings.setup_timeout_s,
                access="read_write",
                network=self.settings.setup_network,
            )
            took = time.monotonic() - started
            output = strip_ansi(run.output)
            log = tail(output, LOG_CHARS)
            if run.exit_code != 0 or run.timed_out or run.limit:
                why = self.sandbox.explain(run) or (
                    f"timed out after {took:.0f} s" if run.timed_out else f"exited with code {run.exit_code}"
                )
                detail = f"The environment set-up `{setup}` {why}, so no test could run."
                return Prepared("failed", self.plain(), key, took, log, detail)
            found = await asyncio.to_thread(kept.untracked, worktree, set(files))
            try:
                cap = self.settings.generated_max_mb
                await asyncio.to_thread(kept.check_size, worktree, found.entries, cap)
            except kept.TooLarge as exc:
                detail = f"The environment set-up `{setup}` succeeded, but {exc}; no test could run."
                return Prepared("failed", self.plain(), key, took, log, detail)
            for path in found.refused:
                logger.warning("the set-up made %s, a symbolic link or special file: not kept", path)
            await asyncio.to_thread(kept.move, worktree, place / "files", found.entries)
        finally:
            await self.repo.remove_worktree(build)
        await self.repo.ignore_locally([kept.exclude_pattern(entry) for entry in found.entries])
        top = [entry for entry in found.entries if "/" not in entry]
        virtualenv = next((e for e in top if (place / "files" / e / "pyvenv.cfg").is_file()), None)
        built = await asyncio.to_thread(kept.files_in, place / "files", found.entries)
        record = {
            "entries": found.entries, "virtualenv": virtualenv, "artefacts": artefacts(built),
            "warnings": setup_warnings(output), "refused": found.refused, "setup": setup,
            "duration_s": round(took, 1),
        }  # fmt: skip
        (place / _READY).write_text(json.dumps(record, indent=2), encoding="utf-8")
        made = listed(found.entries, 8) or "nothing"
        detail = f"The environment {key} was prepared in {took:.0f} s (`{setup}` made {made})."
        ready = self._ready(key, files)
        assert ready is not None
        return dataclasses.replace(ready, status="ready", duration_s=took, log=log, detail=detail)


def setup_warnings(output: str) -> list[str]:
    """The warning lines of the set-up's output (pip's, uv's, poetry's, npm's), each once."""
    found = dict.fromkeys(line.strip()[:300] for line in output.splitlines() if _WARNING.match(line))
    return list(found)[:MAX_WARNINGS]


def _tracked(files: dict[str, str]) -> set[str]:
    """Every path a commit tracking ``files`` has: its files and the directories holding them."""
    return {*files, *(parent.as_posix() for path in files for parent in Path(path).parents)}


def command_programs(command: str) -> tuple[Path, ...]:
    """The program of ``command`` when it is given by an absolute path (``/opt/py/bin/python -m ...``)."""
    try:
        argv = shlex.split(command)
    except ValueError:
        return ()
    return (Path(argv[0]),) if argv and Path(argv[0]).is_absolute() else ()


def _locked(path: Path) -> IO[str]:
    """``path`` opened and exclusively locked (waits for another process's set-up to finish)."""
    handle = path.open("a")
    fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name) or "_"
