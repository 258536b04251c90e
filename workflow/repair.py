"""Start-up repair: runs left in a non-final status that nothing will move again.

A run is moved by its workflow until it ends. A run whose workflow is gone, or ended without ending the
run (as an earlier version's failure path could, when a Slack outage made it raise), stays in its
status for good: invisible to its reviewers, impossible to decide. At start-up every such run is
repaired, once, by whichever worker starts first:

- resumed, when it got as far as a committed fix for its current revision (a verification on record,
  its branch in the repository, or a revision that changed nothing and took its branch down; no
  decision after the briefing it waits for): a workflow of its own
  (``nightshift.resume``) briefs it again and waits for the decision, or ships it when its approval was
  recorded;
- otherwise failed, with the reason, like any run that cannot go on.

A queued run without a workflow is not stuck: the engine starts it (``Engine._start_unstarted_runs``).
A workflow that is pending or enqueued (on this worker or another) is left to DBOS.
"""

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from dbos import DBOS

from documents.facts import RunFacts, TimelineEntry
from store.runs import ACTIVE_STATUSES
from workflow import steps
from workflow.runtime import Runtime

logger = logging.getLogger("nightshift.repair")

LIVE_WORKFLOW = ("PENDING", "ENQUEUED", "DELAYED")
"""DBOS workflow statuses with something still to come."""

ResumeStarter = Callable[[str, str, int, bool], Awaitable[None]]
"""Starts ``nightshift.resume`` as (workflow id, run id, revision, approved)."""


async def repair_stuck_runs(rt: Runtime, start_resumed: ResumeStarter) -> list[str]:
    """Resume or fail every stuck run; the ids of the runs repaired."""
    repaired: list[str] = []
    for facts in await rt.store.list_runs(limit=100_000, statuses=list(ACTIVE_STATUSES)):
        workflow_id = facts.workflow_id or facts.run_id
        workflow = await DBOS.get_workflow_status_async(workflow_id)
        if workflow is not None and workflow.status in LIVE_WORKFLOW:
            continue
        if workflow is None and facts.status == "queued" and facts.workflow_id is None:
            continue
        ended = (
            "is gone"
            if workflow is None
            else f"ended ({workflow.status}{f': {workflow.error}' if workflow.error else ''})"
        )
        why = f"the run was {facts.status.replace('_', ' ')} but its workflow {ended}"
        resume = await _resume_point(rt, facts)
        if resume is None:
            logger.warning("run %s: %s; it cannot be resumed and is failed", facts.run_id, why)
            await steps.finish_step(rt, facts.run_id, "failed", f"{why}; repaired at start-up")
        elif not await _resume(rt, facts, resume, why, start_resumed):
            continue
        repaired.append(facts.run_id)
    return repaired


async def _resume_point(rt: Runtime, facts: RunFacts) -> tuple[int, bool] | None:
    """``(revision, approved)`` to resume at, or None when the run's current revision has no committed
    fix to brief (it stopped before its verification or its commit)."""
    if facts.verification is None or not facts.branch or facts.status == "queued":
        return None
    decided = facts.decisions[-1].kind if facts.decisions else None
    revision = 1 + sum(decision.kind == "request_changes" for decision in facts.decisions)
    if decided == "cancel" or facts.revision != revision:
        return None
    record = facts.revision_facts(revision)
    unchanged = record is not None and record.commit is None  # its branch was taken down: none to find
    if not unchanged and await rt.repo.fetch_branch(facts.branch) is None:  # pushed, perhaps elsewhere
        return None
    return revision, decided == "approve"


async def _resume(
    rt: Runtime, facts: RunFacts, resume: tuple[int, bool], why: str, start_resumed: ResumeStarter
) -> bool:
    """Hand the run to a new workflow; False when another worker did it first."""
    old = facts.workflow_id or facts.run_id
    number = int(old.rsplit(".", 1)[1]) + 1 if "." in old else 1
    new = f"{facts.run_id}.{number}"
    revision, approved = resume
    note = f"repaired at start-up: {why}; " + (
        "shipping it as approved" if approved else f"briefing revision {revision} again"
    )
    taken = False

    def change(current: RunFacts) -> None:
        nonlocal taken
        if (current.workflow_id or current.run_id) == old:
            taken = True
            current.workflow_id = new
            current.timeline.append(TimelineEntry(at=datetime.now(UTC), text=note))

    await rt.store.update(facts.run_id, change)
    if not taken:
        return False
    logger.warning("run %s: %s", facts.run_id, note)
    await start_resumed(new, facts.run_id, revision, approved)
    return True
