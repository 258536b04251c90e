"""Running one agent of a run in its own worktree, and recording what it did in the run's facts.

A code or test agent that a limit stops before it submits still leaves work in its worktree: that work
is recorded as a partial fix or partial tests (``FixFacts.partial``, ``TestFacts.partial``), verified as
it is, and every rendering says it is partial.

What an agent changed is recorded in the database when it finishes (``Store.save_agent_diff``), not only
left in its worktree: with several workers, the verification, a self-correction or the commit of a
revision may run on another worker than the agent did, and that worker rebuilds the worktree from the
record (``agent_worktree``). What it changed when it last *submitted* is recorded too
(``submitted_key``; a partial result counts as submitted): that is its result, which verification
checks and a revision starts from; a run that fails after an earlier submission leaves that submission
standing.
"""

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from agent import AgentEvent, AgentResult, SharedBudget, run_agent
from agents import AGENT_ROLES, build_specs
from agents.definitions import PARTIAL_ON_LIMIT, WRITABLE_SHELL
from documents.diffstat import diff_files
from documents.facts import AgentFacts, FixFacts, PrDraft, RunFacts, TestFacts, TriageFacts
from telemetry import logs, metrics
from tools import ToolContext
from workflow.runtime import Runtime

logger = logging.getLogger("nightshift.agents")


Start = Literal["base", "worktree", "submission"]
"""Where an agent run starts: the base commit (a first run), its worktree as the agent left it (a
self-correction), or the base commit with the agent's last submission (a revision)."""


def submitted_key(name: str) -> str:
    """The agent-diff record of what agent ``name`` changed when it last submitted."""
    return f"{name}:submitted"


async def submitted_diff(rt: Runtime, facts: RunFacts, name: str) -> str:
    """What agent ``name`` changed when it last submitted; empty when it never did. (A run begun before
    this record existed has only its worktree's record, which counts when its latest run submitted.)"""
    recorded = await rt.store.agent_diff(facts.run_id, submitted_key(name))
    if recorded is not None:
        return recorded
    agent = facts.agents.get(name)
    submitted = agent is not None and agent.status == "submitted"
    return (await rt.store.agent_diff(facts.run_id, name) or "") if submitted else ""


def hands_in(name: str, result: AgentResult, changed: list[str]) -> bool:
    """Whether what agent ``name``'s worktree holds is its result: it submitted, or a limit stopped it
    with work there (a partial result, ``PARTIAL_ON_LIMIT``)."""
    if result.status == "submitted":
        return True
    return result.stopped_by_limit and name in PARTIAL_ON_LIMIT and bool(changed)


async def tool_context(rt: Runtime, facts: RunFacts, name: str) -> ToolContext:
    """The tool context of agent ``name`` in its worktree, in the repository's environment."""
    assert facts.base_commit is not None
    prepared = await rt.environments.prepare(facts.base_commit)
    return ToolContext.create(
        rt.worktree(facts.run_id, name),
        agent=name,
        role=AGENT_ROLES[name],
        settings=rt.settings,
        state_dir=rt.data_dir,
        repo_id=rt.repo.path.name,
        secrets=rt.settings.secrets.named(),
        sandbox=rt.sandbox,
        environment=prepared.environment,
        test_files=rt.test_rules(facts).test_patterns,
        read_only_shell=name not in WRITABLE_SHELL,
    )


async def run_in_worktree(
    rt: Runtime, facts: RunFacts, name: str, goal: str, *, start: Start, label: str
) -> AgentResult:
    """Run agent ``name`` on ``goal`` from ``start``.

    A first run and a revision reset the worktree first, so a step replayed after a crash starts from
    the same tree; a retry continues from the agent's previous edits (``agent_worktree``). When the
    agent has finished, what it changed is recorded before its facts say so.
    """
    with logs.about(agent=name):
        result = await _run_in_worktree(rt, facts, name, goal, start=start, label=label)
        metrics.observe_agent(name, result.status, result.duration_s)
        logger.info("agent %s ended %s after %.1f s: %s", name, result.status, result.duration_s, label)
        return result


