"""The briefing: what a human needs to decide on a run, as structured data that notifiers render.

The web page (``documents.web``), Slack (``documents.slack_blocks``) and the terminal
(``documents.terminal``) render the same ``Briefing``: the verdict line (``headline``), then its
``points`` (what broke, the cause, the fix, the evidence, the decision asked), then the details.
Every field is plain text taken from the facts; the renderer escapes it for its own markup.
``tone`` is ``good`` only for a verified fix from a run where every agent submitted within budget.
"""

from typing import Literal

from pydantic import BaseModel

from documents.alerts import Alert
from documents.facts import (
    VERDICT_TEXT,
    DecisionFacts,
    FileChange,
    RunFacts,
    RunStatus,
    TestCounts,
    Verdict,
)
from documents.phrases import (
    IN_PROGRESS,
    agent_label,
    agent_reason,
    all_agents_submitted,
    clip,
    has_partial,
    headline,
    listed,
    not_done_lines,
    partial_sentences,
    phase_counts,
    phase_time,
    plural,
    revision_label,
    revision_note,
    run_warnings,
    sentence,
    ship_label,
    test_names,
    verdict_of,
    verdict_sentence,
)
from documents.reviews import review_sentence

Tone = Literal["good", "warning", "bad"]
Action = Literal["approve", "ship_revision", "request_changes", "cancel"]
ACTIONS: tuple[Action, ...] = ("approve", "ship_revision", "request_changes", "cancel")

_MAX_LINE = 200
_MAX_PROSE = 400


class PhaseCounts(BaseModel):
    """The counts of one verification phase."""

    phase: str
    """Attribute name in VerificationFacts, e.g. ``base_with_tests``."""
    label: str
    expectation: str
    """What the phase must show, e.g. ``must fail``."""
    counts: TestCounts
    time: str | None = None
    """How long the phase's run took (``4.2s``, ``4.2s, reused from an earlier run``)."""


class EarlierRevision(BaseModel):
    """An earlier revision the reviewer may ship instead, by an explicit choice (never Approve)."""

    number: int
    label: str
    """``Ship revision 1 as briefed at 01:20 UTC``: the words of the button, the key, the form."""


class BriefingPoint(BaseModel):
    """One part of the briefing, in the order people scan it at 3 a.m.: ``What broke``, ``Cause``,
    ``Fix``, ``Evidence``, ``Decision``; each line one short sentence."""

    label: str
    lines: list[str]


class Briefing(BaseModel):
    run_id: str
    ticket_key: str
    ticket_title: str
    ticket_url: str | None
    priority: str | None
    """The ticket's priority, or the triage agent's; ``P1 → P2 (triage)`` when triage changed it."""
    headline: str
    """The verdict line: ``PAY-42: fix verified, ready for review``."""
    points: list[BriefingPoint]
    """Under the verdict line: what broke, the cause (once), the fix, the evidence, the decision asked.
    The web page, Slack and the terminal each render these, in their own markup."""
    root_cause: str | None
    fix_summary: str | None
    files: list[FileChange]
    test_files: list[str]
    tests: list[str]
    verdict: Verdict
    verdict_text: str
    verified: bool
    tone: Tone
    counts: list[PhaseCounts]
    """Measured phases only, in order: new tests on base, with the fix, old suite before, after."""
    fix_attempts: int | None
    cost_usd: float
    warnings: list[str]
    diff_excerpt: str
    """The first lines of the fix diff (long lines cut)."""
    diff_omitted_lines: int
    """How many lines of the fix diff the excerpt leaves out."""
    branch: str | None
    pr_url: str | None
    web_url: str | None
    status: RunStatus
    revision: int
    decisions: list[DecisionFacts]
    actions: list[Action]
    """What the human may do now; empty unless the run awaits a decision."""
    revision_note: str | None = None
    """What this revision changed since the one before, or that it changed nothing (the feedback was
    not acted on); None for a first revision."""
    not_done: list[str] = []
    """What the code and test agents say they did not do, in their words (``agent: “…”``); for a
    revision that changed nothing, why each did not act (its words, its error or its silence)."""
    ship_earlier: EarlierRevision | None = None
    """The earlier revision ``ship_revision`` ships, when that choice is offered."""
    alert: Alert | None = None
    """The alert that started the run (Sentry, PagerDuty), whose top frames the renderers show."""

    @property
    def summary(self) -> str:
        """The points as plain text, one line each: ``Fix: Keep the sign. The fix changes 1 file...``."""
        return "\n".join(f"{point.label}: {' '.join(point.lines)}" for point in self.points)


def _flat(text: str, limit: int = _MAX_PROSE) -> str:
    return clip(" ".join(text.split()), limit)


def _tone(facts: RunFacts, verdict: Verdict) -> Tone:
    bad = ("no_fix", "fix_does_not_pass", "regression", "build_failed")
    if facts.status == "failed" or facts.error or verdict in bad:
        return "bad"
    if _unchanged(facts):
        return "warning"
    stale = facts.verification is not None and facts.verification.stale
    if verdict == "verified" and all_agents_submitted(facts) and not facts.budget_exhausted:
        return "warning" if has_partial(facts) or stale else "good"
    return "warning"


