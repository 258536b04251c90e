"""Shell words: a command line split into simple commands, for the intent checks.

``shlex`` does the quoting (POSIX rules). The shell's operators are then split out of its runs of
punctuation, so ``a&&b``, ``(ls);rm x`` and ``:(){ :|:& };:`` come apart where bash splits them.
Here-document bodies are dropped first: they are text, not commands. So are comments.

This reads plain commands; it is not bash's parser. It expands nothing, and a quoted word made only of
operator characters (``grep ';' f``) splits like the operator. The sandbox is the wall
(docs/safety.md); what this module misses costs a clear message, never containment.
"""

import re
import shlex

_PUNCTUATION = frozenset(";&|()<>")
_OPERATORS = sorted(
    ";; ;& ;;& && || |& >> << <<< >& <& &> &>> >| <> ; & | ( ) < >".split(), key=len, reverse=True
)
"""Every operator bash knows, longest first (so ``&&`` is taken before ``&``)."""
REDIRECTIONS = frozenset(">> << <<< >& <& &> &>> >| <> < >".split())
"""Operators whose next word is a file or a here-document delimiter, not an argument."""
_RESERVED = frozenset("if then else elif fi do done while until esac { } ! time".split())
"""Words that may stand before a command without being its program."""
_NOT_A_CALL = frozenset("for case select function in".split())
"""Commands starting with these are loop heads and definitions, not calls of a program."""
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\+?=")
_HERE_DOCUMENT = re.compile(r"(?<!<)<<(?!<)(-?)\s*(['\"]?)([A-Za-z0-9_.-]+)\2")


def tokens(command: str) -> list[str]:
    """Words and operators of ``command``, quotes removed; ``ValueError`` for an unclosed quote.

    Line continuations are joined and every newline gets a ``;``, which ends a command as the newline
    does and survives shlex's comment handling (a comment swallows its newline).
    """
    text = _without_here_documents(command).replace("\\\n", "").replace("\n", "\n;")
    lexer = shlex.shlex(text, posix=True, punctuation_chars="".join(sorted(_PUNCTUATION)))
    lexer.whitespace_split = True
    found: list[str] = []
    for token in lexer:
        found.extend(_split_operators(token) if token and set(token) <= _PUNCTUATION else [token])
    return found


def is_operator(token: str) -> bool:
    return token in _OPERATORS


def split_commands(words: list[str]) -> list[list[str]]:
    """The simple commands in ``words`` (from ``tokens``) as argv lists.

    Redirections and their targets, leading reserved words and ``NAME=value`` assignments are left out;
    loop heads and definitions (``for x in ...``) are not commands.
    """
    commands: list[list[str]] = []
    current: list[str] = []
    skip_target = False
    for word in words:
        if skip_target and not is_operator(word):
            skip_target = False
        elif word in REDIRECTIONS:
            skip_target = True
            if current and current[-1].isdigit():
                current.pop()  # the file descriptor of '2>' is no argument
        elif is_operator(word):
            commands.append(current)
            current, skip_target = [], False
        else:
            current.append(word)
    commands.append(current)
    return [argv for argv in map(_program_call, commands) if argv]


def _program_call(argv: list[str]) -> list[str]:
    start = 0
    while start < len(argv) and (argv[start] in _RESERVED or _ASSIGNMENT.match(argv[start])):
        start += 1
    argv = argv[start:]
    return [] if argv and argv[0] in _NOT_A_CALL else argv


def _split_operators(run: str) -> list[str]:
    """``run`` (only punctuation characters) as operators, longest match first."""
    found = []
    while run:
        operator = next(op for op in _OPERATORS if run.startswith(op))
        found.append(operator)
        run = run[len(operator) :]
    return found


def _without_here_documents(command: str) -> str:
    """``command`` without the bodies (and closing lines) of its here-documents."""
    kept: list[str] = []
    pending: list[tuple[str, bool]] = []
    """Delimiters still open, in order, and whether leading tabs are stripped (``<<-``)."""
    for line in command.split("\n"):
        if pending:
            delimiter, strip_tabs = pending[0]
            if (line.lstrip("\t") if strip_tabs else line) == delimiter:
                pending.pop(0)
            continue
        kept.append(line)
        pending = [(match[3], bool(match[1])) for match in _HERE_DOCUMENT.finditer(line)]
    return "\n".join(kept)
