"""Hand-built RunFacts for the documents tests: one verified run and the ways a run goes wrong."""

import re
from datetime import UTC, datetime, timedelta

from markdown_it import MarkdownIt
from markdown_it.token import Token

from documents.diffstat import diff_files
from documents.facts import (
    AgentFacts,
    DecisionFacts,
    FixFacts,
    PhaseTime,
    PrDraft,
    RunFacts,
    TestCounts,
    TestFacts,
    Ticket,
    TimelineEntry,
    TriageFacts,
    VerificationFacts,
)

T0 = datetime(2024, 5, 1, 2, 0, 0, tzinfo=UTC)

FIX_DIFF = """\
diff --git a/billing/amounts.py b/billing/amounts.py
index 3b18e51..a9c4f2d 100644
--- a/billing/amounts.py
+++ b/billing/amounts.py
@@ -10,6 +10,7 @@ def parse_amount(text: str) -> Decimal:
     cleaned = text.strip().replace(",", "")
-    if cleaned.startswith("-"):
-        cleaned = cleaned[1:]
-    return Decimal(cleaned)
+    negative = cleaned.startswith("-")
+    value = Decimal(cleaned.lstrip("-"))
+    return -value if negative else value
+
 
 def format_amount(value: Decimal) -> str:
"""

TEST_DIFF = """\
diff --git a/tests/test_amounts.py b/tests/test_amounts.py
new file mode 100644
index 0000000..1c2d3e4
--- /dev/null
+++ b/tests/test_amounts.py
@@ -0,0 +1,7 @@
+from decimal import Decimal
+from billing.amounts import parse_amount
+
+def test_negative_amount_keeps_sign():
+    assert parse_amount("-12.50") == Decimal("-12.50")
+def test_negative_with_thousands():
+    assert parse_amount("-1,200") == Decimal("-1200")
"""

ROOT_CAUSE = "parse_amount strips the leading minus sign, so refunds are booked as charges"

HOSTILE_TITLE = "Refunds | pipes | ``` [link](javascript:alert(1)) [bold red]boom[/bold red] <!-- x"
HOSTILE_TEXT = (
    "Look at `this` | and ```` this ````\n```\nunclosed fence\n"
    "[click](javascript:alert(1)) <details><summary>hide</summary> [bold red]RED[/bold red] # not a heading"
)


def agent(
    name: str,
    *,
    status: str = "submitted",
    minutes: float = 2.0,
    message: str = "",
    turns: int = 5,
    cost: float = 0.05,
    start: float = 0.0,
) -> AgentFacts:
    started = T0 + timedelta(minutes=start)
    return AgentFacts.model_validate(
        {
            "name": name,
            "status": status,
            "message": message or status,
            "model": "gpt-test",
            "started_at": started,
            "finished_at": started + timedelta(minutes=minutes),
            "turns": turns,
            "input_tokens": 12_000,
            "output_tokens": 800,
            "cost_usd": cost,
        }
    )


def verified_run() -> RunFacts:
    """Every agent submitted, the tests reproduce the bug and the fix passes; one change requested."""
    return RunFacts(
        run_id="run-7f3a",
        ticket=Ticket(
            key="PAY-42",
            title="Refunds show up as charges",
            description="Customers see +12.50.",
            priority="P2",
            source="jira",
            url="https://tracker.example.com/browse/PAY-42",
            reporter="dana",
            labels=["billing"],
        ),
        status="awaiting_decision",
        revision=2,
        branch="fix/PAY-42-run-7f3a",
        base_commit="0123456789abcdef0123456789abcdef01234567",
        agents={
            "triage": agent("triage", minutes=1.0, cost=0.02),
            "code": agent("code", minutes=4.5, cost=0.21, turns=12),
            "test": agent("test", minutes=3.0, cost=0.12),
            "pr": agent("pr", minutes=0.5, start=5.0, cost=0.01),
        },
        triage=TriageFacts(
            priority="P1",
            component="billing",
            affected_files=["billing/amounts.py"],
            acceptance_criteria=["negative amounts keep their sign"],
            edge_cases=["thousands separators", "whitespace"],
            summary="Negative amounts lose their sign when parsed.",
        ),
        fix=FixFacts(
            root_cause=ROOT_CAUSE,
            explanation="Keep the sign and parse the magnitude.",
            diff=FIX_DIFF,
            files=diff_files(FIX_DIFF),
        ),
        tests=TestFacts(
            test_files=["tests/test_amounts.py"],
            test_names=["test_negative_amount_keeps_sign", "test_negative_with_thousands"],
            notes="Both tests fail on base.",
            diff=TEST_DIFF,
            files=diff_files(TEST_DIFF),
        ),
        pr_draft=PrDraft(
            title="Keep the sign of negative amounts",
            body="## Summary\n\nRefunds were parsed as charges; this keeps the sign.",
        ),
        verification=VerificationFacts(
            verdict="verified",
            detail="2 new tests fail on base and pass with the fix; the old suite passes.",
            base_with_tests=TestCounts(passed=0, failed=2),
            fixed_with_tests=TestCounts(passed=2, failed=0),
            base_suite=TestCounts(passed=41, failed=0, skipped=1),
            fixed_suite=TestCounts(passed=41, failed=0, skipped=1),
            excerpts={"base_with_tests": "FAILED tests/test_amounts.py::test_negative_amount_keeps_sign"},
            phase_times={
                "base_suite": PhaseTime(duration_s=12.4, cached=True),
                "base_with_tests": PhaseTime(duration_s=1.6),
                "fixed_with_tests": PhaseTime(duration_s=1.5),
                "fixed_suite": PhaseTime(duration_s=12.9),
            },
        ),
        decisions=[
            DecisionFacts(
                kind="request_changes",
                by="alice",
                feedback="Also handle '+' signs.",
                at=T0 + timedelta(minutes=20),
            )
        ],
        cost_usd=0.4213,
        timeline=[
            TimelineEntry(at=T0 - timedelta(seconds=5), text="Ticket PAY-42 received from Jira"),
            TimelineEntry(at=T0 + timedelta(minutes=7), text="Verification finished: verified"),
        ],
        web_url="http://127.0.0.1:8000/runs/run-7f3a",
    )