def _agent_gap(facts: RunFacts, name: str) -> str:
    """Why the agent's result is missing: ``: the test agent timed out after 600s``, or `` yet``."""
    agent = facts.agents.get(name)
    if facts.status in IN_PROGRESS and (agent is None or agent.status in ("pending", "running")):
        return " yet"
    if agent is None or agent.status == "submitted":
        return ""
    return f": the {agent_label(name)} {agent_reason(agent)}"


def _points(facts: RunFacts, verdict: Verdict) -> list[BriefingPoint]:
    """What broke, its cause, the fix, the evidence and the decision asked: one short line each."""
    points = [
        BriefingPoint(label="What broke", lines=[sentence(_flat(facts.ticket.title))]),
        _cause(facts),
        BriefingPoint(label="Fix", lines=_fix_lines(facts)),
        BriefingPoint(label="Evidence", lines=_evidence(facts, verdict)),
        BriefingPoint(label="Decision", lines=_decision(facts, verdict)),
    ]
    return [point for point in points if point.lines]


def _cause(facts: RunFacts) -> BriefingPoint:
    """The root cause once: the code agent's, else the triage agent's reading of the bug."""
    if facts.fix and facts.fix.root_cause.strip():
        return BriefingPoint(label="Cause", lines=[sentence(_flat(facts.fix.root_cause))])
    triage = facts.triage.summary if facts.triage else ""
    return BriefingPoint(label="Cause (triage)", lines=[sentence(_flat(triage))] if triage.strip() else [])


def _fix_lines(facts: RunFacts) -> list[str]:
    lines = [note] if (note := revision_note(facts)) else []
    if not facts.fix:
        return [*lines, f"There is no fix{_agent_gap(facts, 'code')}."]
    if facts.fix.explanation.strip():
        lines.append(sentence(_flat(facts.fix.explanation, 300)))
    files = facts.fix.files
    if files:
        added, removed = sum(f.added for f in files), sum(f.removed for f in files)
        lines.append(
            f"The fix changes {plural(len(files), 'file')} (+{added} -{removed}): "
            f"{listed([f.path for f in files])}."
        )
    return lines


def _evidence(facts: RunFacts, verdict: Verdict) -> list[str]:
    """The tests added, what each verification phase measured, and the verdict it adds up to."""
    lines = []
    if facts.tests and facts.tests.partial:
        lines.append(f"The test agent left {listed(facts.tests.test_files)} when it was stopped.")
    elif facts.tests:
        lines.append(
            f"The test agent added {plural(len(facts.tests.test_names), 'test')} in "
            f"{listed(facts.tests.test_files)}."
        )
    else:
        lines.append(f"There are no new tests{_agent_gap(facts, 'test')}.")
    verification = facts.verification
    if verification:
        new_base, new_fixed = verification.base_with_tests, verification.fixed_with_tests
        if new_base:
            with_fix = f"; with the fix: {new_fixed.summary()}" if new_fixed else ""
            lines.append(f"The new tests on the base commit: {new_base.summary()}{with_fix}.")
        if verification.base_suite and verification.fixed_suite:
            lines.append(
                f"The existing suite: {verification.base_suite.summary()} before the fix, "
                f"{verification.fixed_suite.summary()} after."
            )
        failing, unmatched = verification.already_failing, verification.not_comparable
        if failing.count:
            one = failing.count == 1
            lines.append(
                f"{plural(failing.count, 'test')} already {'fails' if one else 'fail'} on the base commit "
                f"and {'is' if one else 'are'} not counted against the fix: {test_names(failing)}."
            )
        if unmatched.count:
            one = unmatched.count == 1
            lines.append(
                f"{plural(unmatched.count, 'test id')} {'exists' if one else 'exist'} on one side only "
                f"(renamed or removed) and {'is' if one else 'are'} not compared: {test_names(unmatched)}."
            )
    lines += partial_sentences(facts)
    if facts.status not in IN_PROGRESS or verification:
        lines.append(verdict_sentence(verdict, verification.fix_attempts if verification else None))
    if facts.budget_exhausted:
        lines.append("The per-run budget ran out and agents were stopped.")
    if facts.error:
        lines.append(sentence(f"The run failed: {_flat(facts.error)}"))
    return lines


def _decision(facts: RunFacts, verdict: Verdict) -> list[str]:
    """The decision asked of the reviewer, or what became of the run (a run revising or verifying for
    reviewers on its pull request has shipped: its review round is in progress)."""
    earlier = _ship_earlier(facts)
    if facts.status == "awaiting_decision" and facts.changes_nothing:
        return [
            "Nothing changed, so there is nothing to approve: request changes (say where to look) or cancel."
        ]
    if facts.status == "awaiting_decision" and _unchanged(facts):
        ship = f", {earlier.label[0].lower()}{earlier.label[1:]}" if earlier else ""
        return [f"There is nothing new to approve: request changes again{ship}, or cancel."]
    if facts.status == "awaiting_decision":
        unverified = "" if verdict == "verified" else " (it ships unverified, and says so)"
        return [f"It awaits your decision: approve{unverified}, request changes or cancel."]
    if facts.status == "shipped" or (facts.status in ("revising", "verifying") and facts.reviews.active):
        what = f" {_shipped(facts)}" if _shipped(facts) else ""
        return [f"It has shipped{what}" + (f": {facts.pr_url}." if facts.pr_url else "."), *_reviews(facts)]
    if facts.status in ("merged", "closed"):
        ended = "merged" if facts.status == "merged" else "closed without merging"
        return [
            f"Its pull request was {ended}" + (f": {facts.pr_url}." if facts.pr_url else "."),
            *_reviews(facts),
        ]
    return []


