"""The bodies of the pipeline's durable steps. Each takes ids, reads the run's facts, acts, records.

Steps run at least once (a crash replays the one that was running), so each is idempotent: worktrees
are reset or reused, commits are matched before being made. What a step sends outside (the briefing,
the pull request, ticket transitions and comments) it records as a delivery (``deliveries.deliverer``)
with a key of its own, so a replay records nothing twice, and the run moves on without waiting for it.
"""

import logging
import shutil
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from agents import goals
from documents.briefing import build_briefing
from documents.diffstat import diff_files
from documents.facts import (
    PUSH_WITHHELD,
    AgentFacts,
    DecisionFacts,
    EnvironmentFacts,
    RunFacts,
    RunStatus,
    TimelineEntry,
    VerificationFacts,
)
from documents.pr_body import render_pr_body, render_pr_title
from environment.layout import project_test_patterns
from gitrepo import branch_name, revision_ref
from integrations.base import IntegrationError
from safety.errors import SecretFound
from store import reports
from store.base_suites import BaseSuites
from telemetry import metrics
from verify import ENVIRONMENT_ADVICE, verify
from verify.cache import BaseSuiteCache
from workflow.agent_runs import Start, prepare_worktrees, run_in_worktree, submitted_diff
from workflow.alerts import ingest_alert
from workflow.repository_view import base_suite_key, failing_on_base, repository_view
from workflow.revisions import as_shipped, commit_revision, drop_revisions
from workflow.runtime import Runtime

logger = logging.getLogger("nightshift.workflow")
T = TypeVar("T")

RETRY_VERDICTS = tuple(goals.RETRY_TEMPLATES)
"""Verdicts the code agent can do something about (``fix_does_not_pass``, ``regression``, ``no_fix``,
``build_failed``); the others are the test agent's or the environment's. A test that already fails on
the base commit never leads to one of them (``verify.compare``), so no retry is spent on failures the
fix did not cause."""


async def _facts(rt: Runtime, run_id: str) -> RunFacts:
    facts = await rt.store.get(run_id)
    if facts is None:
        raise KeyError(f"run {run_id} is not in the database")
    return facts


PULL_REQUEST_ENDED: tuple[RunStatus, ...] = ("merged", "closed")
"""A run whose pull request was merged or closed stays so: no later status change moves it out."""


def status_change(status: RunStatus, note: str | None = None) -> Callable[[RunFacts], None]:
    """The change of a run's facts to ``status``, with ``note`` in its timeline; none when its pull
    request ended meanwhile (a review round's ``revising`` never overwrites ``merged``)."""
    entry = TimelineEntry(at=datetime.now(UTC), text=note) if note else None

    def change(facts: RunFacts) -> None:
        if facts.status in PULL_REQUEST_ENDED:
            return
        facts.status = status
        if entry is not None:
            facts.timeline.append(entry)

    return change


async def set_status(rt: Runtime, run_id: str, status: RunStatus, note: str | None = None) -> RunFacts:
    """Move the run to ``status`` (``status_change``, checked in the same transaction)."""
    facts = await rt.store.update(run_id, status_change(status, note))
    if facts.status == status:
        rt.bus.publish(run_id, "status", {"status": status, "note": note})
        logger.info("run %s is %s: %s", run_id, status, note or "")
    return facts


async def ingest(rt: Runtime, run_id: str) -> str:
    """Bring the repository up to date with its default branch (or take the ticket's pinned commit);
    record the base commit; complete the ticket from the tracker, the CI logs and the alert that started
    the run (``workflow.alerts``)."""
    facts = await _facts(rt, run_id)
    await rt.hooks.fire("run_started", {"run_id": run_id, "ticket": facts.ticket.model_dump(mode="json")})
    pinned = facts.ticket.base_commit
    base = await rt.repo.resolve(pinned) if pinned else await rt.repo.sync()
    ticket = await _outside(rt, run_id, "tracker refresh", rt.tracker.refresh(facts.ticket)) or facts.ticket
    excerpt = await _outside(rt, run_id, "CI logs", rt.forge.ci_context(ticket))
    ticket = ticket.model_copy(update={"ci_excerpt": excerpt or ticket.ci_excerpt})
    ticket = await ingest_alert(rt, facts, ticket, base)

    def change(facts: RunFacts) -> None:
        facts.ticket = ticket
        facts.base_commit = base
        facts.branch = branch_name(facts.ticket.key, run_id)
        facts.timeline.append(
            TimelineEntry(at=datetime.now(UTC), text=f"ingested at base commit {base[:12]}")
        )

    await rt.store.update(run_id, change)
    await rt.deliveries.record(
        run_id, "transition", f"{run_id}:transition:In Progress", {"status": "In Progress"}
    )
    rt.bus.publish(run_id, "ingested", {"base_commit": base})
    return base


