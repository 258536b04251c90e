"""Atlassian Document Format: readable text for the agents, and ADF for the comments we post."""

from integrations.adf import adf_to_text, text_to_adf
from tests.fakes.jira import RICH_DESCRIPTION

RICH_TEXT = """\
## What happens

Completing a todo twice reopens it. @Dana Reporter saw it in prod, see the dashboard \
(https://grafana.example.com/d/todos) :fire:

1. Create a todo
2. Call `complete()` twice

- expected: completed
  - stays completed
- actual: open again

```python
todo.complete()
todo.complete()
assert todo.completed
```

call | completed
second | False

Trace: https://sentry.example.com/issues/42
since release 1.4"""


def test_a_rich_jira_description_reads_as_structured_plain_text() -> None:
    assert adf_to_text(RICH_DESCRIPTION) == RICH_TEXT


def test_a_plain_string_description_is_kept_and_an_empty_one_is_empty() -> None:
    assert adf_to_text("Completing twice\n  reopens it") == "Completing twice\n  reopens it"
    assert adf_to_text(None) == ""
    assert adf_to_text({"type": "doc", "version": 1, "content": []}) == ""


def test_code_in_a_code_block_keeps_its_indentation_and_blank_lines() -> None:
    code = "def f():\n    return 1\n\n\nprint(f())"
    doc = {
        "type": "doc",
        "version": 1,
        "content": [{"type": "codeBlock", "content": [{"type": "text", "text": code}]}],
    }
    assert adf_to_text(doc) == f"```\n{code}\n```"


def test_unknown_nodes_still_give_their_text_and_quotes_are_marked() -> None:
    doc = {
        "type": "doc",
        "version": 1,
        "content": [
            {
                "type": "someFutureBlock",
                "content": [{"type": "paragraph", "content": [{"type": "text", "text": "kept"}]}],
            },
            {
                "type": "panel",
                "attrs": {"panelType": "warning"},
                "content": [{"type": "paragraph", "content": [{"type": "text", "text": "prod only"}]}],
            },
            {
                "type": "orderedList",
                "attrs": {"order": 3},
                "content": [
                    {
                        "type": "listItem",
                        "content": [{"type": "paragraph", "content": [{"type": "text", "text": "third"}]}],
                    }
                ],
            },
        ],
    }
    assert adf_to_text(doc) == "kept\n\n> prod only\n\n3. third"


def test_text_to_adf_makes_paragraphs_line_breaks_and_links() -> None:
    doc = text_to_adf("Nightshift opened https://github.com/acme/todo/pull/7.\n\nSecond\nline")
    assert doc["type"] == "doc" and doc["version"] == 1
    first, second = doc["content"]
    assert first["content"] == [
        {"type": "text", "text": "Nightshift opened "},
        {
            "type": "text",
            "text": "https://github.com/acme/todo/pull/7",
            "marks": [{"type": "link", "attrs": {"href": "https://github.com/acme/todo/pull/7"}}],
        },
        {"type": "text", "text": "."},
    ]
    assert [node["type"] for node in second["content"]] == ["text", "hardBreak", "text"]


def test_text_round_trips_and_links_are_appended_as_labels() -> None:
    text = "Fix verified.\n\nTwo tests added\nboth pass"
    assert adf_to_text(text_to_adf(text)) == text
    doc = text_to_adf(text, links={"Nightshift run": "https://ns.example.com/runs/r1"})
    last = doc["content"][-1]["content"]
    assert last == [
        {
            "type": "text",
            "text": "Nightshift run",
            "marks": [{"type": "link", "attrs": {"href": "https://ns.example.com/runs/r1"}}],
        }
    ]
    assert adf_to_text(doc).endswith("\n\nNightshift run (https://ns.example.com/runs/r1)")


def test_empty_text_is_still_a_valid_document() -> None:
    assert text_to_adf("  \n\n ") == {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": []}],
    }