def _reviews(facts: RunFacts) -> list[str]:
    """What the review rounds on the pull request did, as one line (none before any)."""
    sentence = review_sentence(facts.reviews)
    return [sentence] if sentence else []


def _priority(facts: RunFacts) -> str | None:
    """The ticket's priority, and the triage agent's when it changed it: ``P1 → P2 (triage)``."""
    ticket = facts.ticket.priority.strip() if facts.ticket.priority else None
    triage = facts.triage.priority.strip() if facts.triage and facts.triage.priority else None
    if ticket and triage and ticket != triage:
        return f"{_flat(ticket, 40)} → {_flat(triage, 40)} (triage)"
    shown = triage or ticket
    return _flat(shown, 40) if shown else None


def _unchanged(facts: RunFacts) -> bool:
    """The latest revision changed nothing, and no earlier one was shipped instead."""
    return facts.not_acted_on is not None and facts.shipped_revision is None


def _ship_earlier(facts: RunFacts) -> EarlierRevision | None:
    earlier = facts.shippable_earlier() if facts.status == "awaiting_decision" else []
    if not earlier or facts.unpushed is not None:
        return None
    return EarlierRevision(number=earlier[0].number, label=ship_label(earlier[0]))


def _shipped(facts: RunFacts) -> str | None:
    shipped = facts.shipped_revision
    record = facts.revision_facts(shipped) if shipped is not None and shipped != facts.revision else None
    return f"{revision_label(record)}, chosen over revision {facts.revision}" if record else None


def _diff_excerpt(diff: str, max_lines: int) -> tuple[str, int]:
    lines = diff.splitlines()
    shown = [clip(line, _MAX_LINE) if len(line) > _MAX_LINE else line for line in lines[:max_lines]]
    return "\n".join(shown), max(0, len(lines) - max_lines)


def _actions(facts: RunFacts) -> list[Action]:
    """What the reviewer can do now: nothing once decided; no approving a run or a revision that
    changed nothing; shipping an earlier revision when one was briefed with something to ship."""
    if facts.status != "awaiting_decision":
        return []
    offered = {
        "approve": not facts.changes_nothing and not _unchanged(facts),
        "ship_revision": _ship_earlier(facts) is not None,
    }
    return [action for action in ACTIONS if offered.get(action, True)]


def build_briefing(facts: RunFacts, *, max_diff_lines: int = 40) -> Briefing:
    """The briefing for ``facts``; ``max_diff_lines`` bounds the diff excerpt."""
    verdict = verdict_of(facts)
    excerpt, omitted = _diff_excerpt(facts.fix.diff, max_diff_lines) if facts.fix else ("", 0)
    return Briefing(
        run_id=facts.run_id,
        ticket_key=facts.ticket.key,
        ticket_title=facts.ticket.title,
        ticket_url=facts.ticket.url,
        priority=_priority(facts),
        headline=headline(facts),
        points=_points(facts, verdict),
        root_cause=facts.fix.root_cause if facts.fix else None,
        fix_summary=_flat(facts.fix.explanation, 1000) if facts.fix else None,
        files=list(facts.fix.files) if facts.fix else [],
        test_files=list(facts.tests.test_files) if facts.tests else [],
        tests=list(facts.tests.test_names) if facts.tests else [],
        verdict=verdict,
        verdict_text=VERDICT_TEXT[verdict],
        verified=verdict == "verified",
        tone=_tone(facts, verdict),
        counts=[
            PhaseCounts(
                phase=phase,
                label=label,
                expectation=expectation,
                counts=counts,
                time=phase_time(facts.verification, phase) if facts.verification else None,
            )
            for phase, label, expectation, counts in phase_counts(facts.verification)
        ],
        fix_attempts=facts.verification.fix_attempts if facts.verification else None,
        cost_usd=facts.cost_usd,
        warnings=run_warnings(facts),
        diff_excerpt=excerpt,
        diff_omitted_lines=omitted,
        branch=None if facts.changes_nothing or _unchanged(facts) else facts.branch,
        pr_url=facts.pr_url,
        web_url=facts.web_url,
        status=facts.status,
        revision=facts.revision,
        decisions=list(facts.decisions),
        actions=_actions(facts),
        revision_note=revision_note(facts),
        not_done=not_done_lines(facts),
        ship_earlier=_ship_earlier(facts),
        alert=facts.ticket.alert,
    )