async def _outside(rt: Runtime, run_id: str, what: str, call: Awaitable[T]) -> T | None:
    """A read from the tracker or CI that must not fail the run: a failure is logged and shown as an event."""
    try:
        return await call
    except IntegrationError as exc:
        logger.warning("run %s: %s failed: %s", run_id, what, exc)
        rt.bus.publish(run_id, "integration_error", {"what": what, "error": str(exc)})
        return None


def _notes(rt: Runtime, facts: RunFacts) -> list[str]:
    """Notes from earlier runs on this repository (reviewers' feedback first) relevant to the ticket."""
    found = rt.notes.search(f"{facts.ticket.title} {facts.ticket.description}")
    found.sort(key=lambda note: note["agent"] != "reviewer")
    return [f"{note['ts'][:10]}: {note['note']}" for note in found]


async def prepare_step(rt: Runtime, run_id: str, names: tuple[str, ...]) -> None:
    await prepare_worktrees(rt, await _facts(rt, run_id), names)


async def environment_step(rt: Runtime, run_id: str) -> bool:
    """Prepare (or reuse) the repository's environment for the base commit and read which files are the
    project's tests; record both. False when the set-up failed: then the verdict is the environment's."""
    facts = await _facts(rt, run_id)
    assert facts.base_commit is not None
    prepared = await rt.environments.prepare(facts.base_commit)
    patterns = await project_test_patterns(rt.repo, facts.base_commit, rt.settings)
    recorded = EnvironmentFacts(
        sandbox=rt.sandbox.describe() if rt.sandbox.sandboxed else "unsandboxed",
        sandboxed=rt.sandbox.sandboxed,
        status=prepared.status,
        key=prepared.key,
        detail=prepared.detail,
        log=prepared.log,
        duration_s=prepared.duration_s,
    )

    def change(facts: RunFacts) -> None:
        facts.environment, facts.test_files = recorded, patterns
        facts.timeline.append(TimelineEntry(at=datetime.now(UTC), text=f"environment: {prepared.status}"))
        if not prepared.ok:
            facts.verification = VerificationFacts(
                verdict="environment_error",
                detail=f"{prepared.detail} The agents did not run. {ENVIRONMENT_ADVICE}",
                excerpts={"setup": prepared.log},
            )

    await rt.store.update(run_id, change)
    rt.bus.publish(run_id, "environment", {"status": prepared.status, "detail": prepared.detail})
    return prepared.ok


async def run_agent_step(
    rt: Runtime, run_id: str, name: str, mode: str, attempt: int, feedback: str | None
) -> str:
    """One agent run. ``mode``: ``fork`` (first run), ``retry`` (self-correction), ``revise`` (feedback:
    the code or the test agent, from its last submission, told what the other agents settled)."""
    facts = await _facts(rt, run_id)
    ticket = facts.ticket
    start: Start = "base"
    if mode == "fork" and name == "pr":
        goal = goals.pr_goal(ticket)
    elif mode == "fork":
        first = {"triage": goals.triage_goal, "code": goals.code_goal, "test": goals.test_goal}[name]
        view = await repository_view(rt, facts, await failing_on_base(rt, facts))
        goal = first(ticket, _notes(rt, facts), view)
    elif mode == "retry":
        verification = facts.verification
        failure = (
            verification.detail
            + "\n\n"
            + "\n\n".join(f"{phase}:\n{text}" for phase, text in verification.excerpts.items())
            if verification
            else "verification did not run"
        )
        goal = goals.retry_fix_goal(
            ticket,
            failure,
            facts.fix.diff if facts.fix else "",
            verdict=verification.verdict if verification else "no_fix",
            criteria=facts.triage.acceptance_criteria if facts.triage else (),
        )
        start = "worktree"
    else:
        goal = _revise_goal(facts, name, feedback or "")
        start = "submission"
        await rt.store.update(run_id, lambda current: _forget_not_done(current, name))
    result = await run_in_worktree(rt, facts, name, goal, start=start, label=f"{name}-{mode}-{attempt}")
    return result.status


