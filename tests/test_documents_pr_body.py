"""The PR body as GitHub would show it, checked with a real CommonMark + GFM-table parser."""

import pytest

from documents import markdown as md
from documents.diffstat import diff_files
from documents.facts import FixFacts, PrDraft, RunFacts, TestFacts
from documents.pr_body import GITHUB_BODY_LIMIT, render_pr_body, render_pr_title
from tests.documents_fixtures import (
    HOSTILE_TEXT,
    HOSTILE_TITLE,
    ROOT_CAUSE,
    VERIFIED_CLAIM,
    budget_run,
    fix_fails_run,
    hostile_run,
    parse,
    tables,
    timeout_run,
    verified_run,
    walk,
)


def rows_by_first_cell(markdown: str) -> dict[str, list[str]]:
    return {row[0]: row[1:] for table in tables(markdown) for row in table}


def headings(markdown: str) -> list[str]:
    tokens = parse(markdown)
    return [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]


def test_verified_body_has_the_narrative_then_the_measured_facts() -> None:
    body = render_pr_body(verified_run())

    assert body.index("Refunds were parsed as charges") < body.index("What Nightshift measured")
    assert headings(body)[-4:] == ["Root cause", "Files changed", "Tests added", "Verification"]
    rows = rows_by_first_cell(body)
    assert rows["New tests on base"] == ["must fail", "0 passed, 2 failed"]
    assert rows["New tests with the fix"] == ["must pass", "2 passed, 0 failed"]
    assert rows["Existing suite on base"][1] == "41 passed, 0 failed, 1 skipped"
    assert rows["Existing suite with the fix"][1] == "41 passed, 0 failed, 1 skipped"
    assert rows["Verdict"] == ["verified"]
    assert rows["Fix attempts"] == ["1"] and rows["Revision"] == ["2"] and rows["Total cost"] == ["$0.42"]
    assert md.block(ROOT_CAUSE) in body
    fences = [t for t in parse(body) if t.type == "fence"]
    assert fences[0].content.splitlines()[0] == "billing/amounts.py | +4 -3"
    assert "`test_negative_amount_keeps_sign`" in body and "`tests/test_amounts.py`" in body
    hrefs = [t.attrs["href"] for t in walk(parse(body)) if t.type == "link_open"]
    assert "https://tracker.example.com/browse/PAY-42" in hrefs
    assert "did not finish" not in body and "[!WARNING]" not in body


@pytest.mark.parametrize("facts", [timeout_run(), fix_fails_run()], ids=["test-timeout", "fix-fails"])
def test_unverified_body_opens_with_a_warning_and_never_claims_verification(facts: RunFacts) -> None:
    body = render_pr_body(facts)

    assert body.startswith("> [!WARNING]\n> Not verified")
    assert VERIFIED_CLAIM.search(body) is None, VERIFIED_CLAIM.search(body)
    assert "(not verified)" in rows_by_first_cell(body)["Verdict"][0]


def test_timed_out_test_agent_is_named_with_its_reason() -> None:
    body = render_pr_body(timeout_run())

    assert "- **test agent**: timed out after 600s" in body
    assert "No tests were added." in body
    assert "New tests on base" not in body  # that phase was never measured


def test_failing_fix_shows_attempts_and_counts() -> None:
    body = render_pr_body(fix_fails_run())

    assert "still fail with the fix after 2 attempts" in body
    rows = rows_by_first_cell(body)
    assert rows["Fix attempts"] == ["2"]
    assert rows["New tests with the fix"] == ["must pass", "1 passed, 1 failed"]


def test_without_a_pr_draft_the_body_says_so_and_is_written_from_the_facts() -> None:
    body = render_pr_body(budget_run())

    assert body.startswith("> The PR agent was stopped when the budget ran out")
    assert "written by Nightshift from the run's facts" in body
    assert "Keep the sign and parse the magnitude." in body  # the code agent's explanation
    assert "The per-run budget ran out; agents were stopped." in body
    assert "- **PR agent**: was stopped when the budget ran out" in body
    assert render_pr_title(budget_run()) == "Fix PAY-42: Refunds show up as charges"
    assert render_pr_title(verified_run()) == "Keep the sign of negative amounts"


def test_hostile_text_cannot_break_tables_fences_links_or_hide_the_facts() -> None:
    facts = hostile_run()
    facts.pr_draft = PrDraft(title="t", body=HOSTILE_TEXT)  # unclosed fence and <details> in the narrative
    body = render_pr_body(facts)
    tokens = walk(parse(body))

    assert "What Nightshift measured" in headings(body)  # not swallowed by the narrative's open fence
    for table in tables(body):
        assert len({len(row) for row in table}) == 1
    assert rows_by_first_cell(body)["Ticket"] == [f"PAY-42: {HOSTILE_TITLE}"]
    hrefs = [t.attrs["href"] for t in tokens if t.type == "link_open"]
    assert all(str(href).startswith(("https://tracker.example.com", "http://127.0.0.1")) for href in hrefs)
    html = [t.content for t in tokens if t.type in ("html_inline", "html_block")]
    assert set(html) <= {"<sub>", "</sub>"}
    code = [t.content for t in tokens if t.type == "code_inline"]
    assert "test_`odd`_name" in code and "test | pipe" in code


def test_long_run_is_cut_to_fit_githubs_limit_with_a_note() -> None:
    diff = "".join(
        f"diff --git a/src/pkg_{i:04d}/module.py b/src/pkg_{i:04d}/module.py\n"
        f"--- a/src/pkg_{i:04d}/module.py\n+++ b/src/pkg_{i:04d}/module.py\n@@ -1 +1 @@\n-old\n+new\n"
        for i in range(1_000)
    )
    assert len(diff.splitlines()) >= 5_000
    facts = verified_run()
    facts.fix = FixFacts(root_cause="cause " * 5_000, explanation="x", diff=diff, files=diff_files(diff))
    facts.tests = TestFacts(
        test_files=["tests/t.py"], test_names=[f"test_{i}" for i in range(3_000)], notes="", diff="", files=[]
    )
    facts.pr_draft = PrDraft(title="t", body="narrative line\n" * 8_000)

    body = render_pr_body(facts)

    assert len(body) < GITHUB_BODY_LIMIT
    assert "cut to fit GitHub's 65,536-character limit" in body
    assert "What Nightshift measured" in headings(body)
    assert rows_by_first_cell(body)["New tests with the fix"] == ["must pass", "2 passed, 0 failed"]
    assert next(t for t in parse(body) if t.type == "fence").content.startswith("src/pkg_0000/module.py")


@pytest.mark.parametrize(
    "text",
    ["plain", "a ` b", "``double``", "`edge`", "x | y", "ends with `"],
)
def test_code_span_and_fence_show_their_content_exactly(text: str) -> None:
    (inline,) = (t for t in walk(parse(f"see {md.code_span(text)} here")) if t.type == "code_inline")
    assert inline.content.strip() == text.strip()
    (fence,) = (t for t in parse(md.fence(f"{text}\n```\n````", "text")) if t.type == "fence")
    assert fence.content == f"{text}\n```\n````\n"
