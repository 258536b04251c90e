"""The durable incident workflow (DBOS).

    incident(run_id)                       the whole life of a run; holds no queue slot
      ingest                               step: sync the repository, record the base commit
      agent_phase(run_id, revision, ...)   child workflow on the agents queue (max_concurrent_runs)
        environment                        step: prepare or reuse the repository's environment
        agent x4 | code + test (revise)    steps: each agent in its own worktree (gather)
        verify [-> code retry -> verify]   steps: the real cross-check, self-correction
      commit, brief                        steps: the branch (workflow.revisions), the report, the briefing
      recv("decision", timeout)            durable wait: approve | request_changes | cancel | expiry
      ship | finish                        steps: the run's end; the PR and the messages are deliveries

    resumed_incident(run_id, revision, approved)   a run repaired at start-up (``workflow.repair``):
                                           from its briefing, or from shipping when it was approved

Workflow code is replayed after a crash, so every branch it takes depends only on recorded step
results; everything with side effects is a step (``workflow.steps``). Nothing a step sends outside
can fail the run: sends are deliveries (``deliveries.deliverer``). Whatever else fails, the run ends
``failed`` with the reason, and the failure path itself cannot raise but for the database.
"""

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from dbos import DBOS, PropagateOtelContext, Queue

from config import WorkflowSettings
from documents.facts import RunStatus
from telemetry import logs
from workflow import steps
from workflow.runtime import current

logger = logging.getLogger("nightshift.workflow")

AGENT_QUEUE = "nightshift-agents"
AGENTS = ("triage", "code", "test", "pr")
REVISING = ("code", "test")
"""The agents a reviewer's feedback goes to: each acts on what concerns its own files, or says why not."""
DECISION_TOPIC = "decision"
QUEUE_POLL_S = 0.2


@DBOS.step(name="nightshift.ingest")
async def ingest_step(run_id: str) -> str:
    return await steps.ingest(current(), run_id)


@DBOS.step(name="nightshift.agent")
async def agent_step(run_id: str, name: str, mode: str, attempt: int, feedback: str | None) -> str:
    try:
        return await steps.run_agent_step(current(), run_id, name, mode, attempt, feedback)
    except Exception as exc:  # an agent that crashes is a failed agent, not a failed run
        await steps.agent_crashed(current(), run_id, name, exc)
        return "failed"


@DBOS.step(name="nightshift.prepare")
async def prepare_step(run_id: str) -> None:
    await steps.prepare_step(current(), run_id, AGENTS)


@DBOS.step(name="nightshift.environment")
async def environment_step(run_id: str) -> bool:
    return await steps.environment_step(current(), run_id)


@DBOS.step(name="nightshift.verify")
async def verify_step(run_id: str, revision: int, attempt: int) -> dict[str, Any]:
    return await steps.verify_step(current(), run_id, revision, attempt)


@DBOS.step(name="nightshift.status")
async def status_step(run_id: str, status: RunStatus, note: str) -> None:
    await steps.set_status(current(), run_id, status, note)


@DBOS.step(name="nightshift.commit")
async def commit_step(run_id: str, revision: int) -> str | None:
    return await steps.commit_step(current(), run_id, revision)


@DBOS.step(name="nightshift.brief")
async def brief_step(run_id: str, revision: int) -> None:
    await steps.brief_step(current(), run_id, revision)


@DBOS.step(name="nightshift.decision")
async def decision_step(run_id: str, decision: dict[str, Any]) -> None:
    await steps.record_decision(current(), run_id, decision)


@DBOS.step(name="nightshift.ship")
async def ship_step(run_id: str) -> None:
    await steps.ship_step(current(), run_id)


@DBOS.step(name="nightshift.finish")
async def finish_step(run_id: str, status: RunStatus, reason: str) -> None:
    await steps.finish_step(current(), run_id, status, reason)


@contextlib.contextmanager
def running(run_id: str) -> Iterator[None]:
    """Registers the current workflow's task with the runtime while it runs; what it logs is about
    ``run_id`` (``telemetry.logs``).

    ``Engine.stop`` cancels these tasks before it shuts DBOS down. A cancelled workflow records
    nothing and DBOS resumes it at the next launch; left running, a workflow would meet DBOS's closed
    thread pool mid-step, and the error could be recorded as the run's (an agent "crashed", a run
    "failed") when it was only the shutdown.
    """
    task = asyncio.current_task()
    assert task is not None, "workflows run in a task"
    tasks = current().workflow_tasks
    tasks.add(task)
    try:
        with logs.about(run_id=run_id):
            yield
    finally:
        tasks.discard(task)


