"""The shell words the intent checks read: simple commands split where bash splits them."""

import pytest

from safety.shellwords import split_commands, tokens

COMMANDS = [
    pytest.param("a&&b||c;d|e&f", [["a"], ["b"], ["c"], ["d"], ["e"], ["f"]], id="operators-without-spaces"),
    pytest.param("(a);{ b; }\nc", [["a"], ["b"], ["c"]], id="subshell-group-newline"),
    pytest.param("'r''m' \"-r\"f x\\ y", [["rm", "-rf", "x y"]], id="quotes-and-escapes-removed"),
    pytest.param("echo 'a; b' \"c|d\"", [["echo", "a; b", "c|d"]], id="operators-inside-quotes-are-text"),
    pytest.param("ls >out 2>&1 <in; cat <<<x", [["ls"], ["cat"]], id="redirections-left-out"),
    pytest.param("FOO=1 BAR+=2 make test", [["make", "test"]], id="assignments-left-out"),
    pytest.param("if a; then b; elif c; else ! d; fi", [["a"], ["b"], ["c"], ["d"]], id="if-reserved-words"),
    pytest.param("for x in a b; do c $x; done", [["c", "$x"]], id="for-head-is-no-call"),
    pytest.param("case x in y) z;; esac", [["z"]], id="case-arm"),
    pytest.param("a $(b c)", [["a", "$"], ["b", "c"]], id="command-substitution-split-out"),
    pytest.param("a # b; c\nd", [["a"], ["d"]], id="comment-to-end-of-line"),
    pytest.param("a \\\n  b", [["a", "b"]], id="line-continuation"),
    pytest.param("cat <<EOF >f\nx; rm -rf /\nEOF\nls", [["cat"], ["ls"]], id="here-document-body-dropped"),
    pytest.param("cat <<-'E' && b\n\tit's\n\tE\nc", [["cat"], ["b"], ["c"]], id="tab-stripped-here-document"),
]


@pytest.mark.parametrize(("command", "expected"), COMMANDS)
def test_simple_commands_come_out_as_bash_runs_them(command: str, expected: list[list[str]]) -> None:
    assert split_commands(tokens(command)) == expected


def test_an_unclosed_quote_is_an_error_with_shlex_reason() -> None:
    with pytest.raises(ValueError, match="No closing quotation"):
        tokens("echo 'unterminated")
