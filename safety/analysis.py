"""Walk a parsed command and collect what it would do: programs, dangers, network use, writes.

Every command that would run is visited: each stage of each pipeline, bodies of groups, loops and
function definitions, every ``$(...)``, backtick and ``<(...)`` (even inside quotes or here-documents),
and strings that are code for a shell (``bash -c``, ``eval``, ``find -exec``, ...), recursively up to
``MAX_DEPTH`` levels. Pipelines are followed for "download, then run as code" (``curl x | sh``) and for
text piped into a shell (``echo ... | sh`` is checked as the command it spells).

A ``cd`` out of the workspace anywhere in the command makes every relative path count as outside (the
analysis is rerun that way), since loops and ``&&`` chains make the order unreliable.
"""

import posixpath
import re
from dataclasses import dataclass, field

from safety.argv import EVALUATES, HIDDEN_CODE, Arg, Call, Stdin, locate, prompt_assignment
from safety.errors import ShellSyntaxError
from safety.programs import FETCHERS, RISKY_VARIABLE, check
from safety.shellparse import Command, FunctionDef, Pipeline, Redirect, SimpleCommand, Word, parse

MAX_DEPTH = 8
"""Deepest nesting of ``bash -c``, ``eval`` and substitutions that is followed before refusing."""

_GLOB = re.compile(r"[*?]|\[.*\]")
"""Unquoted pattern characters; a lone '[' (the test command) is not a pattern."""
_NETWORK_DEVICES = ("/dev/tcp/", "/dev/udp/")
_HARMLESS_DEVICE = re.compile(r"/dev/(null|zero|stdout|stderr|tty|fd/[12])")
_PROC_SECRETS = re.compile(r"/proc/(?!self/|thread-self/)[^/\s]+/(environ|mem)\b")
_CREDENTIALS = re.compile(r"(^|/)(\.ssh|\.aws|\.gnupg)(/|$)|(^|/)(\.netrc|\.git-credentials)$")
_CLIP = 80


@dataclass
class Findings:
    programs: list[list[str]] = field(default_factory=list)
    dangers: list[str] = field(default_factory=list)
    network: list[str] = field(default_factory=list)
    not_read_only: list[str] = field(default_factory=list)
    not_edit: list[str] = field(default_factory=list)
    write_targets: list[str] = field(default_factory=list)
    recursive_targets: list[str] = field(default_factory=list)
    directories: list[str] = field(default_factory=list)
    edits: bool = False
    """Some command is an edit (changes files) even if it names no target (patch, git apply)."""


def _add(items: list[str], item: str) -> None:
    if item not in items:
        items.append(item)


