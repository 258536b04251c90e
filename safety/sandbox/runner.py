"""``Sandbox``: the one door through which every process that runs repository or agent code starts.

``Sandbox.run(argv, workspace=..., access=...)`` runs one command:

- ``read_write``: the worktree itself at /workspace (the shell tool, the environment set-up);
- ``read_only``: the worktree at /workspace, read-only (the shell tool under a read-only policy);
- ``overlay``: the worktree through a throwaway overlay (every test run): caches, fixtures and files
  the tests write vanish when the command ends, and can never reach a diff.

Inside: own PID, IPC, UTS, cgroup, user and network namespaces (the network only for the set-up, and
only when asked), ``--die-with-parent``, ``--new-session``, every capability dropped (also when the
bot runs as root), uid 1000, no nested user namespaces, the environment cleared and rebuilt from the
scrubbed allowlist (``safety.env``), and the limits of ``safety.sandbox.limits``. What is visible is
listed in ``safety.sandbox.mounts``.

With ``[safety] sandbox = "none"`` the same calls run the command directly in the worktree as the bot
(the scrubbed environment still applies); ``Sandbox.sandboxed`` is then False, and everything that
reports on a run says "unsandboxed".
"""

import asyncio
import fcntl
import json
import os
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config import SafetySettings, SandboxKind
from safety import env as subprocess_environment
from safety.sandbox import mounts
from safety.sandbox.bwrap import Bwrap, locate, probe
from safety.sandbox.entries import Access, entry_args
from safety.sandbox.limits import Limits, Watchdog
from safety.sandbox.process import ProcessRun, Stop, run_in_group

_HOST_ONLY = ("PATH", "VIRTUAL_ENV", "USER", "LOGNAME", "SHELL", "TMPDIR", "HOME")
"""Variables of the bot's own environment that mean nothing (or the wrong thing) inside."""
_NETWORK_ONLY = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
_NOT_STARTED = re.compile(
    r"\A(?:bwrap|prlimit|nice): (?:execvp|failed to execute|cannot run) (.+?): (.+)$", re.MULTILINE
)
"""What bwrap (or a wrapper in front of the command) says when the command's program cannot start."""
_TOOLS = "/usr/bin:/bin"
"""Where ``nice`` and ``prlimit`` are taken from (inside, the same paths are there)."""
_SYSTEM_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


@dataclass(frozen=True)
class Environment:
    """The repository's prepared environment, as every sandbox of the repository shows it."""

    source: Path | None = None
    """The directory holding what the set-up made (None: no set-up)."""
    entries: tuple[str, ...] = ()
    """What it holds, as paths relative to the worktree at any depth (``.venv``,
    ``src/pkg/_version.py``), each shown at ``/workspace/<path>`` (see ``safety.sandbox.entries``)."""
    virtualenv: str | None = None
    """The entry that is a Python virtual environment: its ``bin`` goes first on PATH."""
    read_only_paths: tuple[Path, ...] = ()
    """Host paths shown read-only at their own paths."""
    variables: tuple[tuple[str, str], ...] = ()
    """The operator's ``[environment] variables``, set for every command."""
    programs: tuple[Path, ...] = ()
    """Programs outside the system directories that every sandbox of the repository can run (the test
    command's interpreter): their installations are shown read-only, their directories go on PATH."""
    artefacts: tuple[str, ...] = ()
    """Files among the entries built from the base commit's sources (an extension module compiled in
    place, generated stubs): stale when a fix changes those sources and no ``build`` rebuilds them."""
    build: str | None = None
    """``[environment] build``: run in each test run's overlay before the tests (``tools.testing``)."""
    build_timeout_s: float = 600.0


