"""The incident report, read back with a real CommonMark + GFM-table parser."""

from documents.facts import RunFacts
from documents.report import render_report
from tests.documents_fixtures import (
    FIX_DIFF,
    HOSTILE_TEXT,
    HOSTILE_TITLE,
    TEST_DIFF,
    VERIFIED_CLAIM,
    budget_run,
    fix_fails_run,
    hostile_run,
    parse,
    plain,
    tables,
    timeout_run,
    verified_run,
    walk,
)


def table_with(markdown: str, header: str) -> list[list[str]]:
    (found,) = (table for table in tables(markdown) if table[0][0] == header)
    return found


def fences(markdown: str) -> list[tuple[str, str]]:
    return [(t.info, t.content) for t in parse(markdown) if t.type == "fence"]


def heading_texts(markdown: str) -> list[str]:
    tokens = parse(markdown)
    return [plain(tokens[i + 1]) for i, t in enumerate(tokens) if t.type == "heading_open"]


def test_timeline_merges_events_with_agent_starts_finishes_and_durations() -> None:
    report = render_report(verified_run())
    rows = table_with(report, "Time")[1:]

    assert rows[0] == ["2024-05-01 01:59:55 UTC", "Ticket PAY-42 received from Jira", ""]
    assert ["2024-05-01 02:04:30 UTC", "code agent submitted", "270s"] in rows
    assert ["2024-05-01 02:05:30 UTC", "PR agent submitted", "30s"] in rows
    assert [row[0] for row in rows] == sorted(row[0] for row in rows)


def test_report_has_triage_fix_diff_tests_verification_decisions_and_cost() -> None:
    report = render_report(verified_run())

    assert heading_texts(report)[0] == "Incident report: PAY-42: Refunds show up as charges"
    assert ("diff", FIX_DIFF) in fences(report) and ("diff", TEST_DIFF) in fences(report)
    assert ("text", "FAILED tests/test_amounts.py::test_negative_amount_keeps_sign\n") in fences(report)
    assert "Output: New tests on base" in heading_texts(report)
    assert "- Priority: P1\n- Component: billing" in report
    assert "- negative amounts keep their sign" in report and "- thousands separators" in report
    phases = table_with(report, "Phase")
    assert phases[1] == ["New tests on base", "must fail", "0", "2", "0", "0", "no", "1.6s"]
    assert phases[3][0] == "Existing suite on base" and phases[3][-1] == "12s, reused from an earlier run"
    assert "- 2024-05-01 02:20:00 UTC: **requested changes** by alice" in report
    assert ("text", "Also handle '+' signs.\n") in fences(report)
    costs = table_with(report, "Agent")
    assert costs[2][:2] == ["code agent", "submitted"] and costs[2][-1] == "$0.21"
    assert costs[-1][0] == "Run total" and costs[-1][-1] == "$0.42"
    assert "No pull request was opened." in report
    assert report.rstrip().endswith("## Warnings\n\nNone.")


def test_an_agent_that_timed_out_is_named_with_its_reason_and_nothing_is_invented() -> None:
    report = render_report(timeout_run())

    assert "No tests were added: the test agent timed out after 600s." in report
    assert ["test agent", "timed out after 600s"] == table_with(report, "Agent")[3][:2]
    assert "- The test agent timed out after 600s; its tests are missing." in report
    assert "Phase" not in report  # no counts were measured, so there is no counts table
    assert VERIFIED_CLAIM.search(report) is None


def test_failing_and_budget_runs_report_their_verdict_and_warnings() -> None:
    failing = render_report(fix_fails_run())
    assert "**Verdict: fix does not pass (not verified).**" in failing
    assert "Fix attempts: 2" in failing
    assert VERIFIED_CLAIM.search(failing) is None

    budget = render_report(budget_run())
    assert "- The per-run budget ran out; agents were stopped." in budget
    assert ["PR agent", "was stopped when the budget ran out (the run's budget of $0.40 is spent)"] == (
        table_with(budget, "Agent")[4][:2]
    )


def test_hostile_text_stays_text_in_tables_fences_and_prose() -> None:
    facts: RunFacts = hostile_run()
    report = render_report(facts)
    tokens = walk(parse(report))

    for table in tables(report):
        assert len({len(row) for row in table}) == 1
    assert ["Title", HOSTILE_TITLE] in table_with(report, "Field")
    assert ["Labels", "a|b"] in table_with(report, "Field")
    assert ("text", HOSTILE_TEXT + "\n") in fences(report)  # the description, exactly
    assert ("text", "```\nnot closed\n") in fences(report)  # the decision feedback
    assert not [t for t in tokens if t.type in ("html_inline", "html_block")]
    hrefs = {t.attrs["href"] for t in tokens if t.type == "link_open"}
    assert hrefs == {"https://tracker.example.com/browse/PAY-42", "http://127.0.0.1:8000/runs/run-7f3a"}
    assert heading_texts(report)[0] == f"Incident report: PAY-42: {HOSTILE_TITLE}"
    assert "Root cause" in heading_texts(report) and "Warnings" in heading_texts(report)
    paragraphs = [plain(t) for t in tokens if t.type == "inline"]
    assert paragraphs.count(HOSTILE_TEXT) == 3  # triage summary, root cause, explanation: as written
