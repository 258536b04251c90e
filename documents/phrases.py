"""The words shared by every rendering: agent outcomes, verdicts, warnings, durations, money, deliveries.

Each phrase is built from measured facts only; a missing fact is said to be missing. Only
``verdict_sentence`` for the ``verified`` verdict claims verification.
"""

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime

from documents.facts import (
    VERDICT_TEXT,
    AgentFacts,
    DeliveryFacts,
    FileChange,
    RevisionFacts,
    RunFacts,
    TestCounts,
    TestNames,
    Verdict,
    VerificationFacts,
)

AGENT_ORDER = ("triage", "code", "test", "pr")
AGENT_LABEL = {"triage": "triage agent", "code": "code agent", "test": "test agent", "pr": "PR agent"}

PHASES: tuple[tuple[str, str, str], ...] = (
    ("base_with_tests", "New tests on base", "must fail"),
    ("fixed_with_tests", "New tests with the fix", "must pass"),
    ("base_suite", "Existing suite on base", "reference"),
    ("fixed_suite", "Existing suite with the fix", "no new failures"),
)
"""(attribute of VerificationFacts, label, what the phase must show)."""

IN_PROGRESS = ("queued", "running", "verifying", "revising")
UNSANDBOXED = (
    "Unsandboxed: this run's tests and commands ran as the bot, without the sandbox "
    '([safety] sandbox = "none").'
)

SERVICE_NAMES = {
    "slack": "Slack",
    "github": "GitHub",
    "jira": "Jira",
    "pagerduty": "PagerDuty",
    "terminal": "Terminal",
    "local": "Local",
}

_STATUS_WORDS = {
    "pending": "did not start",
    "running": "has not finished",
    "budget": "was stopped when the budget ran out",
    "model_error": "stopped on a model error",
    "no_submit": "stopped without submitting",
    "invalid_submission": "gave up after invalid submissions",
    "stuck": "was stopped because it was stuck in a loop",
    "failed": "failed",
    "cancelled": "was cancelled",
}
_MAX_MESSAGE = 300
_MAX_NOT_DONE = 600

_VERDICT_SENTENCE: dict[str, str] = {
    "verified": "Verified: the new tests fail on the base commit and pass with the fix, "
    "and the existing suite still passes.",
    "tests_do_not_reproduce": "Not verified: the new tests do not fail on the base commit, "
    "so they do not reproduce the bug.",
    "fix_does_not_pass": "Not verified: the new tests still fail with the fix.",
    "regression": "Not verified: the fix breaks tests of the existing suite that passed before.",
    "no_fix": "Not verified: there is no fix.",
    "no_tests": "Not verified: there are no new tests to check the fix against.",
    "environment_error": "Not verified: the project's environment is broken, so no test could run; "
    "this says nothing about the fix.",
    "build_failed": "Not verified: the [environment] build fails with the fix, so its tests could not run.",
    "not_run": "Not verified: the tests could not be run to a result (see why in the verification).",
}

_HEADLINE: dict[str, str] = {
    "tests_do_not_reproduce": "fix not verified, the new tests do not reproduce the bug",
    "fix_does_not_pass": "the fix does not pass its tests",
    "regression": "the fix breaks existing tests",
    "no_fix": "no fix",
    "no_tests": "fix not verified, no tests",
    "environment_error": "not verified: the project's environment is broken, not the fix",
    "build_failed": "the fix does not build",
    "not_run": "not verified",
}


