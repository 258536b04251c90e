"""The bodies of the pipeline's durable steps. Each takes ids, reads the run's facts, acts, records.

Steps run at least once (a crash replays the one that was running), so each is idempotent: worktrees
are reset or reused, commits are matched before being made. What a step sends outside (the briefing,
the pull request, ticket transitions and comments) it records as a delivery (``deliveries.deliverer``)
with a key of its own, so a replay records nothing twice, and the run moves on without waiting for it.
"""

import logging
import shutil
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any, TypeVar

from agent.exits import LIMIT_STATUSES
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
from gitrepo import CommitSpec, branch_name
from integrations.base import IntegrationError
from safety.errors import SecretFound
from store import reports
from store.base_suites import BaseSuites
from verify import ENVIRONMENT_ADVICE, verify
from verify.cache import BaseSuiteCache, suite_key
from workflow.agent_runs import agent_worktree, prepare_worktrees, run_in_worktree
from workflow.alerts import ingest_alert
from workflow.repository_view import repository_view
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


async def set_status(rt: Runtime, run_id: str, status: RunStatus, note: str | None = None) -> RunFacts:
    def change(facts: RunFacts) -> None:
        facts.status = status
        if note:
            facts.timeline.append(TimelineEntry(at=datetime.now(UTC), text=note))

    facts = await rt.store.update(run_id, change)
    rt.bus.publish(run_id, "status", {"status": status, "note": note})
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
    """One agent run. ``mode``: ``fork`` (first run), ``retry`` (self-correction), ``revise`` (feedback)."""
    facts = await _facts(rt, run_id)
    ticket = facts.ticket
    if mode == "fork" and name == "pr":
        goal = goals.pr_goal(ticket)
    elif mode == "fork":
        first = {"triage": goals.triage_goal, "code": goals.code_goal, "test": goals.test_goal}[name]
        goal = first(ticket, _notes(rt, facts), await repository_view(rt, facts))
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
    else:
        goal = goals.revise_goal(ticket, feedback or "", facts.fix.diff if facts.fix else "")
    result = await run_in_worktree(
        rt, facts, name, goal, fresh=mode == "fork", label=f"{name}-{mode}-{attempt}"
    )
    return result.status


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
    # A fix or tests count when their agent submitted them, or when a limit stopped it and its worktree's
    # work was recorded as partial (said so everywhere); an agent that gave up hands in nothing. What
    # they changed comes from the database: the agents may have run on another worker.
    fix_diff = (await rt.store.agent_diff(run_id, "code") or "") if _handed_in(facts, "code") else ""
    test_diff = (await rt.store.agent_diff(run_id, "test") or "") if _handed_in(facts, "test") else ""
    test_changes = diff_files(test_diff)
    test_files = [change.path for change in test_changes if change.status != "deleted"]
    prepared = await rt.environments.prepare(facts.base_commit)
    command = rt.settings.environment.test_command
    key = suite_key(rt.repo.path.name, facts.base_commit, prepared, command)
    result = await verify(
        rt.repo,
        base=facts.base_commit,
        fix_diff=fix_diff,
        test_diff=test_diff,
        test_files=test_files,
        workdir=rt.worktree(run_id, f"verify-{revision}-{attempt}"),
        test_command=command,
        timeout_s=rt.settings.tools.test_timeout_s,
        sandbox=rt.sandbox,
        environment=prepared.environment,
        parallel=rt.settings.environment.parallel_phases,
        cache=BaseSuiteCache(BaseSuites(rt.store.engine), key),
    )
    result = result.model_copy(update={"fix_attempts": attempt + 1})
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


def _handed_in(facts: RunFacts, name: str) -> bool:
    """The agent submitted, or a limit stopped it and what its worktree held was taken as partial."""
    agent = facts.agents.get(name)
    if agent is None:
        return False
    result = facts.fix if name == "code" else facts.tests
    return agent.status == "submitted" or (agent.status in LIMIT_STATUSES and bool(result and result.partial))


async def branch_tip(rt: Runtime, run_id: str) -> str | None:
    """Where the run's branch is now, as pushed to origin (perhaps by another worker)."""
    facts = await _facts(rt, run_id)
    return await rt.repo.fetch_branch(facts.branch) if facts.branch else None


