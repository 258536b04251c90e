"""Intent checks: a clear refusal, with the reason, for commands whose purpose is plainly destructive.

The sandbox is the wall (docs/safety.md): a command cannot reach outside its worktree, gain privileges,
touch a disk, reach the network or change what every worktree of the repository shares, however it is
spelled. These checks only spare the model the detour: ``rm -rf ~``, ``sudo``, ``git push`` and the like
are refused up front with a message that says why they make no sense here and what to do instead.

They read the command as written (``safety.shellwords``), look through wrappers such as ``env``,
``timeout`` and ``nice``, and one level into ``bash -c`` and ``eval``; they do not try to resist
obfuscation.
"""

import posixpath
import re
from collections.abc import Callable

from safety.shellwords import is_operator, split_commands, tokens

_NESTING = 1
"""How deep ``bash -c '...'`` and ``eval '...'`` are looked into."""
_SHELLS = frozenset("bash sh zsh dash ksh".split())
_WRAPPERS = frozenset("env command exec nohup nice ionice timeout time stdbuf setsid xargs".split())
_WRAPPER_ARGUMENT = re.compile(r"-.*|[A-Za-z_][A-Za-z0-9_]*=.*|\d+(\.\d+)?[smhd]?")
"""Words after a wrapper that are its own options, assignments or durations (``timeout 5``, ``-n 10``)."""

_PRIVILEGED = frozenset("sudo su doas pkexec run0".split())
_DISK_TOOLS = re.compile(r"mkfs(\..+)?|mke2fs|mkswap|wipefs|fdisk|sfdisk|parted")
_POWER = frozenset("shutdown reboot halt poweroff".split())
_INIT = frozenset({"init", "telinit"})
_POWER_VERBS = frozenset("reboot poweroff halt kexec suspend hibernate".split())
_HARMLESS_DEVICES = frozenset("/dev/null /dev/zero /dev/full /dev/stdout /dev/stderr /dev/tty".split())

_GIT_VALUED = frozenset("-C -c --git-dir --work-tree --namespace --config-env --super-prefix".split())
_GIT_SHARED = frozenset(
    "commit merge rebase cherry-pick revert am fetch pull update-ref symbolic-ref gc prune "
    "pack-refs repack replace filter-branch filter-repo".split()
)
"""Subcommands that write objects or refs, which every worktree of the repository shares."""
_GIT_LISTING_VERBS = {
    "stash": frozenset({"list", "show"}),
    "notes": frozenset({"list", "show"}),
    "worktree": frozenset({"list"}),
    "remote": frozenset({"", "show", "get-url"}),
    "reflog": frozenset({"", "show", "exists"}),
}
"""Subcommands whose verbs other than these (first word, "" = none) change what worktrees share."""
_GIT_REF_CHANGES = {
    "branch": frozenset("-d -D --delete -m -M --move -c -C --copy -f --force -u --set-upstream-to".split())
    | frozenset("--unset-upstream --edit-description -t --track --no-track".split()),
    "tag": frozenset("-d --delete -a --annotate -s --sign -u -m -F -f --force".split()),
}
_GIT_LIST_VALUED = frozenset(
    "--contains --no-contains --merged --no-merged --points-at --sort --format".split()
)
_GIT_NEW_BRANCH = frozenset("-b -B -c -C --orphan".split())
_GIT_CONFIG_READING = frozenset("--get --get-all --get-regexp --get-urlmatch --list -l get list".split())
_GIT_CONFIG_WRITING = frozenset(
    "--add --unset --unset-all --replace-all --rename-section --remove-section -e --edit".split()
)

_PUSH = (
    "'git push' is not for agents: Nightshift pushes the verified fix itself, and commands here have no "
    "network. Leave your change as files in the worktree"
)


def destructive_intent(command: str, depth: int = 0) -> str | None:
    """Why ``command`` is refused as plainly destructive, or None. ``ValueError``: an unclosed quote."""
    words = tokens(command)
    found = _fork_bomb(words)
    for argv in split_commands(words):
        found = found or _check(_unwrapped(argv), depth)
    return found


def _unwrapped(argv: list[str]) -> list[str]:
    """``argv`` without leading wrappers (``env FOO=1 timeout 5 nice -n 10 cmd`` is ``cmd``)."""
    while argv and posixpath.basename(argv[0]) in _WRAPPERS:
        argv = argv[1:]
        while argv and _WRAPPER_ARGUMENT.fullmatch(argv[0]):
            argv = argv[1:]
    return argv


def _check(argv: list[str], depth: int) -> str | None:
    if not argv:
        return None
    name, args = posixpath.basename(argv[0]), argv[1:]
    if name in ("eval", *_SHELLS) and depth < _NESTING:
        script = " ".join(args) if name == "eval" else _shell_script(args)
        try:
            return destructive_intent(script, depth + 1) if script else None
        except ValueError:
            return None  # the shell itself reports the unclosed quote
    if _DISK_TOOLS.fullmatch(name):
        return f"'{name}' formats or partitions a disk; there is no disk here to change"
    check = _CHECKS.get(name)
    return check(name, args) if check else None


def _shell_script(args: list[str]) -> str | None:
    """The script of ``bash -c SCRIPT`` (options may cluster: ``-ec``), or None."""
    for index, arg in enumerate(args):
        if not arg.startswith("-"):
            return None
        if not arg.startswith("--") and "c" in arg:
            return args[index + 1] if index + 1 < len(args) else None
    return None


