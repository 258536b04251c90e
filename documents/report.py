"""The incident report: everything the run measured, in Markdown, for the run's state directory.

Sections follow the run: ticket, timeline, agents and cost, triage, fix, tests, verification,
decisions, pull request, warnings. A section whose facts are missing says so and names the agent that
did not deliver them, with its reason; nothing is filled in that was not measured.
"""

from datetime import datetime

from documents import markdown as md
from documents.diffstat import diffstat
from documents.facts import DecisionFacts, RunFacts
from documents.phrases import (
    PHASES,
    agent_label,
    agent_reason,
    format_duration,
    format_time,
    format_usd,
    ordered_agents,
    phase_counts,
    phase_time,
    run_warnings,
    verdict_label,
    verdict_of,
)
from documents.stack import alert_markdown

_DECISION_WORDS = {
    "approve": "approved",
    "request_changes": "requested changes",
    "cancel": "cancelled the run",
    "expired": "expired (no decision in time)",
}


def _missing(facts: RunFacts, name: str, what: str) -> str:
    """``what``, followed by why the agent that should have produced it did not, when known."""
    agent = facts.agents.get(name)
    if agent is None or agent.status == "submitted":
        return f"{what}."
    return f"{what}: the {agent_label(name)} {md.inline(agent_reason(agent))}."


def _bullets(items: list[str], *, code: bool = False) -> str:
    if not items:
        return "- (none)"
    return "\n".join(f"- {md.code_span(item) if code else md.inline(item)}" for item in items)


def _overview(facts: RunFacts) -> str:
    ticket = facts.ticket
    lines = [
        f"# Incident report: {md.inline(ticket.key)}: {md.inline(ticket.title)}",
        "",
        f"- Run: {md.code_span(facts.run_id)}",
        f"- Status: {facts.status.replace('_', ' ')}",
        f"- Revision: {facts.revision}",
        f"- Verdict: **{verdict_label(verdict_of(facts))}**",
    ]
    if facts.branch:
        lines.append(f"- Branch: {md.code_span(facts.branch)}")
    if facts.base_commit:
        lines.append(f"- Base commit: {md.code_span(facts.base_commit)}")
    if facts.web_url:
        lines.append(f"- Run page: {md.link(facts.web_url, facts.web_url)}")
    lines.append(f"- Total cost: {format_usd(facts.cost_usd)}")
    if facts.error:
        lines.append(f"- Run error: {md.inline(facts.error)}")
    return "\n".join(lines)


def _ticket(facts: RunFacts) -> str:
    ticket = facts.ticket
    rows = [
        ["Key", md.link(ticket.key, ticket.url)],
        ["Title", md.cell(ticket.title)],
        ["Source", ticket.source],
    ]
    for label, value in (("Priority", ticket.priority), ("Reporter", ticket.reporter)):
        if value:
            rows.append([label, md.cell(value)])
    for label, values in (("Labels", ticket.labels), ("Components", ticket.components)):
        if values:
            rows.append([label, ", ".join(md.code_span(v, in_table=True) for v in values)])
    out = "## Ticket\n\n" + md.table(["Field", "Value"], rows)
    if ticket.description.strip():
        out += "\n\n### Description\n\n" + md.fence(ticket.description, "text")
    if ticket.ci_excerpt:
        out += "\n\n### CI log excerpt\n\n" + md.fence(ticket.ci_excerpt, "text")
    if ticket.alert:
        out += "\n\n### Where it failed\n\n" + alert_markdown(ticket.alert)
    return out


def _timeline(facts: RunFacts) -> str:
    events: list[tuple[datetime, str, str]] = [(e.at, md.cell(e.text), "") for e in facts.timeline]
    for agent in ordered_agents(facts.agents):
        label = agent_label(agent.name)
        if agent.started_at:
            model = f" ({md.cell(agent.model)})" if agent.model else ""
            events.append((agent.started_at, f"{label} started{model}", ""))
        if agent.finished_at:
            duration = agent.duration_s
            events.append(
                (
                    agent.finished_at,
                    f"{label} {md.cell(agent_reason(agent))}",
                    format_duration(duration) if duration is not None else "",
                )
            )
    if not events:
        return "## Timeline\n\nNo events were recorded."
    events.sort(key=lambda event: event[0].timestamp())
    rows = [[format_time(at), text, duration] for at, text, duration in events]
    return "## Timeline\n\n" + md.table(["Time", "Event", "Duration"], rows)