@DBOS.workflow(name="nightshift.agent_phase")
async def agent_phase(run_id: str, revision: int, feedback: str | None) -> str:
    """The agent work of one revision: runs while holding one of the queue's slots."""
    with running(run_id):
        return await _agent_work(run_id, revision, feedback)


async def _agent_work(run_id: str, revision: int, feedback: str | None) -> str:
    max_attempts = current().settings.workflow.max_fix_attempts
    if revision == 1:
        await prepare_step(run_id)
        if not await environment_step(run_id):
            return "environment_error"
        await status_step(run_id, "running", "agents started")
        await asyncio.gather(
            *(agent_step(run_id, name, "fork", 0, None) for name in AGENTS), return_exceptions=True
        )
    else:
        await status_step(
            run_id, "revising", f"revision {revision}: the code and test agents address the feedback"
        )
        await asyncio.gather(
            *(agent_step(run_id, name, "revise", revision, feedback) for name in REVISING),
            return_exceptions=True,
        )
    attempt = 0
    outcome = await verify_step(run_id, revision, attempt)
    while outcome["retry"] and attempt < max_attempts:
        attempt += 1
        await agent_step(run_id, "code", "retry", attempt, None)
        outcome = await verify_step(run_id, revision, attempt)
    return str(outcome["verdict"])


@DBOS.workflow(name="nightshift.incident")
async def incident(run_id: str) -> str:
    with running(run_id):
        return await _incident(run_id)


@DBOS.workflow(name="nightshift.resume")
async def resumed_incident(run_id: str, revision: int, approved: bool) -> str:
    """A run whose workflow ended without ending the run (``workflow.repair``): it is briefed again at
    ``revision`` and decided as usual, or, when its approval was recorded, shipped."""
    with running(run_id):
        return await _incident(run_id, resume=(revision, approved))


async def _incident(run_id: str, resume: tuple[int, bool] | None = None) -> str:
    try:
        return await _stages(run_id, resume)
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        logger.warning("run %s failed: %s", run_id, reason)
        await finish_step(run_id, "failed", reason)
        return "failed"


async def _stages(run_id: str, resume: tuple[int, bool] | None) -> str:
    settings = current().settings.workflow
    if resume is None:
        await ingest_step(run_id)
        revision, feedback = 1, None
        await _revision(run_id, revision, feedback)
    else:
        revision, approved = resume
        if approved:
            await ship_step(run_id)
            return "shipped"
    while True:
        await brief_step(run_id, revision)
        decision = await _next_decision(run_id, revision, settings.decision_timeout_s)
        if decision is None:
            hours = settings.decision_timeout_s / 3600
            await finish_step(run_id, "expired", f"no decision within {hours:g} h")
            return "expired"
        await decision_step(run_id, decision)
        if decision["kind"] == "approve":
            await ship_step(run_id)
            return "shipped"
        if decision["kind"] == "cancel":
            await finish_step(run_id, "cancelled", f"cancelled by {decision.get('by') or 'a reviewer'}")
            return "cancelled"
        revision, feedback = revision + 1, str(decision.get("feedback") or "")
        await _revision(run_id, revision, feedback)


async def _revision(run_id: str, revision: int, feedback: str | None) -> None:
    """The agents' work on one revision (in the queue), then its commit."""
    queue = await agents_queue()
    with PropagateOtelContext():  # the phase joins the run's trace, on whichever worker dequeues it
        phase = await queue.enqueue_async(agent_phase, run_id, revision, feedback)
    await phase.get_result()
    await commit_step(run_id, revision)


async def agents_queue() -> Queue:
    """The queue agent phases wait in; registered (persisted) at start-up, re-registered if missing."""
    queue = await DBOS.retrieve_queue_async(AGENT_QUEUE)
    return queue or await register_agents_queue(current().settings.workflow)


async def register_agents_queue(settings: WorkflowSettings) -> Queue:
    """The queue's limits, kept by DBOS in the database and so shared by every worker.

    ``max_concurrent_runs`` is global: each claim is rechecked against the database in its own
    transaction, so it holds under load and across workers. ``worker_concurrent_runs`` caps one worker
    (counted by that worker), so that the phases spread over the workers instead of the first one to
    poll taking them all.
    """
    return await DBOS.register_queue_async(
        AGENT_QUEUE,
        global_concurrency=settings.max_concurrent_runs,
        worker_concurrency=settings.worker_concurrent_runs,
        polling_interval_sec=QUEUE_POLL_S,
    )


async def _next_decision(run_id: str, revision: int, timeout_s: float) -> dict[str, Any] | None:
    """The next decision meant for this revision; a stale one (for an earlier briefing) is skipped."""
    while True:
        message = await DBOS.recv_async(DECISION_TOPIC, timeout_seconds=timeout_s)
        if message is None or message.get("revision") == revision:
            return message