def _revise_goal(facts: RunFacts, name: str, feedback: str) -> str:
    """The task of a revision run: the feedback, with what the agent and the others settled before."""
    context = goals.RevisionContext(
        feedback=feedback,
        fix_diff=facts.fix.diff if facts.fix else "",
        explanation=facts.fix.explanation if facts.fix else "",
        test_diff=facts.tests.diff if facts.tests else "",
        test_notes=facts.tests.notes if facts.tests else "",
        criteria=list(facts.triage.acceptance_criteria) if facts.triage else [],
    )
    if name == "test":
        return goals.revise_tests_goal(facts.ticket, context)
    return goals.revise_goal(facts.ticket, context)


def _forget_not_done(facts: RunFacts, name: str) -> None:
    """What an agent said it did not do answered the previous request: it is not this revision's."""
    if name == "code" and facts.fix is not None:
        facts.fix.not_done = ""
    if name == "test" and facts.tests is not None:
        facts.tests.not_done = ""


async def agent_crashed(rt: Runtime, run_id: str, name: str, exc: Exception) -> None:
    """Record an agent whose run raised (a bug or an outside failure) as failed, with the reason."""
    reason = f"crashed: {type(exc).__name__}: {exc}"
    logger.exception("agent %s of run %s crashed", name, run_id)

    def change(facts: RunFacts) -> None:
        agent = facts.agents.get(name) or AgentFacts(name=name)  # type: ignore[arg-type]
        facts.agents[name] = agent.model_copy(
            update={"status": "failed", "message": reason, "finished_at": datetime.now(UTC)}
        )

    await rt.store.update(run_id, change)
    rt.bus.publish(run_id, "finished", {"status": "failed", "message": reason}, agent=name)
    await rt.hooks.fire("on_error", {"run_id": run_id, "agent": name, "message": reason})


async def verify_step(rt: Runtime, run_id: str, revision: int, attempt: int) -> dict[str, Any]:
    """Cross-check the code agent's fix against the test agent's tests in a fresh worktree."""
    facts = await set_status(rt, run_id, "verifying", f"verification {revision}.{attempt} started")
    assert facts.base_commit is not None
    # A fix or tests count only as their agent last handed them in: submitted, or, when a limit stopped
    # it, what its worktree held, recorded as partial (said so everywhere). A half-done edit of an agent
    # that gave up is not a fix, and an agent that fails in a retry or a revision leaves its earlier
    # submission standing. What they handed in comes from the database: the agents may have run on
    # another worker.
    fix_diff = await submitted_diff(rt, facts, "code")
    test_diff = await submitted_diff(rt, facts, "test")
    test_changes = diff_files(test_diff)
    test_files = [change.path for change in test_changes if change.status != "deleted"]
    prepared = await rt.environments.prepare(facts.base_commit)
    started = time.monotonic()
    result = await verify(
        rt.repo,
        base=facts.base_commit,
        fix_diff=fix_diff,
        test_diff=test_diff,
        test_files=test_files,
        workdir=rt.worktree(run_id, f"verify-{revision}-{attempt}"),
        test_command=rt.settings.environment.test_command,
        timeout_s=rt.settings.tools.test_timeout_s,
        sandbox=rt.sandbox,
        environment=prepared.environment,
        parallel=rt.settings.environment.parallel_phases,
        cache=BaseSuiteCache(BaseSuites(rt.store.engine), base_suite_key(rt, facts.base_commit, prepared)),
    )
    result = result.model_copy(update={"fix_attempts": attempt + 1})
    metrics.observe_verification(result.verdict, time.monotonic() - started)
    out_of_budget = facts.cost_usd >= rt.settings.workflow.max_run_cost_usd

    def change(facts: RunFacts) -> None:
        facts.verification = result
        facts.budget_exhausted = facts.budget_exhausted or out_of_budget
        if facts.fix is not None:
            facts.fix = facts.fix.model_copy(update={"diff": fix_diff, "files": diff_files(fix_diff)})
        if facts.tests is not None:
            facts.tests = facts.tests.model_copy(update={"diff": test_diff, "files": test_changes})
        facts.timeline.append(TimelineEntry(at=datetime.now(UTC), text=f"verification: {result.verdict}"))

    await rt.store.update(run_id, change)
    rt.bus.publish(run_id, "verified", {"verdict": result.verdict, "detail": result.detail})
    return {"verdict": result.verdict, "retry": result.verdict in RETRY_VERDICTS and not out_of_budget}