@dataclass
class Sandbox:
    """Runs commands for one bot process; ``create`` checks that a sandbox can really be made here."""

    kind: SandboxKind
    limits: Limits
    support: mounts.Support
    secrets: Sequence[str] = ()
    hidden: Sequence[Path] = ()
    """Host trees no sandbox may show (the state directory, the repository's checkout)."""
    home: Path | None = None
    """The bot's HOME: never shown itself (an interpreter installed inside it is)."""
    bwrap: Path | None = None
    """The bwrap program (None: unsandboxed)."""
    version: str = ""
    _roots: list[Path] = field(default_factory=list)
    _wrappers: list[str] = field(default_factory=list)
    _watchdog: Watchdog = field(default_factory=Watchdog)

    @classmethod
    def create(
        cls,
        settings: SafetySettings,
        *,
        state_dir: Path,
        secrets: Sequence[str] = (),
        hidden: Sequence[Path] = (),
    ) -> "Sandbox":
        """A sandbox for this machine; ``SandboxUnavailable`` (naming the fix) when ``bwrap`` is asked for
        and none can be made. Blocks briefly (it starts one sandbox to probe): call it in a thread."""
        sandbox = cls(
            kind=settings.sandbox,
            limits=Limits.from_settings(settings),
            support=mounts.Support(state_dir / "sandbox"),
            secrets=tuple(secrets),
            hidden=tuple(p.resolve() for p in (*hidden, state_dir)),
            home=Path.home().resolve(),
        )
        if sandbox.sandboxed:
            sandbox._prepare(locate())
        return sandbox

    def _prepare(self, found: Bwrap) -> None:
        """Settle what every sandbox of this process shows and runs in front of the command; probe."""
        self.bwrap, self.version = found.path, found.version
        self._roots = self._visible(mounts.path_roots(os.environ.get("PATH", "")))
        nice = shutil.which("nice", path=_TOOLS)
        prlimit = shutil.which("prlimit", path=_TOOLS)
        self._wrappers = [
            *([nice, "-n", "10"] if nice else []),
            *(self.limits.prlimit_args(prlimit) if prlimit else []),
        ]
        arguments = self._bwrap_args(None, Environment(), "overlay", network=False, outputs=None)
        probe([str(found.path), *arguments, "true"])

    @property
    def sandboxed(self) -> bool:
        return self.kind is SandboxKind.BWRAP

    def describe(self) -> str:
        """One line for banners and health checks."""
        if not self.sandboxed:
            return 'UNSANDBOXED: commands run as the bot ([safety] sandbox = "none")'
        return f"bubblewrap {self.version.removeprefix('bubblewrap ')} ({self.bwrap})"

    def workspace_path(self, workspace: Path) -> str:
        """Where a command sees ``workspace``."""
        return mounts.WORKSPACE if self.sandboxed else str(workspace)

    def outputs_path(self, outputs: Path) -> str:
        """Where a command sees the ``outputs`` directory given to ``run``."""
        return mounts.OUTPUTS if self.sandboxed else str(outputs)

    async def run(
        self,
        argv: Sequence[str],
        *,
        workspace: Path,
        environment: Environment,
        timeout_s: float,
        access: Access,
        outputs: Path | None = None,
        network: bool = False,
    ) -> ProcessRun:
        """Run ``argv`` at the workspace (see the module docstring). ``outputs``: a host directory the
        command may write to (for reports), seen at ``outputs_path``. Raises OSError when the program
        cannot be started (for the sandbox: when bwrap cannot)."""
        workspace = await asyncio.to_thread(workspace.resolve)
        env = self._environment(workspace, environment, network)
        if not self.sandboxed:
            return await run_in_group(
                argv, cwd=workspace, env=env, timeout_s=timeout_s, max_output_bytes=self.limits.output_bytes
            )
        assert self.bwrap is not None
        roots = self._program_roots([argv[0], *map(str, environment.programs)] if argv else [])
        fds: list[int] = []  # the kept files that --file copies into an overlay
        try:
            args = await asyncio.to_thread(
                self._bwrap_args,
                workspace,
                environment,
                access,
                network=network,
                outputs=outputs,
                extra_roots=roots,
                fds=fds,
            )
            for name, value in env.items():
                args += ["--setenv", name, value]
            args += ["--chdir", mounts.WORKSPACE]
            command = [*self._wrappers, *argv]
            run = await _run_bwrap(self.bwrap, args, command, self._watchdog, self.limits, timeout_s, fds)
        finally:
            for fd in fds:
                os.close(fd)
        not_started = _NOT_STARTED.match(run.output) if run.exit_code != 0 else None
        if not_started:
            raise OSError(f"{not_started.group(1)}: {not_started.group(2)} (in the sandbox)")
        return run

    def explain(self, run: ProcessRun) -> str | None:
        """Why the sandbox stopped ``run``, when it did."""
        return self.limits.explain(run.limit) if run.limit else None

    def _visible(self, roots: Sequence[Path]) -> list[Path]:
        return mounts.visible_roots(roots, self.hidden, self.home)

    def _program_roots(self, programs: Sequence[str]) -> list[Path]:
        """An absolute program outside the system directories brings its installation along."""
        roots: list[Path] = []
        for program in map(Path, programs):
            if program.is_absolute() and not mounts.is_system(program) and program.exists():
                roots += mounts.installation_roots(program)
        return self._visible(roots)

    def _bwrap_args(
        self,
        workspace: Path | None,
        environment: Environment,
        access: Access,
        *,
        network: bool,
        outputs: Path | None,
        extra_roots: Sequence[Path] = (),
        fds: list[int] | None = None,
    ) -> list[str]:
        args = [
            "--unshare-all", *(["--share-net"] if network else []), "--unshare-user", "--disable-userns",
            "--uid", str(mounts.UID), "--gid", str(mounts.UID), "--hostname", "sandbox",
            "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv",
        ]  # fmt: skip
        args += mounts.system_args(network=network, support=self.support)
        args += mounts.read_only_args(self._visible([*self._roots, *extra_roots]))
        args += mounts.read_only_args(self._visible(environment.read_only_paths))
        if workspace is not None:
            if access == "overlay":
                args += ["--overlay-src", str(workspace), "--tmp-overlay", mounts.WORKSPACE]
            else:
                bind = "--bind" if access == "read_write" else "--ro-bind"
                args += [bind, str(workspace), mounts.WORKSPACE]
            args += mounts.git_args(workspace, self.support)
            if environment.source is not None:
                args += entry_args(
                    environment.source, environment.entries, workspace, access, mounts.WORKSPACE,
                    fds if fds is not None else [],
                )  # fmt: skip
        else:
            args += ["--dir", mounts.WORKSPACE]
        if outputs is not None:
            args += ["--bind", str(outputs), mounts.OUTPUTS]
        return [*args, "--remount-ro", "/"]  # the root itself: only /workspace, /tmp and HOME are writable

    def _environment(self, workspace: Path, environment: Environment, network: bool) -> dict[str, str]:
        """The command's variables: the scrubbed allowlist (``safety.env``), then the sandbox's own."""
        where = self.workspace_path(workspace)
        first: list[str] = []
        if environment.virtualenv:
            first.append(f"{where}/{environment.virtualenv}/bin")
        first += [str(program.parent) for program in environment.programs if program.is_absolute()]
        if not self.sandboxed:
            home = self.support.root / "home"
            home.mkdir(exist_ok=True)
            env = subprocess_environment.subprocess_env(home, secrets=self.secrets)
            env.update(environment.variables)
            env["PATH"] = os.pathsep.join([*first, os.environ.get("PATH", os.defpath)])
        else:
            env = subprocess_environment.subprocess_env(Path(mounts.HOME), secrets=self.secrets)
            for name in (*_HOST_ONLY, *(() if network else _NETWORK_ONLY)):
                env.pop(name, None)
            env.update(environment.variables)
            env.update(
                PATH=os.pathsep.join(dict.fromkeys([*first, *self._visible_path(), *_SYSTEM_PATH])),
                HOME=mounts.HOME, USER=mounts.USER, LOGNAME=mounts.USER, SHELL="/bin/bash", TMPDIR="/tmp",
            )  # fmt: skip
        if environment.virtualenv:
            env["VIRTUAL_ENV"] = f"{where}/{environment.virtualenv}"
        return env

    def _visible_path(self) -> list[str]:
        """The bot's PATH entries that exist inside: system directories and the mounted interpreters."""
        entries = [Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p]
        return [
            str(entry)
            for entry in entries
            if mounts.is_system(entry) or any(entry == root or root in entry.parents for root in self._roots)
        ]


