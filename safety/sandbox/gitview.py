"""What ``/git`` shows in a sandbox: the history of the worktree's own commit, and nothing else.

The repository's git directory is shared by every worktree: its refs name other runs' fix branches,
other incidents and unrelated branches, its object store holds every commit ever fetched (a backtest's
later commits too), and its reflogs, ``FETCH_HEAD``, ``ORIG_HEAD`` and the other worktrees' own git
directories remember them. A sandbox is shown none of it. It sees a *view* instead:

- a bare repository holding exactly the objects reachable from the commit the worktree has checked out
  (its HEAD), made by fetching that one commit from the repository, never by pruning a copy: no refs,
  tags, reflogs, remotes, ``FETCH_HEAD`` or ``packed-refs``, and no object that commit cannot reach;
- this worktree's own git directory, made of HEAD (that commit), the index, and nothing else (no
  reflog, no ``ORIG_HEAD``); shown through a throwaway overlay, so git may write there for the length
  of one command.

A view is built once per commit of a repository and kept in the state directory (``GitViews``). A
later commit's view starts from the packs of the nearest view of an ancestor (hard links, so the
history is stored once) and fetches only the commits in between. The worktree's own directory is kept
beside the views, one per state of the index (a hard link to it, so its timestamps stay those git
wrote: git's check for files changed in the same second as the index relies on them). Whatever is
unused for a day is removed.
"""

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

