"""The model the program rules work on: arguments, standard input, and the ``Call`` they report to.

A ``Call`` is one command line after parsing and brace expansion. Each rule in ``safety.programs``
looks at it and records whether it is read-only, an edit inside the workspace, neither, dangerous or
networked. Rules reach the analyser (for nested commands, write targets, cwd changes) through the
``Checker`` protocol.
"""

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Protocol

from safety.shelllex import substitutions_in

EVALUATES = "it makes bash evaluate arithmetic or array subscripts, which can run commands hidden in values"
HIDDEN_CODE = re.compile(r"\[[^\]]*(\$\(|`)[^\]]*\]?")
"""Text like ``a[$(cmd)]``: bash runs ``cmd`` when it evaluates the text as an array subscript, which it
does for arithmetic and for numeric arguments of builtins (``$((x))``, ``printf %d``, ``shift``,
``[ -eq ]``, ``read``, ``unset`` ...), however the text was quoted when it was written."""


@dataclass(frozen=True)
class Arg:
    """One argument after brace expansion, with what is known about where its value comes from."""

    text: str
    unknown: bool = False
    """Holds an expansion ($X, $(...)): the real value is only known at run time."""
    fetched: bool = False
    """Holds a command substitution that downloads from the network."""
    split: bool = False
    """Holds an unquoted expansion, so it may become several words (options included)."""
    glob: bool = False
    """Holds unquoted glob characters."""


@dataclass(frozen=True)
class Stdin:
    """Where a command's standard input comes from."""

    piped: bool = False
    """An earlier pipeline stage writes to it."""
    fetched: bool = False
    """An earlier stage (or the redirected source) downloads from the network."""
    text: str | None = None
    """The literal text it carries (an ``echo`` piped in, a here-document, a here-string)."""


class Checker(Protocol):
    """The analyser, as the rules see it."""

    cwd_outside: bool
    functions: set[str]

    def danger(self, reason: str) -> None: ...
    def network(self, reason: str) -> None: ...
    def change_directory(self, target: Arg | None) -> None: ...
    def recursive_target(self, target: Arg) -> None: ...
    def write_target(self, target: Arg) -> None: ...
    def script(self, source: str, depth: int) -> set[str]: ...
    def run(self, argv: list[Arg], depth: int, stdin: Stdin, from_input: bool) -> set[str]: ...


class Call:
    """One command line being classified; rules record their findings here."""

    def __init__(self, checker: Checker, argv: list[Arg], depth: int, stdin: Stdin, from_input: bool) -> None:
        self.checker = checker
        self.argv = argv
        self.depth = depth
        self.stdin = stdin
        self.from_input = from_input
        """Arguments are appended from input (xargs), so they cannot be checked."""
        self.ran: set[str] = set()
        """Programs this command runs, itself and nested ones (``bash -c``), for pipeline checks."""
        self.read_only_reason: str | None = None
        self.edit_reason: str | None = None
        self.output: str | None = None
        """Literal text the command prints (echo), for ``echo ... | sh``."""

    @property
    def name(self) -> str:
        return program_name(self.argv[0].text)

    @property
    def args(self) -> list[Arg]:
        return self.argv[1:]

    def evaluated(self, args: Iterable[Arg]) -> None:
        """``args`` are evaluated as arithmetic by a builtin: not read-only when any may hide code."""
        if any(arg.unknown or HIDDEN_CODE.search(arg.text) for arg in args):
            self.other(EVALUATES)

    def danger(self, reason: str) -> None:
        self.checker.danger(reason)
        self.other(reason)

    def network(self, reason: str) -> None:
        self.checker.network(reason)
        self.other(reason)

    def not_read_only(self, reason: str) -> None:
        self.read_only_reason = self.read_only_reason or reason

    def other(self, reason: str) -> None:
        """Neither read-only nor an edit inside the workspace."""
        self.not_read_only(reason)
        self.edit_reason = self.edit_reason or reason

    def edit(self, targets: Iterable[Arg]) -> None:
        """The command changes ``targets`` (and only them): an edit if they are all inside the workspace."""
        self.not_read_only(f"'{self.name}' changes files")
        if self.from_input:
            self.edit_reason = self.edit_reason or f"'{self.name}' gets file names from input (xargs)"
        for target in targets:
            self.checker.write_target(target)
            inside, where = locate(target, self.checker.cwd_outside)
            if not inside:
                self.edit_reason = self.edit_reason or f"'{self.name}' changes '{target.text}', {where}"

    def write(self, target: Arg) -> None:
        """The command writes ``target`` but is not an editing command."""
        self.checker.write_target(target)
        self.other(f"'{self.name}' writes '{target.text}'")

    def script(self, source: str) -> None:
        """Check ``source`` as shell code this command runs."""
        self.ran |= self.checker.script(source, self.depth + 1)

    def run(self, argv: list[Arg]) -> None:
        """Check ``argv`` as a command this command runs (``find -exec``)."""
        self.ran |= self.checker.run(argv, self.depth + 1, Stdin(), self.from_input)

    def cd(self, target: Arg | None) -> None:
        """The working directory changes to ``target`` (None: home or unknown)."""
        self.checker.change_directory(target)