def timeout_run() -> RunFacts:
    """The test agent timed out: no tests, so nothing could be verified."""
    facts = verified_run()
    facts.agents["test"] = agent(
        "test", status="timeout", minutes=10.0, message="timed out after 600s (wall clock)"
    )
    facts.tests = None
    facts.verification = VerificationFacts(verdict="no_tests", detail="There were no new tests to run.")
    facts.decisions = []
    facts.revision = 1
    facts.timeline = facts.timeline[:1]
    return facts


def fix_fails_run() -> RunFacts:
    """The fix still fails its tests after two attempts."""
    facts = verified_run()
    facts.verification = VerificationFacts(
        verdict="fix_does_not_pass",
        detail="With the fix, 1 of 2 new tests still fails.",
        base_with_tests=TestCounts(passed=0, failed=2),
        fixed_with_tests=TestCounts(passed=1, failed=1),
        fix_attempts=2,
    )
    facts.decisions = []
    facts.timeline = facts.timeline[:1]
    return facts


def budget_run() -> RunFacts:
    """The budget ran out: the PR agent was stopped before it wrote the narrative."""
    facts = verified_run()
    facts.budget_exhausted = True
    facts.agents["pr"] = agent(
        "pr", status="budget", minutes=0.2, start=5.0, message="the run's budget of $0.40 is spent"
    )
    facts.pr_draft = None
    return facts


def hostile_run() -> RunFacts:
    """Ticket and model text written to break Markdown tables, fences and Rich markup."""
    facts = verified_run()
    facts.ticket.title = HOSTILE_TITLE
    facts.ticket.description = HOSTILE_TEXT
    facts.ticket.labels = ["a|b"]
    assert facts.fix is not None and facts.tests is not None and facts.triage is not None
    facts.fix.root_cause = HOSTILE_TEXT
    facts.fix.explanation = HOSTILE_TEXT
    facts.triage.summary = HOSTILE_TEXT
    facts.triage.acceptance_criteria = ["- [ ] | tick `me`"]
    facts.tests.test_names = ["test_`odd`_name", "test | pipe"]
    facts.decisions[0].feedback = "```\nnot closed"
    facts.timeline.append(TimelineEntry(at=T0 + timedelta(minutes=8), text="step | with ``` pipes"))
    return facts


# --- checking rendered Markdown with a real CommonMark + GFM-table parser --------------------------

_PARSER = MarkdownIt("commonmark", {"html": True}).enable("table")
VERIFIED_CLAIM = re.compile(r"(?<!not )\bverified\b", re.IGNORECASE)
"""``verified`` not preceded by ``not``: a claim of verification."""


def parse(markdown: str) -> list[Token]:
    return _PARSER.parse(markdown)


def walk(tokens: list[Token]) -> list[Token]:
    """Every token, children of inline tokens included."""
    out: list[Token] = []
    for token in tokens:
        out.append(token)
        out += walk(token.children or [])
    return out


def plain(inline: Token) -> str:
    """The text a reader sees in an inline token: escapes resolved, markup dropped."""
    breaks = ("softbreak", "hardbreak")
    return "".join(
        "\n" if child.type in breaks else child.content
        for child in inline.children or []
        if child.type in ("text", "code_inline", *breaks)
    )


def tables(markdown: str) -> list[list[list[str]]]:
    """Each table's rows, each row's cells as plain text (inline content)."""
    found: list[list[list[str]]] = []
    rows: list[list[str]] = []
    row: list[str] = []
    for token in parse(markdown):
        if token.type == "table_open":
            rows = []
        elif token.type == "tr_open":
            row = []
        elif token.type == "inline" and token.level >= 4:
            row.append(plain(token))
        elif token.type == "tr_close":
            rows.append(row)
        elif token.type == "table_close":
            found.append(rows)
    return found
