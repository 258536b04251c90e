"""``git``: read-only subcommands, ``git apply`` as an edit, ``git push`` and command-running config
refused, remote operations networked, and changes to what every worktree shares refused.

An agent works in a worktree, but refs, worktree registrations, remotes and the object store belong to
the whole repository: ``git update-ref refs/heads/main ...``, ``git branch -D main``,
``git worktree add /elsewhere`` or ``git gc --prune=now`` in one agent's worktree would change the main
checkout and every other run. Those are dangerous; per-worktree changes (a detached commit, a reset)
are not.

Global options are looked through (``git -C x push`` and ``git --git-dir=... push`` are pushes). A
``git config`` key whose value is a command git runs later (hooks path, fsmonitor, pager, aliases,
filters, ...) is dangerous: Nightshift itself runs git in the worktree afterwards.
"""

import re

from safety.argv import Arg, Call, parse_options, words

_READ_ONLY = words(
    "status diff log show blame annotate grep ls-files ls-tree rev-parse rev-list show-ref describe cat-file "
    "shortlog merge-base name-rev for-each-ref count-objects diff-tree diff-index diff-files check-ignore "
    "check-attr whatchanged version var"
)
_NETWORK = words("clone fetch pull ls-remote fetch-pack submodule request-pull")
_GLOBAL_VALUED = words("-C -c --git-dir --work-tree --namespace --config-env --super-prefix --attr-source")
_LISTING = {
    "stash": frozenset({"list", "show"}),
    "worktree": frozenset({"list"}),
    "reflog": frozenset({"", "show"}),
    "remote": frozenset({"", "get-url"}),
    "notes": frozenset({"list", "show"}),
}
"""Subcommands that only list, by their first word ("" = no verb)."""
_SHARED = words("update-ref symbolic-ref gc prune pack-refs replace filter-branch filter-repo")
"""Subcommands that change refs or objects every worktree of the repository shares."""
_SHARING_VERBS = {"worktree", "remote", "reflog"}
"""Of ``_LISTING``: subcommands whose other verbs change what every worktree shares."""
_NEW_BRANCH = words("-b -B -c -C --orphan")
"""``checkout``/``switch`` options that create or reset a branch (a shared ref)."""
_LIST_VALUED = tuple("--contains --no-contains --merged --no-merged --points-at --sort --format".split())
_LIST_FLAGS = {
    "branch": words("--list -l --show-current -a --all -r --remotes -v --verbose --color --no-color --column")
    | words("--no-column -i --ignore-case --abbrev")
    | frozenset(_LIST_VALUED),
    "tag": words("--list -l -n --column --no-column -i --ignore-case --color") | frozenset(_LIST_VALUED),
}
_CONFIG_READING = words("--get --get-all --get-regexp --list -l --get-urlmatch --show-origin get list")
_RUNS_COMMANDS = re.compile(
    r"alias\..*|core\.(hookspath|fsmonitor|pager|editor|sshcommand|askpass|gitproxy)|diff\.external"
    r"|.*\.textconv|filter\..*|merge\..*\.driver|diff\..*\.command|sequence\.editor|gpg\..*|pager\..*"
    r"|include\..*|includeif\..*|credential\..*|uploadpack\..*|remote\..*\.(uploadpack|receivepack)"
)
"""git config keys whose value is a command git runs later (or that pull in other config)."""


def git(call: Call) -> None:
    args = call.args
    index = 0
    while index < len(args) and args[index].text.startswith("-"):
        text = args[index].text
        if text == "-c" and index + 1 < len(args):
            key = args[index + 1].text.split("=", 1)[0]
            if key.lower().startswith("alias."):
                call.danger(
                    f"'git -c {key}=...' defines a git alias on the command line, which cannot be checked"
                )
            call.other("'git -c' changes git configuration for this run")
        if text.startswith(("--exec-path=", "--config-env")) or text in ("-p", "--paginate"):
            call.other(f"git {text.split('=')[0]} runs other programs")
        index += 2 if text in _GLOBAL_VALUED else 1
    if index >= len(args):
        return
    sub, rest = args[index], args[index + 1 :]
    if sub.unknown:
        call.danger(f"the git subcommand '{sub.text}' is only known at run time, so it cannot be checked")
        return
    _subcommand(call, sub.text, rest)


def _shared(call: Call, what: str) -> None:
    call.danger(
        f"'{what}' changes refs or worktrees that the main checkout and every run share; never allowed"
    )


def _subcommand(call: Call, name: str, rest: list[Arg]) -> None:
    if name in _SHARED:
        _shared(call, f"git {name}")
    elif name in ("checkout", "switch") and any(a.text.split("=")[0] in _NEW_BRANCH for a in rest):
        _shared(call, f"git {name} with a new branch")
    elif name in ("push", "send-pack") or (name == "subtree" and any(a.text == "push" for a in rest)):
        call.danger("'git push' is never allowed: Nightshift pushes the verified fix itself")
    elif name in _NETWORK or (name == "remote" and any(a.text in ("update", "show", "prune") for a in rest)):
        call.network(f"'git {name}' talks to a remote repository")
    elif name == "config":
        _config(call, rest)
    elif name == "apply":
        if any(a.text == "--unsafe-paths" or a.text.startswith("--directory") for a in rest):
            call.other("git apply --unsafe-paths/--directory may write outside the workspace")
        call.edit([])  # git apply refuses patches that touch paths outside the work tree
    elif name in _READ_ONLY:
        for arg in rest:
            runs = arg.text.startswith(("--output", "--ext-diff", "--open-files-in-pager"))
            if runs or (name == "grep" and arg.text.startswith("-O")):
                call.other(f"'git {name} {arg.text}' writes a file or runs another program")
    elif name in _LIST_FLAGS:
        options = parse_options(rest, long=_LIST_VALUED, known=_LIST_FLAGS[name])
        listing = options.has("--list", "-l") or (name == "tag" and options.has("-n"))
        changing = [flag for flag, _ in options.flags if flag not in _LIST_FLAGS[name]]
        if changing or (options.operands and not listing):
            _shared(call, f"git {name} with these arguments")
    elif name in _LISTING:
        verb = next((a.text for a in rest if not a.text.startswith("-")), "")
        if verb not in _LISTING[name]:
            what = " ".join(filter(None, ("git", name, verb)))
            if name in _SHARING_VERBS:
                _shared(call, what)
            else:
                call.other(f"'{what}' changes the repository")
    else:
        call.other(f"'git {name}' changes the repository or is not on the read-only list")


def _config(call: Call, rest: list[Arg]) -> None:
    if any(a.text in _CONFIG_READING for a in rest):
        return
    keys = [a.text for a in rest if not a.text.startswith("-")]
    if keys and _RUNS_COMMANDS.fullmatch(keys[0].lower()):
        call.danger(
            f"'git config {keys[0]}' sets an option whose value is a command git runs later (also when "
            "Nightshift runs git); never allowed"
        )
    call.other("'git config' changes git configuration")
