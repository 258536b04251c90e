"""The pull request: the PR agent's narrative, then what Nightshift measured.

The narrative is the PR agent's Markdown, kept as Markdown but contained (``markdown.contain``); when
the agent did not submit one, a plain narrative is written from the facts and the body says so. The
measured part only states what the run measured, and a body for an unverified fix opens with a
warning, whatever the narrative claims. The body stays under GitHub's 65,536-character limit: the
longest free-text parts are cut first, each with a note saying how much was cut.
"""

from collections.abc import Callable
from dataclasses import dataclass

from documents import markdown as md
from documents.diffstat import diffstat
from documents.facts import RunFacts, Verdict
from documents.phrases import (
    UNSANDBOXED,
    agent_label,
    agent_reason,
    clip,
    format_usd,
    partial_sentences,
    phase_counts,
    unfinished_agents,
    verdict_label,
    verdict_of,
    verdict_sentence,
)
from documents.stack import alert_markdown

GITHUB_BODY_LIMIT = 65_536
_TARGET = GITHUB_BODY_LIMIT - 536
"""Aim below the limit: GitHub's count of some characters differs from Python's."""
_MAX_TITLE = 256
_MAX_DETAIL = 1_000

_Render = Callable[[str, str | None], str]
"""Renders a (possibly cut) text; the second argument is the note to show when it was cut."""


@dataclass
class _Part:
    text: str
    render: _Render | None = None
    """None: fixed text that is never cut."""
    keep: int | None = None
    """How many characters of ``text`` to keep; None keeps everything."""

    def out(self) -> str:
        if self.render is None:
            return self.text
        if self.keep is None or self.keep >= len(self.text):
            return self.render(self.text, None)
        cut = self.text[: self.keep]
        if "\n" in cut:
            cut = cut[: cut.rfind("\n")]
        note = (
            f"… {len(self.text) - len(cut):,} more characters cut to fit GitHub's "
            f"{GITHUB_BODY_LIMIT:,}-character limit."
        )
        return self.render(cut, note)


def _with_note(rendered: str, note: str | None) -> str:
    return f"{rendered}\n\n_{note}_" if note else rendered


def _narrative(text: str, note: str | None) -> str:
    return _with_note(md.contain(text), note)


def _prose(text: str, note: str | None) -> str:
    return _with_note(md.block(text), note)


def _code(text: str, note: str | None) -> str:
    return md.fence(text + (f"\n{note}" if note else ""), "text")


def _bullets(text: str, note: str | None) -> str:
    return _with_note("\n".join(f"- {md.code_span(line)}" for line in text.splitlines() if line), note)


def _fit(parts: list[_Part], limit: int) -> str:
    """Join the parts, cutting the longest cuttable one until the body fits ``limit``."""
    while True:
        outs = [part.out() for part in parts]
        body = "\n\n".join(out for out in outs if out)
        excess = len(body) - limit
        if excess <= 0:
            return body
        cuttable = [i for i, part in enumerate(parts) if part.render and part.keep != 0]
        if not cuttable:
            return clip(body, limit)
        i = max(cuttable, key=lambda k: len(outs[k]))
        keep = parts[i].keep
        current = len(parts[i].text) if keep is None else keep
        parts[i].keep = max(0, current - excess - 200)


def render_pr_title(facts: RunFacts) -> str:
    """The PR agent's title, or one written from the ticket when it submitted none."""
    title = (
        facts.pr_draft.title
        if facts.pr_draft and facts.pr_draft.title.strip()
        else (f"Fix {facts.ticket.key}: {facts.ticket.title}")
    )
    return clip(" ".join(title.split()), _MAX_TITLE)


def _story(facts: RunFacts) -> list[_Part]:
    if facts.pr_draft is not None:
        return [_Part(facts.pr_draft.body, _narrative)]
    agent = facts.agents.get("pr")
    why = f"The PR agent {md.inline(agent_reason(agent))}" if agent else "No PR agent ran"
    ticket = facts.ticket
    parts = [
        _Part(f"> {why}; this description was written by Nightshift from the run's facts."),
        _Part(f"This change addresses {md.link(ticket.key, ticket.url)}: {md.inline(ticket.title)}."),
    ]
    if facts.triage and facts.triage.summary.strip():
        parts.append(_Part(facts.triage.summary, _prose))
    if facts.fix and facts.fix.explanation.strip():
        parts.append(_Part(facts.fix.explanation, _prose))
    return parts


