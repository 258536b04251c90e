"""The shell parser against real bash: words come out as bash makes them, substitutions are all found."""

import subprocess

import pytest

from safety.errors import ShellSyntaxError
from safety.shellparse import FunctionDef, Group, Pipeline, SimpleCommand, parse

WORDS = [
    pytest.param('"r""m"', id="double-quoted-pieces"),
    pytest.param("'r''m'", id="single-quoted-pieces"),
    pytest.param("\\r\\m", id="backslashes"),
    pytest.param("a\\ b 'c d' \"e f\"", id="escaped-and-quoted-spaces"),
    pytest.param("$'\\x72\\x6d' $'\\162\\155' $'\\u0041\\n' $'it\\'s'", id="ansi-c-quoting"),
    pytest.param("{rm,-rf,/}", id="brace-expansion-command"),
    pytest.param("x{a,b}y {a,{b,c}} {} {a} '{a,b}' a{,}b", id="brace-expansion-forms"),
    pytest.param('"{a,b}" \\{a,b\\} {a,b}"c"', id="brace-expansion-quoting"),
    pytest.param("a#b 'x'#y", id="hash-inside-word"),
    pytest.param("one\\\ntwo", id="line-continuation"),
    pytest.param('"a\'b" \'a"b\' "a\\"b" "a\\$b"', id="quotes-in-quotes"),
    pytest.param("''  \"\" x", id="empty-words"),
]


def _bash_words(source: str) -> list[str]:
    """The words bash makes of ``source`` (no expansions in it), printed one per line."""
    script = f"for w in {source}; do printf '%s\\0' \"$w\"; done"
    output = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, check=True, timeout=10
    ).stdout
    return output.split("\0")[:-1]


@pytest.mark.parametrize("source", WORDS)
def test_words_are_split_and_unquoted_like_bash(source: str) -> None:
    [pipeline] = parse(f"printf x {source}")
    [command] = pipeline.commands
    assert isinstance(command, SimpleCommand)
    ours = [text for word in command.words[2:] for text in word.expand_braces()]
    assert ours == _bash_words(source)


def _substitutions(source: str) -> list[str]:
    found: list[str] = []
    for pipeline in parse(source):
        for command in pipeline.commands:
            assert isinstance(command, SimpleCommand)
            for word in command.words + command.assignments + [r.target for r in command.redirects]:
                found += word.substitutions
            for redirect in command.redirects:
                found += redirect.heredoc.substitutions if redirect.heredoc else []
    return found


SUBSTITUTIONS = [
    pytest.param("echo $(a)", ["a"], id="dollar-paren"),
    pytest.param("echo `b`", ["b"], id="backticks"),
    pytest.param('echo "x $(c) `d`"', ["c", "d"], id="inside-double-quotes"),
    pytest.param("echo '$(no)' \"\\$(no2)\" \\`no3\\`", [], id="single-quoted-and-escaped"),
    pytest.param("echo ${x:-$(e)}", ["e"], id="inside-parameter-default"),
    pytest.param("echo $((1 + $(f)))", ["f"], id="inside-arithmetic"),
    pytest.param("diff <(g) >(h)", ["g", "h"], id="process-substitution"),
    pytest.param("echo $(i $(j))", ["i $(j)"], id="nested-kept-for-recursion"),
    pytest.param("echo $(k ')')", ["k ')'"], id="quoted-paren-inside"),
    pytest.param("X=$(l) Y=`m` cmd", ["l", "m"], id="assignments"),
    pytest.param("cat <<EOF\n$(n)\nEOF", ["n"], id="unquoted-here-document"),
    pytest.param("cat <<'EOF'\n$(no)\nEOF", [], id="quoted-here-document"),
    pytest.param("cat > $(o)", ["o"], id="redirect-target"),
]


@pytest.mark.parametrize(("source", "expected"), SUBSTITUTIONS)
def test_every_command_substitution_is_found(source: str, expected: list[str]) -> None:
    assert _substitutions(source) == expected


def test_compound_commands_and_function_definitions() -> None:
    script = "if a; then b; elif c; then d; else e; fi; for x in 1 2; do f; done | g; h() { i; }; (j) > out"
    pipelines = parse(script)
    assert len(pipelines) == 4
    first = pipelines[0].commands[0]
    assert isinstance(first, Group) and len(first.body) == 5
    assert [type(c) for c in pipelines[1].commands] == [Group, SimpleCommand]
    definition = pipelines[2].commands[0]
    assert isinstance(definition, FunctionDef) and definition.name == "h"
    subshell = pipelines[3].commands[0]
    assert isinstance(subshell, Group) and subshell.redirects[0].target.text == "out"


def test_here_document_bodies_are_read_at_the_end_of_the_line() -> None:
    [first, second, third] = parse("cat <<-EOF | wc -l; echo after\n\tline one\n\tEOF\necho next")
    command = first.commands[0]
    assert isinstance(command, SimpleCommand)
    heredoc = command.redirects[0].heredoc
    assert heredoc is not None and heredoc.body == "line one"
    assert len(first.commands) == 2
    assert _texts(second) == ["echo", "after"]
    assert _texts(third) == ["echo", "next"]


def _texts(pipeline: Pipeline) -> list[str]:
    return [
        word.text
        for command in pipeline.commands
        if isinstance(command, SimpleCommand)
        for word in command.words
    ]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        pytest.param("echo 'x", "single quote", id="single-quote"),
        pytest.param('echo "x', "double quote", id="double-quote"),
        pytest.param("echo $'x", "$'...'", id="ansi-c-quote"),
        pytest.param("echo ${x", "'${'", id="parameter"),
        pytest.param("a | | b", "unexpected '|'", id="empty-pipeline-stage"),
        pytest.param("cat <<", "no delimiter", id="here-document-without-delimiter"),
        pytest.param("echo > ", "has no target", id="redirect-without-target"),
        pytest.param("{ ls", "expected '}'", id="unclosed-group"),
        pytest.param("case x in a) ls", "expected", id="unclosed-case"),
    ],
)
def test_syntax_errors_name_the_problem(source: str, message: str) -> None:
    with pytest.raises(ShellSyntaxError) as error:
        parse(source)
    assert message in str(error.value)