def _privileges(name: str, args: list[str]) -> str:
    return (
        f"'{name}' asks for root privileges, and commands here run as an unprivileged user that cannot "
        f"gain any; run the command without '{name}' (nothing in the workspace needs root)"
    )


def _rm(name: str, args: list[str]) -> str | None:
    recursive, operands, options_done = False, [], False
    for arg in args:
        if arg == "--" and not options_done:
            options_done = True
        elif arg.startswith("--") and not options_done:
            recursive = recursive or arg in ("--recursive", "--no-preserve-root")
        elif arg.startswith("-") and len(arg) > 1 and not options_done:
            recursive = recursive or "r" in arg or "R" in arg
        else:
            operands.append(arg)
    outside = next((path for path in operands if _outside_workspace(path)), None)
    if not recursive or outside is None:
        return None
    return (
        f"'rm -r {outside}' deletes outside the workspace (an absolute path, the home directory or '..'); "
        "only paths relative to the workspace may be deleted recursively, e.g. 'rm -r build'"
    )


def _outside_workspace(path: str) -> bool:
    if path.startswith(("/", "~", "$HOME", "${HOME}")):
        return True
    normal = posixpath.normpath(path)
    return normal == ".." or normal.startswith("../")


def _dd(name: str, args: list[str]) -> str | None:
    target = next((arg[3:] for arg in args if arg.startswith("of=")), "")
    if target.startswith("/dev/") and target not in _HARMLESS_DEVICES:
        return f"'dd of={target}' writes onto a device; there is no disk here to change"
    return None


def _power(name: str, args: list[str]) -> str | None:
    verb = args[0] if args else ""
    if (name == "systemctl" and verb not in _POWER_VERBS) or (name in _INIT and verb not in ("0", "6")):
        return None
    return f"'{' '.join([name, *args[:1]])}' would stop or restart the machine; that is never part of a fix"


def _git(name: str, args: list[str]) -> str | None:
    index = 0
    while index < len(args) and args[index].startswith("-"):
        index += 2 if args[index] in _GIT_VALUED else 1
    if index >= len(args):
        return None
    sub, rest = args[index], args[index + 1 :]
    if sub in ("push", "send-pack"):
        return _PUSH
    if not _git_changes_shared(sub, rest):
        return None
    return (
        f"'git {sub}' would change what every worktree of this repository shares (objects, branches, "
        "tags, remotes, configuration); that part of git is read-only here. Leave your change as files "
        "in the worktree: Nightshift reads them from there and commits the fix itself"
    )


def _git_changes_shared(sub: str, rest: list[str]) -> bool:
    if sub in _GIT_LISTING_VERBS:
        return next((arg for arg in rest if not arg.startswith("-")), "") not in _GIT_LISTING_VERBS[sub]
    if sub in _GIT_REF_CHANGES:
        return _git_changes_refs(rest, _GIT_REF_CHANGES[sub])
    if sub in ("checkout", "switch"):
        return any(arg.split("=")[0] in _GIT_NEW_BRANCH for arg in rest)
    if sub == "config":
        if "--global" in rest or any(arg in _GIT_CONFIG_READING for arg in rest):
            return False  # --global writes the sandbox's own, empty HOME
        writing = any(arg.split("=")[0] in _GIT_CONFIG_WRITING for arg in rest)
        return writing or len([arg for arg in rest if not arg.startswith("-")]) != 1
    return sub in _GIT_SHARED


def _git_changes_refs(rest: list[str], changes: frozenset[str]) -> bool:
    """``git branch``/``git tag`` with ``rest``: does it create, delete or move a ref (not list)?"""
    listing, operands, value_next = False, [], False
    for arg in rest:
        if value_next:
            value_next = False
        elif arg.split("=")[0] in changes:
            return True
        elif arg in _GIT_LIST_VALUED:
            value_next = True
        elif arg in ("--list", "-l", "-n"):
            listing = True
        elif not arg.startswith("-"):
            operands.append(arg)
    return bool(operands) and not listing


_CHECKS: dict[str, Callable[[str, list[str]], str | None]] = {
    **dict.fromkeys(_PRIVILEGED, _privileges),
    **dict.fromkeys((*_POWER, *_INIT, "systemctl"), _power),
    "rm": _rm,
    "dd": _dd,
    "git": _git,
}


def _fork_bomb(words: list[str]) -> str | None:
    """A shell function that calls itself (``:(){ :|:& };:``): it only multiplies processes."""
    for index, word in enumerate(words):
        if word == "function" and index + 1 < len(words):
            name, body_from = words[index + 1], index + 2
        elif words[index + 1 : index + 3] == ["(", ")"] and not is_operator(word):
            name, body_from = word, index + 3
        else:
            continue
        if any(argv[0] == name for argv in split_commands(_braced(words[body_from:]))):
            return (
                f"the function '{name}' calls itself, which only multiplies processes (a fork bomb); "
                "the process limit would end it"
            )
    return None


def _braced(words: list[str]) -> list[str]:
    """The words inside the ``{ ... }`` that ``words`` starts with (after ``()``), or []."""
    if not words or words[0] != "{":
        return []
    depth = 0
    for index, word in enumerate(words):
        depth += (word == "{") - (word == "}")
        if depth == 0:
            return words[1:index]
    return words[1:]
