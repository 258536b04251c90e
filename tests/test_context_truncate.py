"""truncate_output: long tool outputs keep head and tail, with a note that says how to read the rest."""

import re

import pytest

from context import truncate_output
from context.truncate import DEFAULT_HINT

_NOTE = re.compile(
    r"\[\.\.\. (?P<omitted>[\d,]+) of (?P<total>[\d,]+) characters \((?P<lines>[\d,]+) lines\) omitted; "
    r"(?P<hint>.*) \.\.\.\]\n"
)


def _split(text: str, result: str) -> tuple[str, re.Match[str], str]:
    """Head, note and tail of a truncated ``text``; the note starts on a line of its own."""
    match = _NOTE.search(result)
    assert match is not None, result
    head = result[: match.start()]
    assert head == "" or head.endswith("\n")
    if not text.startswith(head):  # the head was cut inside a line: a newline was added before the note
        head = head[:-1]
    return head, match, result[match.end() :]


def _numbered_lines(count: int) -> str:
    return "".join(f"line {i:04d} of the output\n" for i in range(count))


@pytest.mark.parametrize("size", [0, 10, 300])
def test_text_that_fits_is_returned_unchanged(size: int) -> None:
    text = "x" * size
    assert truncate_output(text, 300) is text


def test_long_output_keeps_head_and_tail_at_line_boundaries() -> None:
    text = _numbered_lines(200)
    result = truncate_output(text, 600)

    head, note, tail = _split(text, result)
    assert text.startswith(head) and text.endswith(tail)
    assert len(head) + len(tail) <= 600
    assert head.endswith("\n") and tail.startswith("line ")
    assert head.startswith("line 0000") and tail.endswith("line 0199 of the output\n")
    assert len(head) > len(tail)  # about two thirds for the head
    omitted = text[len(head) : len(text) - len(tail)]
    assert int(note["omitted"].replace(",", "")) == len(omitted)
    assert int(note["total"].replace(",", "")) == len(text)
    assert (
        int(note["lines"].replace(",", ""))
        == omitted.count("\n")
        == 200 - head.count("\n") - tail.count("\n")
    )


def test_note_carries_the_callers_hint_or_tells_the_model_to_narrow_the_command() -> None:
    text = _numbered_lines(100)

    _, with_hint, _ = _split(
        text, truncate_output(text, 400, hint="use read_file with offset=120 to read more")
    )
    _, default, _ = _split(text, truncate_output(text, 400))

    assert with_hint["hint"] == "use read_file with offset=120 to read more"
    assert default["hint"] == DEFAULT_HINT
    assert "narrow" in DEFAULT_HINT


def test_one_huge_line_is_cut_inside_the_line_without_exceeding_the_budget() -> None:
    text = "a" * 5_000 + "END"
    result = truncate_output(text, 300)

    head, note, tail = _split(text, result)
    assert len(head) + len(tail) == 300
    assert tail.endswith("END")
    assert note["lines"] == "1"
    assert note["omitted"] == "4,703"


def test_boundary_far_from_the_budget_is_not_used_so_little_is_lost() -> None:
    # A newline near the very start must not shrink the head to a few characters.
    text = "short\n" + "b" * 3_000 + "\n" + "c" * 3_000
    head, _, tail = _split(text, truncate_output(text, 900))

    assert len(head) == 600
    assert len(tail) == 300