async def _run_bwrap(
    program: Path,
    args: list[str],
    command: list[str],
    watchdog: Watchdog,
    limits: Limits,
    timeout_s: float,
    fds: Sequence[int] = (),
) -> ProcessRun:
    """Start bwrap running ``command``, its options ``args`` passed through a pipe (``--args``: not in
    any command line that ``/proc`` shows), learn its PID namespace (``--info-fd``) and watch it until
    the command ends. ``fds`` (which ``args`` name) are passed to bwrap too; the caller closes them."""
    info_read, info_write = os.pipe()
    args_read = _pipe_holding(b"".join(f"{arg}\0".encode() for arg in ["--info-fd", str(info_write), *args]))
    child_fds = {args_read, info_write}
    info = _Info(info_read)

    def started(_process: asyncio.subprocess.Process, stop: Stop) -> None:
        for fd in child_fds:
            os.close(fd)  # the child has its own copies
        child_fds.clear()
        info.follow(
            lambda data: watchdog.watch(int(data["pid-namespace"]), int(data["child-pid"]), limits, stop)
        )

    try:
        return await run_in_group(
            [str(program), "--args", str(args_read), "--", *command],
            cwd=Path("/"),
            env={"PATH": os.defpath},
            timeout_s=timeout_s,
            max_output_bytes=limits.output_bytes,
            pass_fds=(*child_fds, *fds),
            started=started,
        )
    finally:
        for fd in child_fds:
            os.close(fd)
        info.close()
        if info.data:
            watchdog.unwatch(int(info.data["pid-namespace"]))


def _pipe_holding(payload: bytes) -> int:
    """The read end of a pipe that already holds all of ``payload`` (its write end closed)."""
    read, write = os.pipe()
    try:
        if len(payload) > 65536:
            fcntl.fcntl(write, F_SETPIPE_SZ, len(payload))
        os.write(write, payload)
    finally:
        os.close(write)
    return read


class _Info:
    """bwrap's ``--info-fd`` JSON, read without blocking the loop; ``data`` once it has arrived."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.data: dict[str, Any] = {}
        self._buffer = b""
        self._loop: asyncio.AbstractEventLoop | None = None

    def follow(self, arrived: Callable[[dict[str, Any]], None]) -> None:
        os.set_blocking(self.fd, False)
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.fd, self._readable, arrived)

    def _readable(self, arrived: Callable[[dict[str, Any]], None]) -> None:
        try:
            chunk = os.read(self.fd, 65536)
        except BlockingIOError:
            return
        self._buffer += chunk
        if chunk:
            return
        assert self._loop is not None
        self._loop.remove_reader(self.fd)
        try:
            self.data = json.loads(self._buffer)
        except ValueError:
            return  # bwrap failed before the sandbox ran; its own message is in the output
        arrived(self.data)

    def close(self) -> None:
        if self._loop is not None:
            self._loop.remove_reader(self.fd)
        os.close(self.fd)
