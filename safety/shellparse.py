"""A bash-compatible command parser, just deep enough for the command safety check.

``shlex`` alone cannot do this job: it loses the difference between ``'$(x)'`` (text) and ``"$(x)"``
(a command that runs), knows nothing of ``$(...)``, backticks, ``<(...)``, here-documents or
``$'\\x72m'`` quoting, and so lets obfuscated commands through. This module follows the bash grammar
instead:

- the lexer (``safety.shelllex``) splits words the way bash does (quotes, backslashes, ``$'...'``
  decoded, comments, line continuations) and keeps, for every word, which parts are quoted or
  expansions, plus the source of every command substitution for recursive checking;
- the parser builds pipelines of simple commands, groups (subshells, ``{ }``, if/while/until/for/case)
  and function definitions, with redirections and here-documents.

Anything it cannot read raises ``ShellSyntaxError``; the safety check refuses what it cannot read.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from safety.errors import ShellSyntaxError
from safety.shelllex import MAX_NESTING, REDIRECTS, Heredoc, Op, Part, Token, Word, tokenize

SEPARATORS = ("\n", ";", "&", "&&", "||")
_TERMINATORS = frozenset({"then", "elif", "else", "fi", "do", "done", "esac", "}", "in", "]]"})
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=")


@dataclass
class Redirect:
    op: str
    fd: int | None
    target: Word
    heredoc: Heredoc | None = None

    @property
    def writes(self) -> bool:
        """Whether the redirection opens ``target`` as a file for writing."""
        if self.op == ">&":
            return not (self.target.text.isdigit() or self.target.text == "-")
        return self.op in (">", ">>", ">|", "<>", "&>", "&>>")


@dataclass
class SimpleCommand:
    assignments: list[Word]
    words: list[Word]
    redirects: list[Redirect]


@dataclass
class Group:
    """A subshell, ``{ }`` block or if/while/until/for/case; ``words`` are its header words (for lists)."""

    body: "list[Pipeline]"
    redirects: list[Redirect]
    words: list[Word] = field(default_factory=list)


@dataclass
class FunctionDef:
    name: str
    body: "Command"


Command = SimpleCommand | Group | FunctionDef


@dataclass
class Pipeline:
    commands: list[Command]


def parse(source: str) -> list[Pipeline]:
    """Parse ``source`` into pipelines; raise ``ShellSyntaxError`` with the reason when it cannot."""
    return _Parser(tokenize(source)).script()


def _is_op(token: Token | None, *ops: str) -> bool:
    return isinstance(token, Op) and token.op in ops


def _is_word(token: Token | None, *names: str) -> bool:
    return isinstance(token, Word) and token.is_plain(*names)


def _describe(token: Token | None) -> str:
    if token is None:
        return "end of the command"
    if isinstance(token, Op):
        return "newline" if token.op == "\n" else f"'{token.op}'"
    return f"'{token.text}'"


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.index = 0
        self.depth = 0

    def script(self) -> list[Pipeline]:
        return self.sequence(lambda token: False)

    def peek(self, ahead: int = 0) -> Token | None:
        index = self.index + ahead
        return self.tokens[index] if index < len(self.tokens) else None

    def take(self) -> Token | None:
        token = self.peek()
        self.index += 1
        return token

    def expect_word(self, *names: str) -> str:
        token = self.take()
        if not _is_word(token, *names):
            wanted = " or ".join(f"'{name}'" for name in names)
            raise ShellSyntaxError(f"expected {wanted} but found {_describe(token)}")
        assert isinstance(token, Word)
        return token.text

    def expect_op(self, op: str) -> None:
        token = self.take()
        if not _is_op(token, op):
            raise ShellSyntaxError(f"expected '{op}' but found {_describe(token)}")

    def any_word(self, what: str) -> Word:
        token = self.take()
        if not isinstance(token, Word):
            raise ShellSyntaxError(f"expected {what} but found {_describe(token)}")
        return token

    def skip(self, *ops: str) -> None:
        while _is_op(self.peek(), *ops):
            self.index += 1

    def sequence(self, stop: Callable[[Token], bool]) -> list[Pipeline]:
        pipelines: list[Pipeline] = []
        while True:
            self.skip(*SEPARATORS)
            token = self.peek()
            if token is None or stop(token):
                return pipelines
            pipelines.append(self.pipeline())

    def pipeline(self) -> Pipeline:
        commands: list[Command] = []
        while True:
            while _is_word(self.peek(), "!", "time"):
                self.index += 1
                if _is_word(self.peek(), "-p"):
                    self.index += 1
            commands.append(self.command())
            if not _is_op(self.peek(), "|", "|&"):
                return Pipeline(commands)
            self.index += 1
            self.skip("\n")

    def command(self) -> Command:
        self.depth += 1
        try:
            if self.depth > MAX_NESTING:
                raise ShellSyntaxError(f"the command nests more than {MAX_NESTING} deep")
            return self._command()
        finally:
            self.depth -= 1

    def _command(self) -> Command:
        token = self.peek()
        if token is None:
            raise ShellSyntaxError("a command is missing at the end (after '|', '&&' or similar)")
        if _is_op(token, "("):
            self.index += 1
            body = self.sequence(lambda t: _is_op(t, ")"))
            self.expect_op(")")
            return Group(body, self.redirects())
        if isinstance(token, Word) and not token.quoted and not token.has_expansion:
            keyword = _COMPOUND.get(token.text)
            if keyword is not None:
                self.index += 1
                return keyword(self)
            if token.text in _TERMINATORS:
                raise ShellSyntaxError(f"unexpected '{token.text}'")
        return self.simple()

    def until(self, *names: str) -> list[Pipeline]:
        return self.sequence(lambda token: _is_word(token, *names))

    def brace_group(self) -> Command:
        body = self.until("}")
        self.expect_word("}")
        return Group(body, self.redirects())

    def if_clause(self) -> Command:
        body = self.until("then")
        self.expect_word("then")
        while True:
            body += self.until("elif", "else", "fi")
            keyword = self.expect_word("elif", "else", "fi")
            if keyword == "elif":
                body += self.until("then")
                self.expect_word("then")
            elif keyword == "else":
                body += self.until("fi")
                self.expect_word("fi")
                break
            else:
                break
        return Group(body, self.redirects())

    def loop(self) -> Command:
        body = self.until("do")
        self.expect_word("do")
        body += self.until("done")
        self.expect_word("done")
        return Group(body, self.redirects())

    def for_clause(self) -> Command:
        if _is_op(self.peek(), "("):
            raise ShellSyntaxError(
                "'for ((...))' loops are not supported by the safety check; use 'for x in ...'"
            )
        words = [self.any_word("a loop variable name")]
        self.skip("\n")
        if _is_word(self.peek(), "in"):
            self.index += 1
            while isinstance(self.peek(), Word):
                words.append(self.any_word("a word"))
        self.skip(";", "\n")
        self.expect_word("do")
        body = self.until("done")
        self.expect_word("done")
        return Group(body, self.redirects(), words)

    def case_clause(self) -> Command:
        words = [self.any_word("the word after 'case'")]
        self.skip("\n")
        self.expect_word("in")
        body: list[Pipeline] = []
        while True:
            self.skip("\n", ";")
            if _is_word(self.peek(), "esac"):
                self.index += 1
                return Group(body, self.redirects(), words)
            if _is_op(self.peek(), "("):
                self.index += 1
            words.append(self.any_word("a case pattern"))
            while _is_op(self.peek(), "|"):
                self.index += 1
                words.append(self.any_word("a case pattern"))
            self.expect_op(")")
            body += self.sequence(lambda t: _is_op(t, ";;", ";&", ";;&") or _is_word(t, "esac"))
            self.skip(";;", ";&", ";;&")

    def function_keyword(self) -> Command:
        name = self.any_word("a function name")
        if _is_op(self.peek(), "("):
            self.index += 1
            self.expect_op(")")
        self.skip("\n")
        return FunctionDef(name.text, self.command())

    def conditional(self) -> Command:
        """``[[ ... ]]``: everything up to ``]]`` is arguments (``&&``, ``<`` included)."""
        words = [Word([Part("[[")])]
        while True:
            token = self.take()
            if token is None:
                raise ShellSyntaxError("'[[' is never closed with ']]'")
            if isinstance(token, Word):
                words.append(token)
                if token.is_plain("]]"):
                    return SimpleCommand([], words, self.redirects())

    def simple(self) -> Command:
        assignments: list[Word] = []
        words: list[Word] = []
        redirects: list[Redirect] = []
        while True:
            token = self.peek()
            if isinstance(token, Word):
                self.index += 1
                if not words and _is_assignment(token):
                    assignments.append(token)
                    if token.text.endswith("=") and _is_op(self.peek(), "("):
                        assignments += self.array_items()
                    continue
                words.append(token)
                if (
                    len(words) == 1
                    and not assignments
                    and _is_op(self.peek(), "(")
                    and _is_op(self.peek(1), ")")
                ):
                    self.index += 2
                    self.skip("\n")
                    return FunctionDef(token.text, self.command())
            elif isinstance(token, Op) and token.op in REDIRECTS:
                redirects.append(self.redirect())
            else:
                break
        if not (assignments or words or redirects):
            raise ShellSyntaxError(f"unexpected {_describe(self.peek())}")
        return SimpleCommand(assignments, words, redirects)

    def array_items(self) -> list[Word]:
        self.index += 1
        items: list[Word] = []
        while not _is_op(self.peek(), ")"):
            token = self.take()
            if token is None:
                raise ShellSyntaxError("an array assignment '=(' is never closed with ')'")
            if isinstance(token, Word):
                items.append(token)
        self.index += 1
        return items

    def redirect(self) -> Redirect:
        op = self.take()
        assert isinstance(op, Op)
        target = self.take()
        if not isinstance(target, Word):
            raise ShellSyntaxError(f"redirection '{op.op}' has no target (found {_describe(target)})")
        return Redirect(op.op, op.fd, target, op.heredoc)

    def redirects(self) -> list[Redirect]:
        found: list[Redirect] = []
        while isinstance(token := self.peek(), Op) and token.op in REDIRECTS:
            found.append(self.redirect())
        return found


_COMPOUND: dict[str, Callable[[_Parser], Command]] = {
    "{": _Parser.brace_group,
    "if": _Parser.if_clause,
    "while": _Parser.loop,
    "until": _Parser.loop,
    "for": _Parser.for_clause,
    "select": _Parser.for_clause,
    "case": _Parser.case_clause,
    "function": _Parser.function_keyword,
    "[[": _Parser.conditional,
}


def _is_assignment(word: Word) -> bool:
    first = word.parts[0] if word.parts else None
    return (
        first is not None and not first.quoted and not first.expansion and bool(_ASSIGNMENT.match(first.text))
    )