_ENDED: dict[str, str] = {
    "approving": "approved, opening the pull request",
    "shipped": "shipped",
    "merged": "shipped and merged",
    "closed": "shipped, its pull request closed without merging",
    "cancelled": "cancelled, nothing shipped",
    "expired": "no decision in time, nothing shipped",
}
"""What became of a briefed run once it was decided: its verdict line says so (a verified fix that has
shipped is no longer "ready for review")."""


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when cut."""
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def sentence(text: str) -> str:
    """``text`` ending in exactly one full stop (or its own ``!``/``?``)."""
    text = text.strip()
    return text if text.endswith((".", "!", "?", "…")) else text + "."


def listed(items: Sequence[str], shown: int = 3) -> str:
    """``a, b, c and 2 more``."""
    head = ", ".join(items[:shown])
    return head if len(items) <= shown else f"{head} and {len(items) - shown} more"


def plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {words or word + 's'}"


def format_duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds <= 600:
        return f"{seconds:.0f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    return f"{minutes // 60}h {minutes % 60:02d}m"


def format_usd(amount: float) -> str:
    return f"${amount:.4f}" if 0 < amount < 0.01 else f"${amount:.2f}"


def format_time(at: datetime) -> str:
    """UTC for an aware time; a naive time is shown as it is."""
    if at.tzinfo is None:
        return at.strftime("%Y-%m-%d %H:%M:%S")
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def ordered_agents(agents: Mapping[str, AgentFacts]) -> list[AgentFacts]:
    """The agents in pipeline order (triage, code, test, pr), then any other name."""
    known = [agents[name] for name in AGENT_ORDER if name in agents]
    return known + [agent for name, agent in agents.items() if name not in AGENT_ORDER]


def agent_label(name: str) -> str:
    return AGENT_LABEL.get(name, f"{name} agent")


def agent_reason(agent: AgentFacts) -> str:
    """Why an agent ended, as a verb phrase: ``timed out after 600s``, ``stopped on a model error (…)``."""
    if agent.status == "submitted":
        return "submitted"
    if agent.status == "timeout":
        duration = agent.duration_s
        return f"timed out after {format_duration(duration)}" if duration is not None else "timed out"
    if agent.status == "turn_limit":
        return f"hit its turn limit after {plural(agent.turns, 'turn')}"
    words = _STATUS_WORDS.get(agent.status, agent.status)
    message = agent.message.strip()
    if message and message != agent.status:
        words += f" ({clip(message, _MAX_MESSAGE)})"
    return words


def unfinished_agents(facts: RunFacts) -> list[AgentFacts]:
    """Agents that did not submit, in pipeline order."""
    return [agent for agent in ordered_agents(facts.agents) if agent.status != "submitted"]


def partial_sentences(facts: RunFacts) -> list[str]:
    """What a limit left unfinished: a fix or tests taken from a stopped agent's worktree, as they were."""
    sentences = []
    if facts.fix and facts.fix.partial:
        sentences.append(
            "The fix is partial: the code agent was stopped before it submitted "
            f"({clip(facts.fix.partial, _MAX_MESSAGE)}); what was verified is what its worktree held."
        )
    if facts.tests and facts.tests.partial:
        sentences.append(
            "The tests are partial: the test agent was stopped before it submitted "
            f"({clip(facts.tests.partial, _MAX_MESSAGE)}); they are the test files its worktree held."
        )
    return [sentence(text) for text in sentences]


def has_partial(facts: RunFacts) -> bool:
    """A fix or tests were taken from an agent a limit stopped (never a green run)."""
    return bool((facts.fix and facts.fix.partial) or (facts.tests and facts.tests.partial))


def _consequence(name: str, facts: RunFacts) -> str:
    if (name == "code" and facts.fix and facts.fix.partial) or (
        name == "test" and facts.tests and facts.tests.partial
    ):
        return "Nightshift took what its worktree held, marked partial"
    missing = {
        "triage": (facts.triage, "its triage is missing"),
        "code": (facts.fix, "there is no fix"),
        "test": (facts.tests, "its tests are missing"),
        "pr": (facts.pr_draft, "the PR description was written from the run's facts instead"),
    }
    value, words = missing.get(name, (None, "its result is missing"))
    return words if value is None else "what it submitted is partial"


def verdict_of(facts: RunFacts) -> Verdict:
    return facts.verification.verdict if facts.verification else "not_run"


def verdict_label(verdict: Verdict) -> str:
    """``verified``, or the verdict in words marked as not verified."""
    if verdict in ("verified", "not_run"):
        return VERDICT_TEXT[verdict]
    return f"{VERDICT_TEXT[verdict]} (not verified)"


def verdict_sentence(verdict: Verdict, fix_attempts: int | None = None) -> str:
    """The verdict in plain words; only ``verified`` claims verification."""
    if verdict == "fix_does_not_pass" and fix_attempts:
        return f"Not verified: the new tests still fail with the fix after {plural(fix_attempts, 'attempt')}."
    return _VERDICT_SENTENCE[verdict]