async def commit_step(rt: Runtime, run_id: str, revision: int, tip: str | None) -> list[str]:
    """Commit on the run's branch and push it when there is an origin.

    Revision 1 makes two commits on the base commit, the fix and the tests; a later revision adds one
    commit on ``tip`` (the branch head recorded before the revision started) with the code agent's
    new changes.
    """
    facts = await _facts(rt, run_id)
    assert facts.base_commit is not None and facts.branch is not None
    await rt.repo.fetch_branch(facts.branch)  # an earlier commit step may have run on another worker
    commits: list[CommitSpec] = []
    if tip is None:
        parent = facts.base_commit
        if facts.fix and facts.fix.diff:
            commits.append(CommitSpec(_fix_message(facts), facts.fix.diff))
        if facts.tests and facts.tests.diff:
            commits.append(
                CommitSpec(
                    f"Add regression tests for {facts.ticket.key}\n\n{facts.tests.notes}".strip(),
                    facts.tests.diff,
                )
            )
    else:
        parent = tip
        is_test = rt.test_rules(facts).is_test_file
        delta = await rt.repo.worktree_diff(
            await agent_worktree(rt, facts, "code"), parent, include=lambda p: not is_test(p)
        )
        if delta:
            commits.append(
                CommitSpec(
                    f"Revise fix for {facts.ticket.key} (revision {revision})\n\n"
                    f"Requested: {_last_feedback(facts)}",
                    delta,
                )
            )
    shas = await rt.repo.commit_on_branch(facts.branch, parent, commits, author=rt.settings.workflow.author)
    if not shas and await rt.repo.branch_head(facts.branch) is None:
        rt.bus.publish(run_id, "committed", {"branch": None, "commits": [], "pushed": False})
        return shas  # no agent changed anything: no branch, nothing to push
    try:
        rt.secret_scan.check(
            f"{PUSH_WITHHELD}{facts.branch}", *(c.diff for c in commits), *(c.message for c in commits)
        )
    except SecretFound as exc:
        await _withhold(rt, run_id, str(exc))
        return shas
    pushed = await rt.repo.push(facts.branch)
    rt.bus.publish(run_id, "committed", {"branch": facts.branch, "commits": shas, "pushed": pushed})
    return shas


async def _withhold(rt: Runtime, run_id: str, reason: str) -> None:
    """Record a send the secret scan stopped (the reason names the secret, never its value)."""
    logger.error("run %s: %s", run_id, reason)

    def change(facts: RunFacts) -> None:
        facts.withheld.append(reason)
        facts.timeline.append(TimelineEntry(at=datetime.now(UTC), text=reason))

    await rt.store.update(run_id, change)
    rt.bus.publish(run_id, "withheld", {"reason": reason})


def _fix_message(facts: RunFacts) -> str:
    assert facts.fix is not None
    title = facts.ticket.title.splitlines()[0][:60]
    return (
        f"Fix {facts.ticket.key}: {title}\n\nRoot cause: {facts.fix.root_cause}\n\n"
        f"Nightshift run {facts.run_id}"
    )


def _last_feedback(facts: RunFacts) -> str:
    requests = [d.feedback for d in facts.decisions if d.kind == "request_changes" and d.feedback]
    return requests[-1] if requests else ""


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
        kind=kind, by=decision.get("by"), feedback=decision.get("feedback"), at=datetime.now(UTC)
    )

    def change(facts: RunFacts) -> None:
        facts.decisions.append(entry)
        facts.timeline.append(
            TimelineEntry(at=entry.at, text=f"decision: {kind}" + (f" by {entry.by}" if entry.by else ""))
        )

    facts = await rt.store.update(run_id, change)
    rt.bus.publish(run_id, "decision", {"decision": kind, "by": entry.by, "feedback": entry.feedback})
    if kind == "request_changes" and entry.feedback:
        rt.notes.add("reviewer", f"Reviewer feedback on {facts.ticket.key}: {entry.feedback}")


async def ship_step(rt: Runtime, run_id: str) -> None:
    """Record the pull request's delivery (one per branch, opened as soon as the forge answers), then
    conclude: the run is shipped; the ticket and the briefing follow the pull request."""
    facts = await set_status(rt, run_id, "approving", "approved; the pull request is being opened")
    await rt.hooks.fire("approved", {"run_id": run_id})
    fix_diff = (facts.fix.diff if facts.fix else "") + (facts.tests.diff if facts.tests else "")
    await rt.deliveries.record(
        run_id,
        "pull_request",
        f"{run_id}:pull_request",
        {
            "title": render_pr_title(facts),
            "body": render_pr_body(facts),
            "diff": fix_diff,
            "draft": rt.settings.workflow.draft_prs,
            "labels": list(rt.settings.workflow.pr_labels),
        },
    )
    await _conclude(rt, facts, "shipped", f"shipped: branch {facts.branch}")


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
    """Report, clean up, and then record the final status, with the briefing showing it: whoever waits
    for the status finds the run's worktrees gone. The notifier is told by a delivery."""
    final = facts.model_copy(
        update={
            "status": status,
            "timeline": [*facts.timeline, TimelineEntry(at=datetime.now(UTC), text=note)],
        }
    )
    try:
        write_report(rt, final)
    except OSError:
        logger.exception("run %s: the report could not be written", facts.run_id)
    await _best_effort(facts.run_id, "the clean-up", cleanup(rt, facts.run_id))
    await set_status(rt, facts.run_id, status, note)
    await rt.deliveries.arm_briefing(facts.run_id)
    await rt.bus.flush()


async def cleanup(rt: Runtime, run_id: str) -> None:
    """Remove the run's worktrees; nothing of the run stays checked out."""
    root = rt.data_dir / "worktrees" / run_id
    if root.exists():
        for worktree in sorted(root.iterdir()):
            await rt.repo.remove_worktree(worktree)
        shutil.rmtree(root, ignore_errors=True)
    rt.budgets.pop(run_id, None)
    await rt.bus.flush()
