"""The briefing a human decides on, and its Rich renderings as a terminal would print them."""

import io
from datetime import timedelta

import pytest
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from documents.briefing import Briefing, build_briefing
from documents.facts import AgentFacts, DeliveryFacts, RunFacts, TestNames, VerificationFacts
from documents.phrases import delivery_line
from documents.terminal import agents_table, briefing_panel, undelivered_text
from tests.documents_fixtures import (
    FIX_DIFF,
    HOSTILE_TITLE,
    ROOT_CAUSE,
    T0,
    VERIFIED_CLAIM,
    agent,
    budget_run,
    fix_fails_run,
    hostile_run,
    timeout_run,
    verified_run,
)


def shown(renderable: Panel | Table) -> str:
    console = Console(record=True, width=100, color_system=None, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def claims(b: Briefing) -> list[str]:
    return [text for text in (b.headline, b.summary, *b.warnings) if VERIFIED_CLAIM.search(text)]


def test_verified_run_gives_a_good_briefing_in_the_shape_people_scan() -> None:
    b = build_briefing(verified_run())

    assert (b.tone, b.verified, b.verdict_text) == ("good", True, "verified")
    assert b.headline == "PAY-42: fix verified, ready for review"  # the verdict line, then:
    assert [point.label for point in b.points] == ["What broke", "Cause", "Fix", "Evidence", "Decision"]
    assert b.points[0].lines == ["Refunds show up as charges."]
    assert b.points[1].lines == [ROOT_CAUSE + "."]
    assert b.summary.count(ROOT_CAUSE) == 1 and "lose their sign" not in b.summary  # the cause once
    assert all(len(line) <= 200 for point in b.points for line in point.lines)
    assert b.points[-1].lines == ["It awaits your decision: approve, request changes or cancel."]
    assert "The fix changes 1 file (+4 -3): billing/amounts.py." in b.summary
    assert "on the base commit: 0 passed, 2 failed; with the fix: 2 passed, 0 failed" in b.summary
    assert "Verified: the new tests fail on the base commit and pass with the fix" in b.summary
    assert b.priority == "P2 → P1 (triage)"  # the triage agent changed the ticket's P2
    assert [p.counts.summary() for p in b.counts] == [
        "0 passed, 2 failed",
        "2 passed, 0 failed",
        "41 passed, 0 failed, 1 skipped",
        "41 passed, 0 failed, 1 skipped",
    ]
    assert b.warnings == []
    assert b.actions == ["approve", "request_changes", "cancel"]
    assert b.tests == ["test_negative_amount_keeps_sign", "test_negative_with_thousands"]
    assert (b.cost_usd, b.revision, b.decisions[0].by) == (0.4213, 2, "alice")


def test_test_agent_timeout_is_a_warning_that_names_the_agent_and_reason() -> None:
    b = build_briefing(timeout_run())

    assert (b.tone, b.verified, b.verdict) == ("warning", False, "no_tests")
    assert b.warnings[0] == "The test agent timed out after 600s; its tests are missing."
    assert "There are no new tests: the test agent timed out after 600s." in b.summary
    assert "Not verified: there are no new tests" in b.summary
    assert claims(b) == []


def test_a_fix_that_does_not_pass_is_bad_and_says_so_plainly() -> None:
    b = build_briefing(fix_fails_run())

    assert (b.tone, b.verified) == ("bad", False)
    assert "The fix did not pass after 2 attempts: with the fix the new tests show 1 passed, 1 failed." in (
        b.warnings
    )
    assert "Not verified: the new tests still fail with the fix after 2 attempts." in b.summary
    assert b.headline == "PAY-42: the fix does not pass its tests"
    assert claims(b) == []


def test_budget_exhausted_is_never_good_even_when_verified() -> None:
    b = build_briefing(budget_run())

    assert b.verified and b.tone == "warning"
    assert "The per-run budget ran out; agents were stopped." in b.warnings
    assert any(w.startswith("The PR agent was stopped when the budget ran out") for w in b.warnings)
    every_agent_submitted = verified_run()
    every_agent_submitted.budget_exhausted = True
    assert build_briefing(every_agent_submitted).tone == "warning"


def test_a_run_with_a_missing_agent_or_an_error_is_not_good() -> None:
    facts = verified_run()
    del facts.agents["pr"]
    assert build_briefing(facts).tone == "warning"
    facts = verified_run()
    facts.status, facts.error = "failed", "the repository could not be cloned"
    b = build_briefing(facts)
    assert b.tone == "bad" and b.warnings[0] == "The run failed: the repository could not be cloned."
    assert b.actions == []


def test_diff_excerpt_keeps_the_first_lines_and_counts_the_rest() -> None:
    b = build_briefing(verified_run(), max_diff_lines=5)

    assert b.diff_excerpt.splitlines() == FIX_DIFF.splitlines()[:5]
    assert b.diff_omitted_lines == len(FIX_DIFF.splitlines()) - 5
    assert "… 10 more lines in the full diff" in shown(briefing_panel(b))


def test_priority_falls_back_to_the_ticket_and_actions_need_a_pending_decision() -> None:
    facts = verified_run()
    facts.triage, facts.status = None, "shipped"
    facts.pr_url = "https://github.example.com/o/r/pull/7"
    b = build_briefing(facts)

    assert b.priority == "P2" and b.actions == []
    assert b.summary.endswith("It has shipped: https://github.example.com/o/r/pull/7.")


@pytest.mark.parametrize(
    ("facts", "border"),
    [(verified_run(), "green"), (timeout_run(), "yellow"), (fix_fails_run(), "red")],
    ids=["verified", "timeout", "fix-fails"],
)
def test_panel_border_follows_tone_and_shows_summary_facts_warnings(facts: RunFacts, border: str) -> None:
    b = build_briefing(facts)
    panel = briefing_panel(b)
    text = shown(panel)

    assert panel.border_style == border
    assert b.headline in text
    assert "Refunds show up as charges" in text
    assert "New tests on base" in text or b.verdict == "no_tests"
    approve = "[a]pprove" if b.verified else "[a]pprove unverified"  # a fix not verified says so
    assert f"{approve} / [r]equest changes / [c]ancel / [q]uit" in text
    for warning in b.warnings:
        assert warning.split(";")[0] in " ".join(text.split())


def test_hostile_ticket_text_is_shown_literally_in_the_panel() -> None:
    text = shown(briefing_panel(build_briefing(hostile_run())))
    flat = " ".join(line.strip(" │") for line in text.splitlines())

    assert "[bold red]boom[/bold red]" in flat
    assert "[bold red]RED[/bold red]" in flat
    assert HOSTILE_TITLE.split(" [bold")[0] in flat


def test_agents_table_shows_live_progress() -> None:
    running = AgentFacts(
        name="code", status="running", started_at=T0, turns=3, input_tokens=1_500, output_tokens=200
    )
    agents = {
        "triage": agent("triage", minutes=1.0),
        "code": running,
        "test": agent("test", status="timeout", minutes=10.0),
        "pr": AgentFacts(name="pr"),
    }
    now = T0 + timedelta(minutes=1, seconds=30)
    tools = {"code": "[red]run_tests"}
    text = shown(agents_table(agents, now=now, current_tool=tools, max_turns={"code": 30}))
    rows = {line.split()[0]: line for line in text.splitlines() if line.strip()}

    assert "running" in rows["code"] and "3/30" in rows["code"] and "[red]run_tests" in rows["code"]
    assert "1:30" in rows["code"] and "1,500 / 200" in rows["code"]
    assert "1:00" in rows["triage"] and "submitted" in rows["triage"]
    assert "timed out after 600s" in rows["test"] and "10:00" in rows["test"]
    assert "pending" in rows["pr"]
    assert list(rows)[-4:] == ["triage", "code", "test", "pr"]  # pipeline order


def test_a_run_in_progress_says_what_is_not_there_yet_without_a_verdict() -> None:
    facts = verified_run()
    facts.status, facts.fix, facts.tests, facts.verification = "running", None, None, None
    facts.agents["code"] = AgentFacts(name="code", status="running", started_at=T0)
    facts.agents["test"] = AgentFacts(name="test", status="running", started_at=T0)
    b = build_briefing(facts)

    assert "Fix: There is no fix yet.\nEvidence: There are no new tests yet." in b.summary
    assert "verified" not in b.summary.lower()
    assert (b.tone, b.warnings, b.actions, b.headline) == ("warning", [], [], "PAY-42: running")


def deliveries_while_github_is_down() -> list[DeliveryFacts]:
    since, now = T0, T0 + timedelta(minutes=2)
    return [
        DeliveryFacts(
            kind="briefing",
            service="slack",
            what="briefing message",
            state="delivered",
            attempts=3,
            delivered_at=now,
        ),
        DeliveryFacts(
            kind="pull_request",
            service="github",
            what="pull request",
            state="pending",
            attempts=4,
            last_error="GitHub (acme/pay): opening a pull request failed: HTTP 502: Bad Gateway",
            last_status=502,
            failing_since=since,
            next_attempt_at=now + timedelta(seconds=90),
        ),
        DeliveryFacts(
            kind="comment",
            service="jira",
            what="ticket comment",
            state="abandoned",
            attempts=1,
            last_error="refused: Jira refused the credentials for bot@example.com: HTTP 401",
            last_status=401,
            failing_since=since,
        ),
        DeliveryFacts(kind="transition", service="jira", what="ticket to In Review", state="pending"),
    ]


def test_delivery_lines_say_what_is_not_out_since_when_and_the_next_try() -> None:
    now = T0 + timedelta(minutes=2)
    lines = [delivery_line(d, now=now) for d in deliveries_while_github_is_down()]
    assert lines == [
        "Slack: briefing message delivered at 02:02:00 UTC after 3 attempts",
        "GitHub: pull request not delivered yet — HTTP 502 since 02:00:00 UTC, next try 02:03:30 UTC "
        "(4 attempts so far)",
        "Jira: ticket comment abandoned — refused: Jira refused the credentials for bot@example.com: "
        "HTTP 401",
        "Jira: ticket to In Review being delivered",
    ]
    out = io.StringIO()
    Console(file=out, width=200).print(undelivered_text(deliveries_while_github_is_down(), now=now))
    assert out.getvalue().splitlines() == [lines[1], lines[2]]  # only what fails or was given up


def test_the_evidence_says_how_long_each_phase_took_and_what_the_base_commit_already_fails() -> None:
    facts = verified_run()
    assert facts.verification is not None
    facts.verification.already_failing = TestNames.of(["tests/test_rates.py::test_rates_are_reachable"])
    facts.verification.not_comparable = TestNames.of(["tests/test_lists.py::test_join[args5-a]"])

    b = build_briefing(facts)

    assert [p.time for p in b.counts] == ["1.6s", "1.5s", "12s, reused from an earlier run", "13s"]
    assert (
        "1 test already fails on the base commit and is not counted against the fix: "
        "tests/test_rates.py::test_rates_are_reachable." in b.summary
    )
    assert "1 test id exists on one side only (renamed or removed) and is not compared" in b.summary
    panel = " ".join(shown(briefing_panel(b)).replace("│", " ").split())
    assert "Existing suite on base: 41 passed, 0 failed, 1 skipped (reference) in 12s, reused" in panel


def test_a_regression_warning_names_the_broken_tests() -> None:
    facts = fix_fails_run()
    assert facts.verification is not None
    facts.verification = facts.verification.model_copy(
        update={"verdict": "regression", "broken": TestNames.of(["tests/test_amounts.py::test_zero"])}
    )

    b = build_briefing(facts)

    assert any(w.endswith("broken: tests/test_amounts.py::test_zero.") for w in b.warnings), b.warnings


def test_a_run_the_runner_could_not_count_says_why_and_claims_nothing() -> None:
    facts = verified_run()
    facts.verification = VerificationFacts(
        verdict="not_run",
        detail="The new tests could not be run: the test command reported no test counts (exit code 2): "
        "python -m unittest discover: error: unrecognized arguments: tests/test_d.py.",
    )

    b = build_briefing(facts)

    assert not b.verified and not claims(b)
    assert "unrecognized arguments: tests/test_d.py" in " ".join(b.warnings)


def test_the_terminal_shows_each_point_labelled_on_its_own_line_in_order() -> None:
    b = build_briefing(verified_run())
    rows = [line.strip("│ ") for line in shown(briefing_panel(b)).splitlines()]
    labelled = [
        next(row for row in rows if row.startswith(f"{point.label}  ")) for point in b.points
    ]  # the label, then its first line beside it
    assert [row.split("  ")[0] for row in labelled] == ["What broke", "Cause", "Fix", "Evidence", "Decision"]
    assert [rows.index(row) for row in labelled] == sorted(rows.index(row) for row in labelled)
    assert labelled[0].endswith("Refunds show up as charges.")
    assert labelled[-1].endswith("It awaits your decision: approve, request changes or cancel.")


@pytest.mark.parametrize(
    ("status", "tail"),
    [
        ("awaiting_decision", "ready for review"),
        ("approving", "approved, opening the pull request"),
        ("shipped", "shipped"),
        ("merged", "shipped and merged"),
        ("closed", "shipped, its pull request closed without merging"),
        ("cancelled", "cancelled, nothing shipped"),
    ],
)
def test_the_verdict_line_says_what_became_of_a_verified_fix(status: str, tail: str) -> None:
    """Only a run awaiting its decision is "ready for review"; a shipped one says it shipped."""
    facts = verified_run().model_copy(update={"status": status})
    assert build_briefing(facts).headline == f"PAY-42: fix verified, {tail}"


def test_a_fix_shipped_unverified_says_so_in_its_verdict_line() -> None:
    facts = fix_fails_run().model_copy(update={"status": "shipped"})
    assert build_briefing(facts).headline == "PAY-42: the fix does not pass its tests; shipped"