def headline(facts: RunFacts) -> str:
    if facts.status == "failed":
        return f"{facts.ticket.key}: the run failed"
    unchanged = facts.not_acted_on
    if unchanged is not None and facts.shipped_revision is None and facts.status not in IN_PROGRESS:
        return f"{facts.ticket.key}: revision {unchanged.number} did not act on the feedback"
    if facts.status in IN_PROGRESS and facts.verification is None:
        return f"{facts.ticket.key}: {facts.status}"
    verdict = verdict_of(facts)
    ended = _ENDED.get(facts.status)
    if verdict == "verified" and has_partial(facts):
        said = "partial work passes verification, but an agent did not finish"
    elif verdict == "verified":
        return f"{facts.ticket.key}: fix verified, {ended or 'ready for review'}"
    else:
        said = _HEADLINE[verdict]
    return f"{facts.ticket.key}: {said}{f'; {ended}' if ended else ''}"


def phase_counts(verification: VerificationFacts | None) -> Iterator[tuple[str, str, str, TestCounts]]:
    """(phase, label, expectation, counts) for each phase that was measured."""
    if verification is None:
        return
    for phase, label, expectation in PHASES:
        counts = getattr(verification, phase)
        if counts is not None:
            yield phase, label, expectation, counts


def phase_time(verification: VerificationFacts, phase: str) -> str | None:
    """How long the phase's test run took: ``4.2s``, or ``4.2s, reused`` when an earlier verification
    ran it on the same base commit; None when it was not measured."""
    measured = verification.phase_times.get(phase)
    if measured is None:
        return None
    took = format_duration(measured.duration_s)
    return f"{took}, reused from an earlier run" if measured.cached else took


def test_names(names: TestNames, shown: int = 3) -> str:
    """``a, b, c and 4 more``."""
    head = ", ".join(names.names[:shown])
    return head if names.count <= shown else f"{head} and {names.count - shown} more"


def _verdict_warning(facts: RunFacts) -> str | None:
    verification = facts.verification
    verdict = verdict_of(facts)
    if verification is None:
        return None if facts.status in IN_PROGRESS else "Verification did not run."
    if verdict == "not_run":
        return f"Not verified: {sentence(clip(verification.detail, _MAX_MESSAGE))}"
    if verdict == "fix_does_not_pass":
        attempts = plural(verification.fix_attempts, "attempt")
        counts = verification.fixed_with_tests
        shown = f": with the fix the new tests show {counts.summary()}" if counts else ""
        return f"The fix did not pass after {attempts}{shown}."
    if verdict == "regression":
        before, after = verification.base_suite, verification.fixed_suite
        shown = f": {before.summary()} on base, {after.summary()} with the fix" if before and after else ""
        broken = verification.broken
        named = f"; broken: {test_names(broken)}" if broken.count else ""
        return f"The fix breaks the existing suite{shown}{named}."
    if verdict == "tests_do_not_reproduce":
        counts = verification.base_with_tests
        shown = f" ({counts.summary()})" if counts else ""
        return f"The new tests do not fail on the base commit{shown}, so they do not show the bug."
    if verdict == "no_fix":
        return "No fix was produced."
    if verdict == "no_tests":
        return "No new tests were written, so the fix is unchecked."
    if verdict == "build_failed":
        return "The [environment] build fails with the fix; its output is in the evidence."
    if verdict == "environment_error":
        return (
            "The project's environment is the cause, not the fix: the tests could not run. "
            "Configure [environment] setup and test_command, then run `nightshift doctor`."
        )
    return None


def run_warnings(facts: RunFacts) -> list[str]:
    """Plain sentences about everything that went wrong or is missing, most serious first."""
    warnings: list[str] = []
    if facts.error:
        warnings.append(sentence(f"The run failed: {clip(facts.error, _MAX_MESSAGE)}"))
    for agent in unfinished_agents(facts):
        if agent.status in ("pending", "running") and facts.status in IN_PROGRESS:
            continue
        warnings.append(
            f"The {agent_label(agent.name)} {agent_reason(agent)}; {_consequence(agent.name, facts)}."
        )
    if facts.budget_exhausted:
        warnings.append("The per-run budget ran out; agents were stopped.")
    warnings += [sentence(f"Not sent: {reason}") for reason in facts.withheld]
    if facts.environment is not None and not facts.environment.sandboxed:
        warnings.append(UNSANDBOXED)
    verdict_warning = _verdict_warning(facts)
    if verdict_warning:
        warnings.append(verdict_warning)
    if facts.verification is not None and facts.verification.stale:
        warnings.append(facts.verification.stale)
    for _, label, _, counts in phase_counts(facts.verification):
        if counts.timed_out:
            warnings.append(f"The run of '{label}' timed out; its counts are incomplete.")
    return warnings