PROMPT_VARIABLES = frozenset({"PS0", "PS1", "PS2", "PS3", "PS4", "PROMPT_COMMAND"})
"""Variables whose value bash expands (running its command substitutions) whenever it shows a prompt or
a trace line (``PS4`` with ``set -x``), or runs as a command (``PROMPT_COMMAND``)."""


def prompt_assignment(checker: Checker, assignment: Arg, depth: int) -> None:
    """``PS4='$(cmd)'`` runs ``cmd`` later: check the commands the value will run."""
    name, _, value = assignment.text.partition("=")
    if name.removesuffix("+") not in PROMPT_VARIABLES:
        return
    if assignment.unknown:
        checker.danger(f"{name} is set from a value only known at run time, and bash runs the commands in it")
        return
    sources = [value] if name == "PROMPT_COMMAND" else substitutions_in(value, depth)
    for source in sources:
        checker.script(source, depth + 1)


def program_name(text: str) -> str:
    """The program a command word runs: ``/bin/rm`` is rm, ``python3.11`` is python, ``mkfs.ext4`` mkfs."""
    name = text.rstrip("/").rsplit("/", 1)[-1]
    if re.fullmatch(r"(python|pypy)[0-9.]*", name):
        return "python"
    if re.fullmatch(r"pip[0-9.]*", name):
        return "pip"
    if name.startswith("mkfs"):
        return "mkfs"
    return name


def locate(target: Arg, cwd_outside: bool) -> tuple[bool, str]:
    """Whether a path argument stays inside the workspace, and where it points, in words."""
    text = target.text
    if text.startswith(("~", "$HOME", "${HOME")):
        return False, "in the home directory, outside the workspace"
    if target.unknown:
        return False, "a path only known at run time"
    normal = posixpath.normpath(text) if text else "."
    if normal in ("/", "//"):
        return False, "the root directory"
    if normal.startswith("/"):
        return False, "an absolute path, outside the workspace"
    parts = normal.split("/")
    if parts[0] == "..":
        return False, "outside the workspace (via '..')"
    if target.glob and any(part.startswith(".") and fnmatchcase("..", part) for part in parts):
        return False, "a pattern that also matches '..'"
    if cwd_outside:
        return False, "relative to a directory outside the workspace (after cd)"
    return True, "inside the workspace"


@dataclass
class Options:
    flags: list[tuple[str, Arg | None]] = field(default_factory=list)
    operands: list[Arg] = field(default_factory=list)

    def has(self, *names: str) -> bool:
        return any(flag in names for flag, _ in self.flags)

    def values(self, *names: str) -> list[Arg]:
        return [value for flag, value in self.flags if flag in names and value is not None]


def parse_options(
    args: list[Arg],
    *,
    short: str = "",
    long: Iterable[str] = (),
    known: Iterable[str] = (),
    permute: bool = True,
) -> Options:
    """Split GNU-style options from operands.

    ``short`` letters and ``long`` options take a value; ``known`` long options are matched by
    unambiguous prefix as getopt does (``--recur`` is ``--recursive``). With ``permute`` options may
    follow operands (``rm / -rf``); without, the first operand ends the options (wrappers).
    """
    valued = set(long)
    names = valued | set(known)
    found = Options()
    index = 0
    while index < len(args):
        arg, text = args[index], args[index].text
        if text == "--":
            found.operands += args[index + 1 :]
            break
        if text.startswith("--") and not arg.unknown:
            name, equals, value = text.partition("=")
            name = canonical_option(name, names)
            if equals:
                found.flags.append((name, Arg(value, arg.unknown, arg.fetched)))
            elif name in valued and index + 1 < len(args):
                index += 1
                found.flags.append((name, args[index]))
            else:
                found.flags.append((name, None))
        elif text.startswith("-") and len(text) > 1 and not arg.unknown:
            for position, letter in enumerate(text[1:], start=2):
                if letter not in short:
                    found.flags.append(("-" + letter, None))
                    continue
                if position < len(text):
                    found.flags.append(("-" + letter, Arg(text[position:], arg.unknown, arg.fetched)))
                elif index + 1 < len(args):
                    index += 1
                    found.flags.append(("-" + letter, args[index]))
                break
        elif permute:
            found.operands.append(arg)
        else:
            found.operands += args[index:]
            break
        index += 1
    return found


def canonical_option(name: str, known: Iterable[str]) -> str:
    """The long option ``name`` abbreviates, as getopt matches unambiguous prefixes; else ``name``."""
    known = tuple(known)
    matches = [option for option in known if option.startswith(name)]
    return name if name in known or len(matches) != 1 else matches[0]


def words(text: str) -> frozenset[str]:
    """A set of names written as one whitespace-separated string (keeps long tables readable)."""
    return frozenset(text.split())