def _agents(facts: RunFacts) -> str:
    rows = []
    for agent in ordered_agents(facts.agents):
        duration = agent.duration_s
        rows.append(
            [
                agent_label(agent.name),
                md.cell(agent_reason(agent)),
                md.code_span(agent.model, in_table=True) if agent.model else "",
                str(agent.turns),
                format_duration(duration) if duration is not None else "",
                f"{agent.input_tokens:,}",
                f"{agent.output_tokens:,}",
                format_usd(agent.cost_usd),
            ]
        )
    rows.append(["**Run total**", "", "", "", "", "", "", f"**{format_usd(facts.cost_usd)}**"])
    headers = ["Agent", "Outcome", "Model", "Turns", "Duration", "Tokens in", "Tokens out", "Cost"]
    return "## Agents and cost\n\n" + md.table(headers, rows)


def _triage(facts: RunFacts) -> str:
    triage = facts.triage
    if triage is None:
        return "## Triage\n\n" + _missing(facts, "triage", "No triage")
    return "\n\n".join(
        [
            "## Triage",
            f"- Priority: {md.inline(triage.priority)}\n- Component: {md.inline(triage.component)}",
            md.block(triage.summary),
            "### Affected files\n\n" + _bullets(triage.affected_files, code=True),
            "### Acceptance criteria\n\n" + _bullets(triage.acceptance_criteria),
            "### Edge cases\n\n" + _bullets(triage.edge_cases),
        ]
    )


def _fix(facts: RunFacts) -> str:
    fix = facts.fix
    if fix is None:
        return "## Fix\n\n" + _missing(facts, "code", "No fix")
    return "\n\n".join(
        [
            "## Root cause",
            md.block(fix.root_cause),
            "### Explanation",
            md.block(fix.explanation),
            "### Files changed",
            md.fence(diffstat(fix.files), "text"),
            "### Diff",
            md.fence(fix.diff, "diff"),
        ]
    )


def _tests(facts: RunFacts) -> str:
    tests = facts.tests
    if tests is None:
        return "## Tests added\n\n" + _missing(facts, "test", "No tests were added")
    parts = [
        "## Tests added",
        "Files:\n\n" + _bullets(tests.test_files, code=True),
        "Tests:\n\n" + _bullets(tests.test_names, code=True),
    ]
    if tests.notes.strip():
        parts += ["### Notes", md.block(tests.notes)]
    parts += ["### Test diff", md.fence(tests.diff, "diff")]
    return "\n\n".join(parts)


def _verification(facts: RunFacts) -> str:
    verification = facts.verification
    if verification is None:
        return "## Verification\n\nVerification did not run."
    parts = [
        "## Verification",
        f"**Verdict: {verdict_label(verification.verdict)}.** {md.inline(verification.detail)}",
        f"Fix attempts: {verification.fix_attempts}",
    ]
    rows = [
        [
            md.cell(label),
            md.cell(expectation),
            str(c.passed),
            str(c.failed),
            str(c.errors),
            str(c.skipped),
            "yes" if c.timed_out else "no",
            md.cell(phase_time(verification, phase) or ""),
        ]
        for phase, label, expectation, c in phase_counts(verification)
    ]
    if rows:
        headers = ["Phase", "Must show", "Passed", "Failed", "Errors", "Skipped", "Timed out", "Time"]
        parts.append(md.table(headers, rows))
    labels = {phase: label for phase, label, _ in PHASES}
    for name, excerpt in verification.excerpts.items():
        parts += [f"### Output: {md.inline(labels.get(name, name))}", md.fence(excerpt, "text")]
    return "\n\n".join(parts)


def _decision(decision: DecisionFacts) -> str:
    who = f" by {md.inline(decision.by)}" if decision.by else ""
    out = f"- {format_time(decision.at)}: **{_DECISION_WORDS[decision.kind]}**{who}"
    if decision.feedback and decision.feedback.strip():
        out += "\n\n" + "\n".join(f"  {line}" for line in md.fence(decision.feedback, "text").splitlines())
    return out


def _decisions(facts: RunFacts) -> str:
    if not facts.decisions:
        return "## Decisions\n\nNo decision was recorded."
    return "## Decisions\n\n" + "\n".join(_decision(d) for d in facts.decisions)


def _pull_request(facts: RunFacts) -> str:
    if facts.pr_url:
        return "## Pull request\n\n" + md.link(facts.pr_url, facts.pr_url)
    return "## Pull request\n\nNo pull request was opened."


def _warnings(facts: RunFacts) -> str:
    warnings = run_warnings(facts)
    if not warnings:
        return "## Warnings\n\nNone."
    return "## Warnings\n\n" + "\n".join(f"- {md.inline(w)}" for w in warnings)


def render_report(facts: RunFacts) -> str:
    """The incident report for ``facts`` in Markdown."""
    sections = [
        _overview(facts),
        _ticket(facts),
        _timeline(facts),
        _agents(facts),
        _triage(facts),
        _fix(facts),
        _tests(facts),
        _verification(facts),
        _decisions(facts),
        _pull_request(facts),
        _warnings(facts),
    ]
    return "\n\n".join(sections) + "\n"