def all_agents_submitted(facts: RunFacts) -> bool:
    """Every one of the four agents ran and submitted."""
    return all(name in facts.agents for name in AGENT_ORDER) and not unfinished_agents(facts)


def service_name(service: str) -> str:
    return SERVICE_NAMES.get(service, service)


def _clock(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%H:%M:%S UTC") if at.tzinfo else at.strftime("%H:%M:%S")


def delivery_line(delivery: DeliveryFacts, *, now: datetime) -> str:
    """One line on a delivery, e.g. ``Slack: briefing message not delivered yet — HTTP 503 since
    20:14:03 UTC, next try 20:16:10 UTC (attempt 4)``."""
    head = f"{service_name(delivery.service)}: {delivery.what}"
    if delivery.state == "delivered":
        after = f" after {delivery.attempts} attempts" if delivery.attempts > 1 else ""
        when = f" at {_clock(delivery.delivered_at)}" if delivery.delivered_at else ""
        return f"{head} delivered{when}{after}"
    if delivery.state == "abandoned":
        return f"{head} abandoned — {clip(delivery.last_error or 'no reason recorded', _MAX_MESSAGE)}"
    if delivery.failing_since is None:
        return f"{head} being delivered"
    cause = f"HTTP {delivery.last_status}" if delivery.last_status else clip(delivery.last_error or "", 120)
    nxt = delivery.next_attempt_at
    upcoming = "now" if nxt is None or nxt <= now else _clock(nxt)
    return (
        f"{head} not delivered yet — {cause} since {_clock(delivery.failing_since)}, next try {upcoming} "
        f"({plural(delivery.attempts, 'attempt')} so far)"
    )


def revision_label(revision: RevisionFacts) -> str:
    """``revision 1 as briefed at 01:20 UTC``: how an earlier revision is named where it can be shipped."""
    at = revision.briefed_at
    if at is None:
        return f"revision {revision.number}"
    clock = at.astimezone(UTC).strftime("%H:%M UTC") if at.tzinfo else at.strftime("%H:%M")
    return f"revision {revision.number} as briefed at {clock}"


def ship_label(revision: RevisionFacts) -> str:
    """The explicit choice that ships an earlier revision: ``Ship revision 1 as briefed at 01:20 UTC``."""
    return f"Ship {revision_label(revision)}"


def changes_line(files: list[FileChange]) -> str:
    """``todo/service.py (+3 -0) and tests/test_x.py (+8 -0)``."""
    parts = [f"{f.path} ({'binary' if f.binary else f'+{f.added} -{f.removed}'})" for f in files[:4]]
    more = f" and {plural(len(files) - 4, 'more file')}" if len(files) > 4 else ""
    if len(parts) > 1 and not more:
        return f"{', '.join(parts[:-1])} and {parts[-1]}"
    return ", ".join(parts) + more


def revision_note(facts: RunFacts) -> str | None:
    """What the current revision changed since the one before, or that it changed nothing, so the
    reviewer's feedback was not acted on (why: ``not_done_lines``). None for a first revision."""
    current = facts.revision_facts(facts.revision)
    if current is None or current.number == 1:
        return None
    since = f"revision {current.since}" if current.since else "the base commit"
    if facts.not_acted_on is not None:
        return (
            f"Revision {current.number} changed nothing since {since}: the feedback was not acted on, so "
            "there is nothing new to approve."
        )
    if not current.changed:
        return None
    return f"Revision {current.number} changes {changes_line(current.changed)} since {since}."


def not_done_lines(facts: RunFacts) -> list[str]:
    """What the code and test agents say they did not do, in their own words; and, when the current
    revision changed nothing, why each of them did not: its words, its error, or its silence."""
    unchanged = facts.not_acted_on is not None
    lines = []
    for name, result in (("code", facts.fix), ("test", facts.tests)):
        said = result.not_done.strip() if result else ""
        agent = facts.agents.get(name)
        if said:
            lines.append(f"{agent_label(name)}: “{clip(' '.join(said.split()), _MAX_NOT_DONE)}”")
        elif unchanged and agent is not None and agent.status != "submitted":
            lines.append(f"{agent_label(name)}: {agent_reason(agent)}")
        elif unchanged and agent is not None:
            what = "fix" if name == "code" else "tests"
            lines.append(f"{agent_label(name)}: resubmitted its {what} unchanged without saying why")
    return lines