async def commit_step(rt: Runtime, run_id: str, revision: int) -> str | None:
    """Put the revision on the run's branch (``workflow.revisions``) and push it when there is an
    origin, with the ref that keeps the revision's commit; the branch head, None: nothing to ship."""
    facts = await _facts(rt, run_id)
    assert facts.base_commit is not None and facts.branch is not None
    await rt.repo.fetch_branch(facts.branch)  # an earlier commit step may have run on another worker
    commits, head = await commit_revision(rt, facts, revision)
    if head is None:
        rt.bus.publish(run_id, "committed", {"branch": None, "head": None, "pushed": False})
        return None  # nothing to ship: no branch (or it was taken down)
    try:
        rt.secret_scan.check(
            f"{PUSH_WITHHELD}{facts.branch}", *(c.diff for c in commits), *(c.message for c in commits)
        )
    except SecretFound as exc:
        await _withhold(rt, run_id, str(exc))
        return head
    pushed = await rt.repo.push(facts.branch, keep=[revision_ref(run_id, revision)])
    rt.bus.publish(run_id, "committed", {"branch": facts.branch, "head": head, "pushed": pushed})
    return head


async def _withhold(rt: Runtime, run_id: str, reason: str) -> None:
    """Record a send the secret scan stopped (the reason names the secret, never its value)."""
    logger.error("run %s: %s", run_id, reason)

    def change(facts: RunFacts) -> None:
        facts.withheld.append(reason)
        facts.timeline.append(TimelineEntry(at=datetime.now(UTC), text=reason))

    await rt.store.update(run_id, change)
    rt.bus.publish(run_id, "withheld", {"reason": reason})


async def brief_step(rt: Runtime, run_id: str, revision: int) -> None:
    """Render the report and the briefing; the run awaits a decision; the briefing is delivered.

    The status changes as soon as the briefing is built: the API, the web page and the terminal show
    it at once, and a decision can be taken there while the notifier is unreachable. Showing it (a
    Slack message, posted once and then updated in place) is a delivery that never holds the run.
    """
    entry = TimelineEntry(at=datetime.now(UTC), text=f"briefing for revision {revision}")

    def change(facts: RunFacts) -> None:
        facts.status, facts.revision = "awaiting_decision", revision
        facts.timeline.append(entry)
        record = facts.revision_facts(revision)
        if record is not None and record.briefed_at is None:
            record.briefed_at = entry.at

    facts = await _facts(rt, run_id)  # a copy of its own: the store keeps the facts as JSON
    change(facts)  # what the report shows: the run as it is once briefed
    write_report(rt, facts)
    briefing = build_briefing(facts)
    await rt.deliveries.arm_briefing(run_id, change=change)  # one transaction: never the status alone
    rt.bus.publish(run_id, "status", {"status": "awaiting_decision", "revision": revision})
    rt.bus.publish(
        run_id, "briefing", {"revision": revision, "verdict": briefing.verdict, "tone": briefing.tone}
    )


def write_report(rt: Runtime, facts: RunFacts) -> None:
    reports.write_report(rt.data_dir, facts)


async def record_decision(rt: Runtime, run_id: str, decision: dict[str, Any]) -> None:
    kind = decision["kind"]
    entry = DecisionFacts(
        kind=kind,
        by=decision.get("by"),
        feedback=decision.get("feedback"),
        at=datetime.now(UTC),
        ship_revision=decision.get("ship_revision"),
    )

    def change(facts: RunFacts) -> None:
        facts.decisions.append(entry)
        facts.timeline.append(
            TimelineEntry(
                at=entry.at,
                text=f"decision: {kind}"
                + (f" revision {entry.ship_revision}" if entry.ship_revision else "")
                + (f" by {entry.by}" if entry.by else ""),
            )
        )

    facts = await rt.store.update(run_id, change)
    rt.bus.publish(run_id, "decision", {"decision": kind, "by": entry.by, "feedback": entry.feedback})
    if kind == "request_changes" and entry.feedback:
        rt.notes.add("reviewer", f"Reviewer feedback on {facts.ticket.key}: {entry.feedback}")


