"""The lexer of the shell parser: bash words and operators, with quoting and substitutions kept.

For every word the lexer keeps which parts are quoted and which are expansions, plus the source of
every command substitution (``$(...)``, backticks, ``<(...)``, ``>(...)``, also inside double quotes,
``${...}``, ``$((...))`` and unquoted here-documents) so that the safety check analyses them as
commands too. ``$'...'`` is decoded as bash does (``$'\\x72\\x6d'`` is the word ``rm``), comments
and line continuations are dropped, here-document bodies are read at the end of their line.
"""

import itertools
import re
from dataclasses import dataclass, field

from safety.errors import ShellSyntaxError

MAX_NESTING = 64
"""Deepest nesting of groups and substitutions the parser follows before refusing."""
MAX_BRACE_WORDS = 256
"""Most words one brace expansion (``{a,b}``) may make; more is refused, never cut short."""
REDIRECTS = frozenset({"<", ">", ">>", "<<", "<<-", "<<<", "<&", ">&", "<>", ">|", "&>", "&>>"})
_OPERATORS = (
    "&>>", "<<<", "<<-", ";;&", "&&", "||", ";;", ";&", "|&", ">>", "<<", "<&", ">&", "<>", ">|", "&>",
    "|", "&", ";", "(", ")", "<", ">",
)  # fmt: skip
_METACHARS = frozenset(" \t\n|&;()<>")
_IO_NUMBER = re.compile(r"\d+(?=[<>])")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEX = re.compile(r"[0-9a-fA-F]{1,2}")
_OCTAL = re.compile(r"[0-7]{1,3}")
_UNICODE = re.compile(r"[0-9a-fA-F]{1,8}")
_ANSI_SIMPLE = {
    "n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v", "e": "\x1b", "E": "\x1b",
    "\\": "\\", "'": "'", '"': '"', "?": "?",
}  # fmt: skip


@dataclass(frozen=True)
class Part:
    """A piece of a word: literal text (quoted or not) or the source of an expansion (``$X``, ``$(..)``)."""

    text: str
    quoted: bool = False
    expansion: bool = False


@dataclass
class Word:
    """One shell word. ``text`` is its value after quote removal, expansions kept as their source."""

    parts: list[Part]
    substitutions: list[str] = field(default_factory=list)
    """Source of every command and process substitution in the word, to be checked as commands."""
    evaluates: bool = False
    """Makes bash evaluate text as arithmetic, a subscript, an indirection or a prompt (``$((x))``,
    ``${a[i]}``, ``${s:n}``, ``${!x}``, ``${x@P}``): a variable's value can then run commands."""

    @property
    def text(self) -> str:
        return "".join(part.text for part in self.parts)

    @property
    def has_expansion(self) -> bool:
        """Whether the value is only known at run time (a variable or a command substitution)."""
        return any(part.expansion for part in self.parts)

    @property
    def quoted(self) -> bool:
        return any(part.quoted for part in self.parts)

    def is_plain(self, *names: str) -> bool:
        """Whether the word is one of ``names``, unquoted and without expansions (a reserved word)."""
        return not self.quoted and not self.has_expansion and self.text in names

    def expand_braces(self) -> list[str]:
        """The words bash makes of this one by brace expansion (``{rm,-rf,/}`` -> rm, -rf, /)."""
        items: list[tuple[str, bool]] = []
        for part in self.parts:
            if part.quoted or part.expansion:
                items.append((part.text, False))
            else:
                items.extend((char, True) for char in part.text)
        return _brace_expand(items)


@dataclass
class Heredoc:
    """A here-document; ``body`` is filled in when the lexer reaches the end of the line."""

    delimiter: str
    strip_tabs: bool
    quoted: bool
    body: str = ""
    substitutions: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Op:
    op: str
    fd: int | None = None
    heredoc: Heredoc | None = None


Token = Word | Op


def _evaluating(parameter: str) -> bool:
    """Whether ``${parameter}`` evaluates text: indirection, subscripts, transformations, offsets."""
    if parameter.startswith("!") or "[" in parameter or "@" in parameter:
        return True
    offset = re.match(r"(?:[A-Za-z_]\w*|\d+):(?![-=?+])(.*)", parameter, re.DOTALL)
    return offset is not None and not re.fullmatch(r"\s*-?\d+(\s*:\s*-?\d+)?\s*", offset.group(1))