EMPTY = "empty"
"""The view of a repository whose HEAD has no commit yet."""
KEEP_S = 24 * 3600.0
"""A view unused for this long is removed (the next command that needs it builds it again)."""
NEAREST = 8
"""How many of the most recently used views are considered as the starting point of a new one."""
_HAVE = "refs/nightshift/have"
"""A ref that exists only while a view is built, so that the fetch sends only what the view lacks."""
_SHA = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")
_PACK_FILES = (".pack", ".idx", ".rev")
_PASSED = ("PATH", "HOME", "XDG_CONFIG_HOME", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM")
"""What the bot's own git calls see of its environment (config and ownership rules), nothing more."""
_CONFIG = (
    "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false", "-c", "core.logAllRefUpdates=false",
    "-c", "gc.auto=0", "-c", "maintenance.auto=false", "-c", "fetch.writeCommitGraph=false",
    "-c", "transfer.unpackLimit=1",
)  # fmt: skip
"""No hook or fsmonitor runs, no reflog or automatic maintenance; fetched objects stay one pack."""


@dataclass(frozen=True)
class Checkout:
    """A workspace's git: a linked worktree (``.git`` a file naming its own git directory) or a
    checkout (``.git`` the repository's directory itself)."""

    common: Path
    """The repository's shared git directory."""
    admin: Path
    """This worktree's own git directory (HEAD, index); the common one for a checkout."""

    @property
    def linked(self) -> bool:
        return self.admin != self.common


def find_checkout(workspace: Path) -> Checkout | None:
    """The git of ``workspace``; None for a plain directory (or a ``.git`` that is a link or names
    nothing)."""
    dotgit = workspace / ".git"
    if dotgit.is_symlink():
        return None
    if dotgit.is_dir():
        return Checkout(dotgit.resolve(), dotgit.resolve())
    if not dotgit.is_file():
        return None
    text = dotgit.read_text(encoding="utf-8", errors="replace").strip()
    if not text.startswith("gitdir:"):
        return None
    target = Path(text.removeprefix("gitdir:").strip())
    admin = (target if target.is_absolute() else dotgit.parent / target).resolve()
    if not admin.is_dir():
        return None
    pointer = admin / "commondir"
    common = (admin / pointer.read_text(encoding="utf-8").strip()).resolve() if pointer.is_file() else admin
    return Checkout(common, admin)


def head_commit(checkout: Checkout) -> str | None:
    """The commit the worktree has checked out; None when its branch has no commit yet."""
    head = (checkout.admin / "HEAD").read_text(encoding="utf-8", errors="replace").strip()
    if _SHA.fullmatch(head):
        return head
    resolved = _run("rev-parse", "--verify", "--quiet", "HEAD^{commit}", git_dir=checkout.admin)
    return resolved.stdout.strip() if resolved.returncode == 0 else None


class GitViews:
    """The views of every repository whose worktrees the sandboxes of this state directory show."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def view(self, common: Path, commit: str | None) -> Path:
        """The view of ``commit`` (None: an empty repository) of the repository at ``common``; built
        now when there is none. Raises OSError when git cannot build it."""
        place = self._place(common)
        target = place / (commit or EMPTY)
        if not target.is_dir():
            with _locked(place / f"{target.name}.lock"):
                if not target.is_dir():  # another thread or process may have built it meanwhile
                    with _building(target) as scratch:
                        _build(common, commit, scratch)
                    _prune(place, keep=target)
        os.utime(target)  # its last use, which pruning goes by
        return target

    def own_directory(self, checkout: Checkout, commit: str | None, files: dict[str, str]) -> Path:
        """The worktree's own git directory as the sandbox shows it: ``files`` (name -> text), HEAD at
        ``commit`` (a branch without a commit stays that branch) and its index, nothing else."""
        head = f"{commit}\n" if commit else (checkout.admin / "HEAD").read_text(encoding="utf-8")
        contents = {**files, "HEAD": head}
        index = checkout.admin / "index"
        stat = index.stat() if index.is_file() else None
        state = (stat.st_dev, stat.st_ino, stat.st_mtime_ns, stat.st_size) if stat else None
        key = hashlib.sha256(repr((str(checkout.admin), sorted(contents.items()), state)).encode())
        target = self._place(checkout.common) / f"own-{key.hexdigest()[:24]}"
        if not target.is_dir():
            with _building(target) as scratch:
                for name, text in contents.items():
                    (scratch / name).write_text(text, encoding="utf-8")
                if stat is not None:
                    _link_or_copy(index, scratch / "index")
        os.utime(target)
        return target

    def _place(self, common: Path) -> Path:
        """Where the views of the repository at ``common`` are kept."""
        place = self.root / hashlib.sha256(str(common).encode()).hexdigest()[:16]
        place.mkdir(parents=True, exist_ok=True)
        return place


def _build(common: Path, commit: str | None, scratch: Path) -> None:
    """The view of ``commit`` in the empty directory ``scratch``."""
    object_format = _git("rev-parse", "--show-object-format", git_dir=common).strip()
    _git("init", "--quiet", "--bare", f"--object-format={object_format}", str(scratch))
    for leftover in ("hooks", "branches", "description"):
        path = scratch / leftover
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    (scratch / "worktrees").mkdir()
    (scratch / "info").mkdir(exist_ok=True)
    (scratch / "info" / "exclude").touch()
    if commit is None:
        return
    start = _nearest(common, scratch.parent, commit)
    if start is not None:
        _reuse(start, scratch)
    _git("fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--", str(common), commit, git_dir=scratch)
    if start is not None:
        _git("update-ref", "-d", _HAVE, git_dir=scratch)
    (scratch / "HEAD").write_text(f"{commit}\n", encoding="utf-8")  # not a branch's name


@contextlib.contextmanager
def _building(target: Path) -> Iterator[Path]:
    """A scratch directory beside ``target`` that becomes ``target`` when the block succeeds, and is
    removed when it fails; when ``target`` appeared meanwhile (the same content), that one stays."""
    scratch = Path(tempfile.mkdtemp(prefix=".build-", dir=target.parent))
    try:
        yield scratch
        os.chmod(scratch, 0o755)
        os.rename(scratch, target)
    except OSError:
        shutil.rmtree(scratch, ignore_errors=True)
        if not target.is_dir():
            raise
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise


def _nearest(common: Path, place: Path, commit: str) -> Path | None:
    """Of the most recently used views, the one of the closest ancestor of ``commit``."""
    views = [path for path in place.iterdir() if _SHA.fullmatch(path.name) and path.is_dir()]
    views.sort(key=lambda path: path.stat().st_mtime, reverse=True)
    best: tuple[int, Path] | None = None
    for view in views[:NEAREST]:
        if not _succeeds("merge-base", "--is-ancestor", view.name, commit, git_dir=common):
            continue
        distance = int(_git("rev-list", "--count", f"{view.name}..{commit}", git_dir=common))
        if best is None or distance < best[0]:
            best = (distance, view)
    if best is None:
        return None
    os.utime(best[1])  # in use again: not one for pruning to take meanwhile
    return best[1]


def _reuse(start: Path, scratch: Path) -> None:
    """Give ``scratch`` the objects of the view ``start`` (hard links to its packs) and a ref to its
    commit, so that the fetch brings only the commits since."""
    for pack in (start / "objects" / "pack").iterdir():
        if pack.suffix in _PACK_FILES:
            _link_or_copy(pack, scratch / "objects" / "pack" / pack.name)
    if (start / "shallow").is_file():  # the repository is shallow: so is the view, at the same commits
        shutil.copy2(start / "shallow", scratch / "shallow")
    _git("update-ref", _HAVE, start.name, git_dir=scratch)


def _link_or_copy(source: Path, target: Path) -> None:
    """A hard link, or where there can be none (another file system), a copy with the same times."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _prune(place: Path, *, keep: Path) -> None:
    """Remove the views (and abandoned builds) of ``place`` unused for ``KEEP_S``."""
    old = time.time() - KEEP_S
    for path in place.iterdir():
        if path == keep or not path.is_dir() or path.stat().st_mtime > old:
            continue
        with _locked(place / f"{path.name}.lock"):
            if path.is_dir() and path.stat().st_mtime <= old:
                shutil.rmtree(path, ignore_errors=True)
        (place / f"{path.name}.lock").unlink(missing_ok=True)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path``, between threads and processes alike (``flock``)."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _git(*args: str, git_dir: Path | None = None) -> str:
    """The output of ``git args`` (on the repository at ``git_dir``); OSError saying what git said when
    it fails."""
    result = _run(*args, git_dir=git_dir)
    if result.returncode != 0:
        said = (result.stderr.strip() or result.stdout.strip()).splitlines()
        raise OSError(
            f"git {' '.join(args)} failed in {git_dir}, so the sandbox cannot show the repository's history: "
            f"{said[-1] if said else f'exit code {result.returncode}'}"
        )
    return result.stdout


def _succeeds(*args: str, git_dir: Path) -> bool:
    return _run(*args, git_dir=git_dir).returncode == 0


def _run(*args: str, git_dir: Path | None) -> "subprocess.CompletedProcess[str]":
    env = {name: os.environ[name] for name in _PASSED if name in os.environ}
    env |= {"LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0", "PATH": env.get("PATH", os.defpath)}
    where = [f"--git-dir={git_dir}"] if git_dir is not None else []
    return subprocess.run(
        ["git", *_CONFIG, *where, *args], capture_output=True, text=True, check=False, env=env,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