async def _run_in_worktree(
    rt: Runtime, facts: RunFacts, name: str, goal: str, *, start: Start, label: str
) -> AgentResult:
    assert facts.base_commit is not None
    if start == "worktree":
        worktree = await agent_worktree(rt, facts, name)
    else:
        worktree = await rt.repo.add_worktree(rt.worktree(facts.run_id, name), facts.base_commit)
        await rt.repo.reset_worktree(worktree, facts.base_commit)
        if start == "submission":
            await rt.repo.apply(worktree, await submitted_diff(rt, facts, name))
    spec = build_specs(rt.settings)[name]
    budget = rt.budgets.setdefault(
        facts.run_id, SharedBudget(rt.settings.workflow.max_run_cost_usd, spent_usd=facts.cost_usd)
    )
    progress = _Progress(rt, facts.run_id, name)
    await progress.started(spec.model)
    result = await run_agent(
        spec,
        goal,
        model=rt.model,
        # an added MCP tool whose server did not start is missing (checked at start-up): left out
        tools=rt.registry.select(tool for tool in spec.tools if tool in rt.registry),
        ctx=await tool_context(rt, facts, name),
        context=rt.settings.context,
        context_window=rt.settings.model.context_window,
        hooks=rt.hooks,
        sink=progress,
        transcript=rt.transcript(facts.run_id, label),
        budget=budget,
    )
    changes = result_paths(rt, facts, name)
    changed: list[str] = []
    if changes is not None:
        diff = await rt.repo.worktree_diff(worktree, facts.base_commit, include=changes)
        await rt.store.save_agent_diff(facts.run_id, name, diff)
        changed = [change.path for change in diff_files(diff) if change.status != "deleted"]
        if hands_in(name, result, changed):
            await rt.store.save_agent_diff(facts.run_id, submitted_key(name), diff)
    await progress.finished(result, changed)
    return result


def result_paths(rt: Runtime, facts: RunFacts, name: str) -> Callable[[str], bool] | None:
    """The paths whose changes are agent ``name``'s result: the code agent's fix is everything but test
    files, the test agent's tests are the test files; the other agents change nothing that is kept."""
    is_test = rt.test_rules(facts).is_test_file
    if name == "code":
        return lambda path: not is_test(path)
    if name == "test":
        return is_test
    return None


async def agent_worktree(rt: Runtime, facts: RunFacts, name: str) -> Path:
    """Agent ``name``'s worktree as it left it: the one on this worker, or, when the agent ran on
    another worker, one rebuilt here from the base commit and the agent's recorded changes."""
    assert facts.base_commit is not None
    path = rt.worktree(facts.run_id, name)
    here = path.exists()
    worktree = await rt.repo.add_worktree(path, facts.base_commit)
    if not here:
        diff = await rt.store.agent_diff(facts.run_id, name)
        if diff:
            await rt.repo.apply(worktree, diff)
    return worktree


async def prepare_worktrees(rt: Runtime, facts: RunFacts, names: tuple[str, ...]) -> None:
    """Create the agents' worktrees before the fork, so that no agent waits for another's
    ``git worktree add`` (they take the repository's lock one at a time)."""
    assert facts.base_commit is not None
    for name in names:
        await rt.repo.add_worktree(rt.worktree(facts.run_id, name), facts.base_commit)