async def ship_step(rt: Runtime, run_id: str) -> None:
    """The run is approving and its pull request's delivery recorded (one per branch, opened as soon as
    the forge answers), in one transaction; then conclude: the run is shipped; the ticket and the
    briefing follow the pull request. What ships is the revision approved: the latest, or an earlier
    one chosen explicitly (``workflow.revisions``)."""
    note = "approved; the pull request is being opened"
    shown = await as_shipped(rt, await _facts(rt, run_id))  # what the pull request and the report show
    status_change("approving", note)(shown)

    def approving(current: RunFacts) -> None:
        approved = shown.model_copy(deep=True)  # nothing shared with the facts shown
        for field in ("status", "shipped_revision", "fix", "tests", "verification", "timeline"):
            setattr(current, field, getattr(approved, field))

    fix_diff = (shown.fix.diff if shown.fix else "") + (shown.tests.diff if shown.tests else "")
    await rt.deliveries.record(
        run_id,
        "pull_request",
        f"{run_id}:pull_request",
        {
            "title": render_pr_title(shown),
            "body": render_pr_body(shown),
            "diff": fix_diff,
            "draft": rt.settings.workflow.draft_prs,
            "labels": list(rt.settings.workflow.pr_labels),
        },
        change=approving,  # one transaction: never approving without the pull request on its way
    )
    rt.bus.publish(run_id, "status", {"status": "approving", "note": note})
    await rt.hooks.fire("approved", {"run_id": run_id})
    await _conclude(rt, shown, "shipped", f"shipped: branch {shown.branch}")


async def finish_step(rt: Runtime, run_id: str, status: RunStatus, reason: str) -> None:
    """End a run that will not ship: cancelled, expired or failed. Says why, everywhere.

    Part of the failure path, so nothing but the database can make it raise: the report, the hooks,
    the briefing and the clean-up are each done as well as they can be, and the final status is
    recorded whatever became of them.
    """
    if status == "failed":
        await rt.store.update(run_id, lambda f: setattr(f, "error", reason))
        fired = rt.hooks.fire("run_failed", {"run_id": run_id, "reason": reason})
        await _best_effort(run_id, "the run_failed hook", fired)
    await _conclude(rt, await _facts(rt, run_id), status, f"{status}: {reason}")


async def _best_effort(run_id: str, what: str, work: Awaitable[object]) -> None:
    """``work`` that the end of a run must not depend on: a failure is logged with its traceback."""
    try:
        await work
    except Exception:
        logger.exception("run %s: %s failed; the run ends all the same", run_id, what)


async def _conclude(rt: Runtime, facts: RunFacts, status: RunStatus, note: str) -> None:
    """Report, clean up, and then record the final status and arm the briefing showing it, in one
    transaction: whoever waits for the status finds the run's worktrees gone and its briefing on its
    way. The notifier is told by a delivery."""
    final = facts.model_copy(deep=True)
    conclude = status_change(status, note)
    conclude(final)
    try:
        write_report(rt, final)
    except OSError:
        logger.exception("run %s: the report could not be written", facts.run_id)
    await _best_effort(facts.run_id, "the clean-up", cleanup(rt, facts.run_id))
    await rt.deliveries.arm_briefing(facts.run_id, change=conclude)
    rt.bus.publish(facts.run_id, "status", {"status": status, "note": note})
    await rt.bus.flush()


async def cleanup(rt: Runtime, run_id: str) -> None:
    """Remove the run's worktrees; nothing of the run stays checked out."""
    await drop_revisions(rt, run_id)
    root = rt.data_dir / "worktrees" / run_id
    if root.exists():
        for worktree in sorted(root.iterdir()):
            await rt.repo.remove_worktree(worktree)
        shutil.rmtree(root, ignore_errors=True)
    rt.budgets.pop(run_id, None)
    await rt.bus.flush()
