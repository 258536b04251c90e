"""What a sandbox shows, as bwrap arguments: system files, interpreters, the workspace and its git.

Paths inside every sandbox:

    /workspace              the worktree (read-write, read-only, or a throwaway overlay)
    /workspace/<path>       what the environment set-up made there, at any depth (``entries``)
    /git                    a view of the repository holding only the history of the worktree's
                            commit: no refs, tags, reflogs or other branches' objects (``gitview``);
                            read-only, its object store a throwaway overlay, its config a sanitised
                            copy (no remotes, no credentials)
    /git/worktrees/workspace  this worktree's own git directory: HEAD (its commit) and its index,
                            nothing else, a throwaway overlay; no other worktree's is there
    /usr /bin /lib ... /etc system files, read-only (a short list of /etc, and our own passwd/group)
    host interpreters       the installations of the interpreters on the PATH, read-only, at their paths
    read_only_paths         what the operator listed, read-only, at their paths
    /home/sandbox /tmp      empty, private, gone when the command ends
    /outputs                a directory of ours for reports (JUnit XML), when asked for

Nothing else of the host is there: not the state directory, the bot's HOME, the main checkout or any
other run's worktree, and nothing of the repository that the worktree's commit cannot reach. Git inside
works for history, status, diff, blame and even commits within one command; nothing it writes outlives
the command, and the repository itself is never shown.
"""

import hashlib
import os
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from safety.sandbox import gitview

WORKSPACE = "/workspace"
GIT = "/git"
HOME = "/home/sandbox"
OUTPUTS = "/outputs"
USER = "sandbox"
UID = 1000

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
"""Shown read-only (symlinks such as merged-/usr's ``/bin -> usr/bin`` are recreated as links)."""
ETC_ENTRIES = (
    "alternatives", "ca-certificates", "ca-certificates.conf", "crypto-policies", "debian_version",
    "gai.conf", "host.conf", "hosts", "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime",
    "locale.alias", "mime.types", "nsswitch.conf", "os-release", "pki", "protocols", "python3",
    "services", "ssl", "terminfo", "timezone",
)  # fmt: skip
"""The parts of /etc programs need; not the rest (shadow, credentials, the bot's own config)."""
NETWORK_ETC = ("resolv.conf",)
"""Added when the sandbox has the network (the environment set-up)."""
_GIT_CONFIG_KEPT = ("core.repositoryformatversion", "core.bare", "core.filemode", "core.symlinks",
                    "core.ignorecase", "core.precomposeunicode", "core.autocrlf", "core.eol")  # fmt: skip


def system_args(*, network: bool, support: "Support") -> list[str]:
    """System directories, the chosen parts of /etc, our passwd and group, fresh /proc, /dev, /tmp, HOME."""
    args: list[str] = []
    for directory in SYSTEM_DIRS:
        if os.path.islink(directory):
            args += ["--symlink", os.readlink(directory), directory]
        elif os.path.isdir(directory):
            args += ["--ro-bind", directory, directory]
    for name in (*ETC_ENTRIES, *(NETWORK_ETC if network else ())):
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    args += ["--ro-bind", str(support.passwd), "/etc/passwd", "--ro-bind", str(support.group), "/etc/group"]
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/var/tmp", "--tmpfs", "/run"]
    args += ["--tmpfs", HOME]
    return args


def is_system(path: Path) -> bool:
    return any(path == Path(d) or Path(d) in path.parents for d in SYSTEM_DIRS)


def installation_roots(program: Path) -> list[Path]:
    """The directories a program outside the system directories needs: its own directory, and for a
    Python interpreter its installation (``lib/python3.X``) or virtual environment and that one's base."""
    roots: list[Path] = []
    for candidate in dict.fromkeys((program, program.resolve())):
        bin_dir = candidate.parent
        prefix = bin_dir.parent
        if (prefix / "pyvenv.cfg").is_file():
            roots.append(prefix)
            home = _pyvenv_home(prefix / "pyvenv.cfg")
            if home is not None and (home.parent / "lib").is_dir():
                roots.append(home.parent)
        elif any((prefix / "lib").glob("python3*")):
            roots.append(prefix)
        else:
            roots.append(bin_dir)
    return [root for root in dict.fromkeys(roots) if not is_system(root)]


def path_roots(path_variable: str) -> list[Path]:
    """What the non-system directories of ``PATH`` need: each directory, a version manager's root for
    its ``shims`` (pyenv, rbenv: they exec from ``<root>/libexec``), and the installations of the
    Python interpreters in them."""
    roots: list[Path] = []
    for entry in path_variable.split(os.pathsep):
        directory = Path(entry)
        if not entry or not directory.is_absolute() or not directory.is_dir() or is_system(directory):
            continue
        if directory.name == "shims" and (directory.parent / "libexec").is_dir():
            roots.append(directory.parent)
            continue
        roots.append(directory)
        for name in ("python3", "python"):
            if (directory / name).is_file():
                roots += installation_roots(directory / name)
    return list(dict.fromkeys(roots))