class Analyser:
    """Implements ``safety.argv.Checker``: the rules report through it into ``findings``."""

    def __init__(self, *, cwd_outside: bool = False) -> None:
        self.cwd_outside = cwd_outside
        self.left = False
        """A cd out of the workspace was seen."""
        self.functions: set[str] = set()
        self._calls: dict[str, set[str]] = {}
        self._hidden: list[str] = []
        """Literal text that would run a command if evaluated as a subscript (``a[$(cmd)]``)."""
        self.findings = Findings()

    # ------------------------------------------------------------ the Checker protocol

    def danger(self, reason: str) -> None:
        _add(self.findings.dangers, reason)

    def network(self, reason: str) -> None:
        _add(self.findings.network, reason)

    def change_directory(self, target: Arg | None) -> None:
        if target is None or not locate(target, False)[0]:
            self.left = True
        else:
            _add(self.findings.directories, target.text)

    def recursive_target(self, target: Arg) -> None:
        _add(self.findings.recursive_targets, target.text)

    def write_target(self, target: Arg) -> None:
        text = target.text
        parts = text.split("/")
        normal = posixpath.normpath(text) if text else text
        if ".ssh" in parts or parts[-1] == "authorized_keys":
            self.danger(f"writes '{text}' in an SSH directory; never allowed")
        elif normal.startswith(_NETWORK_DEVICES):
            self.network(f"writing '{text}' opens a network connection")
        elif normal.startswith("/dev/") and not _HARMLESS_DEVICE.fullmatch(normal):
            self.danger(f"writes the device '{text}'; never allowed")
        elif normal.startswith(("/proc/", "/sys/")):
            self.danger(f"writes kernel state '{text}'; never allowed")
        elif ".git" in parts:
            self.danger(
                f"writes '{text}' inside .git (its hooks and config run commands whenever git runs); "
                "never allowed"
            )
        _add(self.findings.write_targets, text)

    def script(self, source: str, depth: int) -> set[str]:
        if depth > MAX_DEPTH:
            self.danger(
                f"commands nested more than {MAX_DEPTH} levels deep (sh -c, eval, $(...)) cannot be checked"
            )
            return set()
        try:
            pipelines = parse(source)
        except ShellSyntaxError as exc:
            if depth == 0:
                raise
            raise ShellSyntaxError(f"{exc} (in the nested command {_clip(source)!r})") from None
        ran: set[str] = set()
        for pipeline in pipelines:
            ran |= self.pipeline(pipeline, depth, Stdin())
        return ran

    def run(self, argv: list[Arg], depth: int, stdin: Stdin, from_input: bool) -> set[str]:
        return self._check(argv, depth, stdin, from_input).ran

    def _check(self, argv: list[Arg], depth: int, stdin: Stdin, from_input: bool) -> Call:
        self.findings.programs.append([arg.text for arg in argv])
        call = Call(self, argv, depth, stdin, from_input)
        check(call)
        self._record(call.read_only_reason, call.edit_reason)
        self.findings.edits = self.findings.edits or bool(call.read_only_reason and not call.edit_reason)
        return call

    # ------------------------------------------------------------ the walk

    def finish(self) -> None:
        """After the walk: mutual recursion between functions is a fork bomb too, and text hiding a
        command is dangerous when the command also evaluates something."""
        if EVALUATES in self.findings.not_read_only:
            for text in self._hidden:
                self.danger(
                    f"the text {_clip(text)!r} runs a command when bash evaluates it as an array subscript, "
                    "which this command does; never allowed"
                )
        for name in self._calls:
            if self._reaches(name, name, set()):
                self.danger(
                    f"the function '{name}' calls itself (a fork bomb pattern like ':(){{ :|:& }};:')"
                )

    def _reaches(self, start: str, goal: str, seen: set[str]) -> bool:
        for callee in self._calls.get(start, set()):
            if callee == goal or (callee not in seen and self._reaches(callee, goal, seen | {callee})):
                return True
        return False

    def pipeline(self, pipeline: Pipeline, depth: int, stdin: Stdin) -> set[str]:
        ran: set[str] = set()
        fetched, text = False, None
        for index, command in enumerate(pipeline.commands):
            stage_stdin = stdin if index == 0 else Stdin(piped=True, fetched=fetched, text=text)
            stage_ran, text = self.command(command, depth, stage_stdin)
            fetched = fetched or bool(stage_ran & FETCHERS)
            ran |= stage_ran
        return ran

    def command(self, command: Command, depth: int, stdin: Stdin) -> tuple[set[str], str | None]:
        """Check one pipeline stage; return the programs it runs and the literal text it prints."""
        if isinstance(command, SimpleCommand):
            return self.simple(command, depth, stdin)
        if isinstance(command, FunctionDef):
            self.functions.add(command.name)
            self._calls[command.name] = self.command(command.body, depth, Stdin())[0]
            return set(), None
        ran = set[str]()
        for word in command.words:
            ran |= self._word(word, depth)[0]
        stdin, _ = self._redirects(command.redirects, depth, stdin)
        for inner in command.body:
            ran |= self.pipeline(inner, depth, stdin)
        return ran, None

    def simple(self, command: SimpleCommand, depth: int, stdin: Stdin) -> tuple[set[str], str | None]:
        ran: set[str] = set()
        argv: list[Arg] = []
        for word in command.assignments:
            ran |= self._word(word, depth)[0]
            target = word.text.split("=", 1)[0].removesuffix("+")
            name = target.split("[", 1)[0]
            if RISKY_VARIABLE.fullmatch(name):
                reason = f"setting {name} changes which programs run or what they load"
                self._record(reason, reason)
            if "[" in target:
                self._record(EVALUATES, EVALUATES)
            prompt_assignment(self, Arg(word.text, word.has_expansion), depth)
        for word in command.words:
            word_ran, fetched = self._word(word, depth)
            ran |= word_ran
            argv += _args(word, fetched)
        stdin, writes = self._redirects(command.redirects, depth, stdin)
        for arg in argv:
            self._secret_location(arg)
        if not argv:
            return ran, None
        call = self._check(argv, depth, stdin, False)
        return ran | call.ran, None if writes else call.output

    def _record(self, read_only_reason: str | None, edit_reason: str | None) -> None:
        if read_only_reason:
            _add(self.findings.not_read_only, read_only_reason)
        if edit_reason:
            _add(self.findings.not_edit, edit_reason)

    def _word(self, word: Word, depth: int) -> tuple[set[str], bool]:
        """Check the commands substituted into ``word`` and the text it makes bash evaluate; return what
        the substitutions run and whether they download."""
        ran: set[str] = set()
        for source in word.substitutions:
            ran |= self.script(source, depth + 1)
        if word.evaluates:
            self._record(EVALUATES, EVALUATES)
        for part in word.parts:
            if not part.expansion:
                self._hidden_code(part.text)
        return ran, bool(ran & FETCHERS)

    def _hidden_code(self, text: str) -> None:
        found = HIDDEN_CODE.search(text)
        if found and found.group() not in self._hidden:
            self._hidden.append(found.group())

    def _redirects(self, redirects: list[Redirect], depth: int, stdin: Stdin) -> tuple[Stdin, bool]:
        """Check redirections; return the command's standard input and whether stdout goes to a file."""
        writes = False
        for redirect in redirects:
            fetched = self._word(redirect.target, depth)[1]
            target = _args(redirect.target, fetched)[0]
            if redirect.heredoc is not None:
                for source in redirect.heredoc.substitutions:
                    self.script(source, depth + 1)
                self._hidden_code(redirect.heredoc.body)
                stdin = Stdin(text=redirect.heredoc.body)
            elif redirect.op == "<<<":
                stdin = Stdin(text=target.text, fetched=fetched)
            elif redirect.op == "<" and redirect.fd in (None, 0):
                stdin = Stdin(fetched=fetched)
            self._secret_location(target)
            if posixpath.normpath(target.text or ".").startswith(_NETWORK_DEVICES):
                reason = f"'{redirect.op} {target.text}' opens a network connection"
                self.network(reason)
                self._record(reason, reason)
                continue
            if redirect.writes and not _HARMLESS_DEVICE.fullmatch(posixpath.normpath(target.text or ".")):
                writes = writes or redirect.fd in (None, 1) or redirect.op.startswith("&")
                self._redirect_write(target, redirect.op)
        return stdin, writes

    def _secret_location(self, arg: Arg) -> None:
        """Where secrets live: other processes' environments, and credential stores outside the workspace."""
        if _PROC_SECRETS.search(arg.text):
            self.danger(
                f"reads '{arg.text}', another process's environment or memory (secrets); never allowed"
            )
        elif _CREDENTIALS.search(arg.text) and not locate(arg, self.cwd_outside)[0]:
            self.danger(f"touches '{arg.text}', a credential store (SSH, AWS, GnuPG, netrc); never allowed")

    def _redirect_write(self, target: Arg, op: str) -> None:
        self.write_target(target)
        inside, where = locate(target, self.cwd_outside)
        edit_reason = None if inside else f"'{op} {target.text}' writes {where}"
        self._record(f"'{op} {target.text}' writes a file", edit_reason)


def _args(word: Word, fetched: bool) -> list[Arg]:
    split = any(part.expansion and not part.quoted for part in word.parts)
    glob = any(not part.quoted and not part.expansion and _GLOB.search(part.text) for part in word.parts)
    return [Arg(text, word.has_expansion, fetched, split, glob) for text in word.expand_braces()]


def _clip(text: str) -> str:
    return text if len(text) <= _CLIP else text[: _CLIP - 3] + "..."