def _facts_table(facts: RunFacts, verdict: Verdict) -> str:
    ticket = facts.ticket
    rows = [["Ticket", f"{md.link(ticket.key, ticket.url)}: {md.cell(ticket.title)}"]]
    priority = facts.triage.priority if facts.triage else ticket.priority
    if priority:
        rows.append(["Priority", md.cell(priority)])
    rows.append(["Verdict", f"**{verdict_label(verdict)}**"])
    if facts.verification:
        rows.append(["Fix attempts", str(facts.verification.fix_attempts)])
    rows.append(["Revision", str(facts.revision)])
    rows.append(["Total cost", format_usd(facts.cost_usd)])
    if facts.branch:
        rows.append(["Branch", md.code_span(facts.branch, in_table=True)])
    if facts.base_commit:
        rows.append(["Base commit", md.code_span(facts.base_commit[:12], in_table=True)])
    environment = facts.environment
    if environment is not None:
        where = md.cell(environment.sandbox) if environment.sandboxed else "**unsandboxed**"
        rows.append(["Tests ran in", f"{where}; environment {md.cell(environment.status)}"])
    return md.table(["", ""], rows)


def _tests_parts(facts: RunFacts) -> list[_Part]:
    tests = facts.tests
    if tests is None:
        return [_Part("No tests were added.")]
    files = ", ".join(md.code_span(path) for path in tests.test_files) or "none"
    return [_Part(f"Files: {files}"), _Part("\n".join(tests.test_names), _bullets)]


def _verification(facts: RunFacts, verdict: Verdict) -> str:
    verification = facts.verification
    if verification is None:
        return "Verification did not run."
    head = f"**Verdict: {verdict_label(verdict)}.** {md.inline(clip(verification.detail, _MAX_DETAIL))}"
    rows = [
        [md.cell(label), md.cell(expectation), md.cell(counts.summary())]
        for _, label, expectation, counts in phase_counts(verification)
    ]
    if not rows:
        return head
    return head + "\n\n" + md.table(["Phase", "Must show", "Result"], rows)


def _alert_parts(facts: RunFacts) -> list[_Part]:
    """The alert that started the run, linked to its event, and its top frames, linked to their lines."""
    alert = facts.ticket.alert
    return [_Part(f"### Where it failed\n\n{alert_markdown(alert)}")] if alert else []


def render_pr_body(facts: RunFacts) -> str:
    """The PR body in GitHub-flavoured Markdown, under GitHub's body limit."""
    verdict = verdict_of(facts)
    attempts = facts.verification.fix_attempts if facts.verification else None
    parts: list[_Part] = []
    if verdict != "verified":
        parts.append(
            _Part(
                f"> [!WARNING]\n> {verdict_sentence(verdict, attempts)} "
                "The measured facts are under *What Nightshift measured* below."
            )
        )
    parts += [_Part(f"> [!WARNING]\n> {md.inline(text)}") for text in partial_sentences(facts)]
    if facts.environment is not None and not facts.environment.sandboxed:
        parts.append(_Part(f"> [!WARNING]\n> {UNSANDBOXED}"))
    parts += _story(facts)
    parts.append(_Part("---\n\n## What Nightshift measured\n\n" + _facts_table(facts, verdict)))
    parts += _alert_parts(facts)
    parts.append(_Part("### Root cause"))
    if facts.fix:
        parts.append(_Part(facts.fix.root_cause, _prose))
        parts.append(_Part("### Files changed"))
        parts.append(_Part(diffstat(facts.fix.files), _code))
    else:
        parts.append(_Part("No fix was produced."))
    parts.append(_Part("### Tests added"))
    parts += _tests_parts(facts)
    parts.append(_Part("### Verification\n\n" + _verification(facts, verdict)))
    unfinished = unfinished_agents(facts)
    if unfinished:
        lines = [f"- **{agent_label(a.name)}**: {md.inline(agent_reason(a))}" for a in unfinished]
        parts.append(_Part("### Agents that did not finish\n\n" + "\n".join(lines)))
    if facts.budget_exhausted:
        parts.append(_Part("The per-run budget ran out; agents were stopped."))
    footer = f"Nightshift run {md.code_span(facts.run_id)}"
    if facts.web_url:
        footer += f" · {md.link('run page', facts.web_url)}"
    parts.append(_Part(f"<sub>{footer}</sub>"))
    return _fit(parts, _TARGET)