def visible_roots(roots: Iterable[Path], hidden: Sequence[Path], home: Path | None = None) -> list[Path]:
    """``roots`` minus any inside a ``hidden`` tree (the state directory, the repository's checkout) or
    that would show one, or ``home`` (the bot's HOME: a directory inside it, such as an interpreter's
    installation, is fine; HOME itself or a parent of it is not). Nested roots give way to their parent."""
    kept: list[Path] = []
    for root in sorted(dict.fromkeys(roots), key=lambda p: len(p.parts)):
        if any(root == h or h in root.parents or root in h.parents for h in hidden):
            continue
        if home is not None and (root == home or root in home.parents):
            continue
        if any(k in root.parents for k in kept):
            continue
        kept.append(root)
    return kept


def read_only_args(paths: Iterable[Path]) -> list[str]:
    args: list[str] = []
    for path in paths:
        args += ["--ro-bind-try", str(path), str(path)]
    return args


def git_args(workspace: Path, support: "Support") -> list[str]:
    """The workspace's git as ``/git`` shows it (``safety.sandbox.gitview``): the view of its commit and
    its own git directory, both throwaway where git writes. A plain directory gets nothing."""
    checkout = gitview.find_checkout(workspace)
    if checkout is None:
        return []
    commit = gitview.head_commit(checkout)
    views = support.git_views
    view = views.view(checkout.common, commit)
    args = [
        "--ro-bind", str(view), GIT,
        "--overlay-src", str(view / "objects"), "--tmp-overlay", f"{GIT}/objects",
        "--ro-bind", str(support.git_config(checkout.common)), f"{GIT}/config",
    ]  # fmt: skip
    exclude = checkout.common / "info" / "exclude"
    if exclude.is_file():  # what Nightshift ignores locally (the environment's entries), as the bot sees it
        args += ["--ro-bind", str(exclude), f"{GIT}/info/exclude"]
    if checkout.linked:
        own = f"{GIT}/worktrees/workspace"  # not the host's name for it, which counts the other worktrees
        files = {"commondir": "../..\n", "gitdir": f"{WORKSPACE}/.git\n"}
        args += ["--tmpfs", f"{GIT}/worktrees"]
    else:  # a checkout: its .git directory is replaced by one that names /git as its common directory
        own = f"{WORKSPACE}/.git"
        files = {"commondir": f"{GIT}\n"}
    admin = views.own_directory(checkout, commit, files)
    args += ["--overlay-src", str(admin), "--tmp-overlay", own]
    if checkout.linked:
        args += ["--ro-bind", str(support.text_file(f"gitdir: {own}\n")), f"{WORKSPACE}/.git"]
    return args


def _pyvenv_home(config: Path) -> Path | None:
    for line in config.read_text(encoding="utf-8", errors="replace").splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == "home":
            return Path(value.strip())
    return None


class Support:
    """Small files of ours that sandboxes show: passwd, group, ``.git`` links, sanitised git configs.

    Kept in one directory of the state directory (never shown whole), written once each.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.passwd = self.text_file(
            f"root:x:0:0:root:/root:/usr/sbin/nologin\n{USER}:x:{UID}:{UID}:{USER}:{HOME}:/bin/bash\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
        )
        self.group = self.text_file(f"root:x:0:\n{USER}:x:{UID}:\nnogroup:x:65534:\n")
        self._configs: dict[tuple[Path, int, int], Path] = {}
        self.git_views = gitview.GitViews(root / "git")

    def text_file(self, content: str) -> Path:
        """A file holding ``content`` (named by its hash, so each is written once)."""
        path = self.root / hashlib.sha256(content.encode()).hexdigest()[:24]
        if not path.exists():  # written whole under another name, then renamed: never seen half-written
            handle, scratch = tempfile.mkstemp(dir=self.root, prefix=f".{path.name}.")
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(content)
            os.chmod(scratch, 0o644)
            os.replace(scratch, path)
        return path

    def git_config(self, common: Path) -> Path:
        """The repository's git config with only what git needs to read the repository (format,
        extensions, file-system flags): no remote URLs, credentials, hooks, filters or aliases."""
        config = common / "config"
        stat = config.stat()
        key = (config, stat.st_mtime_ns, stat.st_size)
        if key not in self._configs:
            listed = subprocess.run(
                ["git", "config", "--file", str(config), "--list"],
                capture_output=True, text=True, check=False, env={"PATH": os.defpath},
            ).stdout  # fmt: skip
            sections: dict[str, list[str]] = {}
            for line in listed.splitlines():
                name, _, value = line.partition("=")
                section, _, key_name = name.partition(".")
                if name in _GIT_CONFIG_KEPT or section == "extensions":
                    sections.setdefault(section, []).append(f"\t{key_name} = {value}")
            text = "".join(f"[{section}]\n" + "\n".join(lines) + "\n" for section, lines in sections.items())
            self._configs[key] = self.text_file(text)
        return self._configs[key]