class _Progress:
    """The agent's event sink: publishes every event, keeps the agent's facts current."""

    def __init__(self, rt: Runtime, run_id: str, name: str) -> None:
        self.rt, self.run_id, self.name = rt, run_id, name
        self.base: AgentFacts | None = None
        self.pending: set[asyncio.Task[RunFacts]] = set()

    async def started(self, model: str) -> None:
        def change(facts: RunFacts) -> None:
            previous = facts.agents.get(self.name) or AgentFacts(name=self.name)  # type: ignore[arg-type]
            self.base = previous.model_copy()
            facts.agents[self.name] = previous.model_copy(
                update={
                    "status": "running",
                    "message": "",
                    "model": model,
                    "worker": self.rt.executor_id,
                    "finished_at": None,
                    "started_at": previous.started_at or datetime.now(UTC),
                }
            )

        await self.rt.store.update(self.run_id, change)

    def __call__(self, event: AgentEvent) -> None:
        self.rt.bus.publish(self.run_id, event.kind, event.data, agent=self.name)
        if event.kind in ("turn_started", "usage"):
            task = asyncio.get_running_loop().create_task(
                self.rt.store.update(self.run_id, self._live(event))
            )
            self.pending.add(task)
            task.add_done_callback(self.pending.discard)

    def _live(self, event: AgentEvent) -> Any:
        base = self.base or AgentFacts(name=self.name)  # type: ignore[arg-type]

        def change(facts: RunFacts) -> None:
            current = facts.agents[self.name]
            if event.kind == "turn_started":
                current.turns = base.turns + int(event.data["turn"])
            else:
                current.input_tokens = base.input_tokens + int(event.data["input_tokens"])
                current.output_tokens = base.output_tokens + int(event.data["output_tokens"])
                current.cost_usd = base.cost_usd + float(event.data["cost_usd"])

        return change

    async def finished(self, result: AgentResult, changed: list[str]) -> None:
        """Record how the agent ended and what it submitted; ``changed``: the files its recorded diff
        adds or changes (a partial result when a limit stopped it)."""
        await asyncio.gather(*self.pending, return_exceptions=True)
        base = self.base or AgentFacts(name=self.name)  # type: ignore[arg-type]

        def change(facts: RunFacts) -> None:
            facts.agents[self.name] = base.model_copy(
                update={
                    "status": result.status,
                    "message": result.message,
                    "model": facts.agents[self.name].model,
                    "worker": self.rt.executor_id,
                    "started_at": facts.agents[self.name].started_at,
                    "finished_at": datetime.now(UTC),
                    "turns": base.turns + result.turns,
                    "input_tokens": base.input_tokens + result.usage.input_tokens,
                    "output_tokens": base.output_tokens + result.usage.output_tokens,
                    "cost_usd": base.cost_usd + result.usage.cost_usd,
                }
            )
            facts.cost_usd = sum(agent.cost_usd for agent in facts.agents.values())
            _record_submission(facts, self.name, result)
            if result.status != "submitted" and hands_in(self.name, result, changed):
                _record_partial(facts, self.name, result.message, changed)

        await self.rt.store.update(self.run_id, change)


def _record_submission(facts: RunFacts, name: str, result: AgentResult) -> None:
    if result.submission is None:
        return
    data = result.submission.model_dump()
    if name == "triage":
        facts.triage = TriageFacts.model_validate(data)
    elif name == "pr":
        facts.pr_draft = PrDraft.model_validate(data)
    elif name == "code":
        previous = facts.fix
        facts.fix = FixFacts(
            root_cause=data["root_cause"],
            explanation=data["explanation"],
            not_done=data.get("not_done", ""),
            diff=previous.diff if previous else "",
            files=previous.files if previous else [],
        )
    elif name == "test":
        previous_tests = facts.tests
        facts.tests = TestFacts(
            test_files=data["test_files"],
            test_names=data["test_names"],
            notes=data["notes"],
            not_done=data.get("not_done", ""),
            diff=previous_tests.diff if previous_tests else "",
            files=previous_tests.files if previous_tests else [],
        )


PARTIAL_ROOT_CAUSE = "Not given: the code agent was stopped before it submitted."
PARTIAL_EXPLANATION = (
    "Not given: the code agent was stopped before it submitted; the diff is what its worktree held."
)


def _record_partial(facts: RunFacts, name: str, reason: str, changed: list[str]) -> None:
    """A code or test agent stopped by a limit: what its worktree holds counts, marked partial. An earlier
    submission's words (a retry stopped part-way) are kept, with the mark."""
    if name == "code":
        previous = facts.fix
        facts.fix = FixFacts(
            root_cause=previous.root_cause if previous else PARTIAL_ROOT_CAUSE,
            explanation=previous.explanation if previous else PARTIAL_EXPLANATION,
            diff=previous.diff if previous else "",
            files=previous.files if previous else [],
            partial=reason,
        )
    elif name == "test":
        facts.tests = TestFacts(
            test_files=changed, test_names=[], notes="", diff="", files=[], partial=reason
        )