def substitutions_in(text: str, depth: int = 0) -> list[str]:
    """The command substitutions bash runs when it expands ``text`` like a double-quoted string (the
    body of an unquoted here-document, a prompt string such as ``PS4``)."""
    builder = _WordBuilder()
    _Lexer(text, depth=depth)._double_quoted(builder, closing_quote=False)
    return builder.substitutions


def tokenize(source: str) -> list[Token]:
    """Split ``source`` into words and operators; raise ``ShellSyntaxError`` when it cannot."""
    return _Lexer(source).run()


class _WordBuilder:
    def __init__(self) -> None:
        self.parts: list[Part] = []
        self.substitutions: list[str] = []
        self.evaluates = False

    def add(self, text: str, *, quoted: bool = False, expansion: bool = False) -> None:
        last = self.parts[-1] if self.parts else None
        if last is not None and not expansion and not last.expansion and last.quoted == quoted:
            self.parts[-1] = Part(last.text + text, quoted)
        else:
            self.parts.append(Part(text, quoted, expansion))


class _Lexer:
    """Turns source text into words and operators; ``nested`` lexers stop at the unmatched ``)``."""

    def __init__(self, src: str, pos: int = 0, *, nested: bool = False, depth: int = 0) -> None:
        if depth > MAX_NESTING:
            raise ShellSyntaxError(f"the command nests $(...) more than {MAX_NESTING} deep")
        self.src = src
        self.pos = pos
        self.nested = nested
        self.depth = depth
        self.tokens: list[Token] = []
        self._pending: list[Heredoc] = []

    def run(self) -> list[Token]:
        src = self.src
        parens = 0
        while self.pos < len(src):
            char = src[self.pos]
            if char in " \t":
                self.pos += 1
            elif src.startswith("\\\n", self.pos):
                self.pos += 2
            elif char == "#":
                end = src.find("\n", self.pos)
                self.pos = len(src) if end < 0 else end
            elif char == "\n":
                self.pos += 1
                self.tokens.append(Op("\n"))
                self._read_heredocs()
            elif char in "<>" and src.startswith("(", self.pos + 1):
                self.tokens.append(self._word())
            elif (number := _IO_NUMBER.match(src, self.pos)) and not src.startswith("(", number.end() + 1):
                self.pos = number.end()
                self._operator(int(number.group()))
            elif char in "|&;()<>":
                if self.nested and char in "()":
                    parens += 1 if char == "(" else -1
                    if parens < 0:
                        self.pos += 1
                        return self.tokens
                self._operator(None)
            else:
                self.tokens.append(self._word())
        if self.nested:
            raise ShellSyntaxError("unbalanced '$(' or '<(': a ')' is missing")
        self._read_heredocs()
        return self.tokens

    def _operator(self, fd: int | None) -> None:
        op = next(o for o in _OPERATORS if self.src.startswith(o, self.pos))
        self.pos += len(op)
        if op not in ("<<", "<<-"):
            self.tokens.append(Op(op, fd))
            return
        while self.pos < len(self.src) and self.src[self.pos] in " \t":
            self.pos += 1
        if self.pos >= len(self.src) or self.src[self.pos] in _METACHARS:
            raise ShellSyntaxError(f"here-document '{op}' has no delimiter word")
        delimiter = self._word()
        heredoc = Heredoc(delimiter.text, op == "<<-", delimiter.quoted)
        self.tokens += [Op(op, fd, heredoc), delimiter]
        self._pending.append(heredoc)

    def _read_heredocs(self) -> None:
        """Read the bodies of the here-documents started on the line just ended (or at the end)."""
        src = self.src
        for heredoc in self._pending:
            lines: list[str] = []
            while self.pos < len(src):
                end = src.find("\n", self.pos)
                end = len(src) if end < 0 else end
                line = src[self.pos : end]
                self.pos = end + 1
                if heredoc.strip_tabs:
                    line = line.lstrip("\t")
                if line == heredoc.delimiter:
                    break
                lines.append(line)
            heredoc.body = "\n".join(lines)
            if not heredoc.quoted:
                heredoc.substitutions = substitutions_in(heredoc.body, self.depth + 1)
        self._pending = []

    def _word(self) -> Word:
        src = self.src
        builder = _WordBuilder()
        while self.pos < len(src):
            char = src[self.pos]
            if char in "<>" and not builder.parts and src.startswith("(", self.pos + 1):
                start = self.pos
                body, _ = self._balanced(self.pos + 2)
                builder.add(src[start : self.pos], expansion=True)
                builder.substitutions.append(body)
            elif char in _METACHARS:
                break
            elif char == "\\":
                escaped = src[self.pos + 1 : self.pos + 2]
                if escaped != "\n":
                    builder.add(escaped or "\\", quoted=True)
                self.pos += 2
            elif char == "'":
                end = src.find("'", self.pos + 1)
                if end < 0:
                    raise ShellSyntaxError("unbalanced single quote: a ' is never closed")
                builder.add(src[self.pos + 1 : end], quoted=True)
                self.pos = end + 1
            elif char == '"':
                self.pos += 1
                self._double_quoted(builder, closing_quote=True)
            elif char == "$":
                self._dollar(builder, in_quotes=False)
            elif char == "`":
                self._backtick(builder, in_quotes=False)
            else:
                builder.add(char)
                self.pos += 1
        return Word(builder.parts, builder.substitutions, builder.evaluates)

    def _double_quoted(self, builder: _WordBuilder, *, closing_quote: bool) -> None:
        """Read up to the closing ``"`` (or, for here-document bodies, to the end)."""
        src = self.src
        escapable = '$`"\\\n' if closing_quote else "$`\\\n"
        while self.pos < len(src):
            char = src[self.pos]
            if char == '"' and closing_quote:
                self.pos += 1
                return
            if char == "\\" and src[self.pos + 1 : self.pos + 2] and src[self.pos + 1] in escapable:
                if src[self.pos + 1] != "\n":
                    builder.add(src[self.pos + 1], quoted=True)
                self.pos += 2
            elif char == "$":
                self._dollar(builder, in_quotes=True)
            elif char == "`":
                self._backtick(builder, in_quotes=True)
            else:
                builder.add(char, quoted=True)
                self.pos += 1
        if closing_quote:
            raise ShellSyntaxError('unbalanced double quote: a " is never closed')

    def _dollar(self, builder: _WordBuilder, *, in_quotes: bool) -> None:
        src, start = self.src, self.pos
        after = src[start + 1 : start + 2]
        if after == "(":
            arithmetic = src.startswith("((", start + 1)
            body, tokens = self._balanced(start + 2)
            if arithmetic:  # $(( ... )): only the substitutions inside run commands
                builder.evaluates = True
                for token in tokens:
                    if isinstance(token, Word):
                        builder.substitutions.extend(token.substitutions)
            else:
                builder.substitutions.append(body)
        elif after == "{":
            self._parameter(builder, start + 2)
        elif after == "'" and not in_quotes:
            builder.add(self._ansi_c(start + 2), quoted=True)
            return
        elif after == '"' and not in_quotes:
            self.pos = start + 2
            self._double_quoted(builder, closing_quote=True)
            return
        elif after and (name := _NAME.match(src, start + 1)):
            self.pos = name.end()
        elif after and after in "0123456789@*#?$!-":
            self.pos = start + 2
        else:
            builder.evaluates = builder.evaluates or after == "["  # $[ ... ], old arithmetic
            builder.add("$", quoted=in_quotes)
            self.pos = start + 1
            return
        builder.add(src[start : self.pos], quoted=in_quotes, expansion=True)

    def _balanced(self, pos: int) -> tuple[str, list[Token]]:
        """Lex from ``pos`` to the unmatched ``)``; return the text between and its tokens."""
        inner = _Lexer(self.src, pos, nested=True, depth=self.depth + 1)
        tokens = inner.run()
        self.pos = inner.pos
        return self.src[pos : inner.pos - 1], tokens

    def _parameter(self, builder: _WordBuilder, pos: int) -> None:
        """``${...}``: find the closing brace, collecting substitutions inside (``${x:-$(cmd)}``)."""
        src = self.src
        inner = _WordBuilder()
        self.pos = pos
        while self.pos < len(src):
            char = src[self.pos]
            if char == "}":
                self.pos += 1
                builder.substitutions.extend(inner.substitutions)
                builder.evaluates = (
                    builder.evaluates or inner.evaluates or _evaluating(src[pos : self.pos - 1])
                )
                return
            if char == "\\":
                self.pos += 2
            elif char == "'":
                end = src.find("'", self.pos + 1)
                if end < 0:
                    raise ShellSyntaxError("unbalanced single quote inside '${...}'")
                self.pos = end + 1
            elif char == '"':
                self.pos += 1
                self._double_quoted(inner, closing_quote=True)
            elif char == "$":
                self._dollar(inner, in_quotes=True)
            elif char == "`":
                self._backtick(inner, in_quotes=True)
            else:
                self.pos += 1
        raise ShellSyntaxError("unbalanced '${': a '}' is missing")

    def _ansi_c(self, pos: int) -> str:
        """Decode ``$'...'`` from ``pos`` (after the quote), as bash does: ``$'\\x72\\155'`` is ``rm``."""
        src, out = self.src, list[str]()
        while pos < len(src):
            char = src[pos]
            if char == "'":
                self.pos = pos + 1
                return "".join(out)
            if char != "\\" or pos + 1 >= len(src):
                out.append(char)
                pos += 1
                continue
            escape = src[pos + 1]
            if escape in _ANSI_SIMPLE:
                out.append(_ANSI_SIMPLE[escape])
                pos += 2
            elif escape == "x" and (digits := _HEX.match(src, pos + 2)):
                out.append(chr(int(digits.group(), 16)))
                pos = digits.end()
            elif digits := _OCTAL.match(src, pos + 1):
                out.append(chr(int(digits.group(), 8) & 0xFF))
                pos = digits.end()
            elif escape in "uU" and (digits := _UNICODE.match(src, pos + 2)):
                out.append(chr(min(int(digits.group(), 16), 0x10FFFF)))
                pos = digits.end()
            elif escape == "c" and pos + 2 < len(src):
                out.append(chr(ord(src[pos + 2]) & 0x1F))
                pos += 3
            else:
                out.append("\\" + escape)
                pos += 2
        raise ShellSyntaxError("unbalanced $'...' quote: the ' is never closed")

    def _backtick(self, builder: _WordBuilder, *, in_quotes: bool) -> None:
        src, start = self.src, self.pos
        pos, body = start + 1, []
        while pos < len(src):
            char = src[pos]
            if char == "\\" and src[pos + 1 : pos + 2] in ("$", "`", "\\"):
                body.append(src[pos + 1])
                pos += 2
            elif char == "`":
                self.pos = pos + 1
                builder.add(src[start : self.pos], quoted=in_quotes, expansion=True)
                builder.substitutions.append("".join(body))
                return
            else:
                body.append(char)
                pos += 1
        raise ShellSyntaxError("unbalanced backtick: a ` is never closed")


def _brace_expand(items: list[tuple[str, bool]]) -> list[str]:
    """Expand the first active ``{a,b}`` (recursively); items are (text, active) with active = unquoted."""
    for start, (char, active) in enumerate(items):
        if not (active and char == "{"):
            continue
        depth, commas, end = 0, [], -1
        for index in range(start, len(items)):
            text, is_active = items[index]
            if not is_active:
                continue
            if text == "{":
                depth += 1
            elif text == "}":
                depth -= 1
                if depth == 0:
                    end = index
                    break
            elif text == "," and depth == 1:
                commas.append(index)
        if end < 0 or not commas:
            continue
        bounds = [start, *commas, end]
        words: list[str] = []
        for left, right in itertools.pairwise(bounds):
            words += _brace_expand(items[:start] + items[left + 1 : right] + items[end + 1 :])
            if len(words) > MAX_BRACE_WORDS:  # never truncate: the word after the cut could be '/'
                raise ShellSyntaxError(f"a brace expansion makes more than {MAX_BRACE_WORDS} words")
        return words
    return ["".join(text for text, _ in items)]
