"""Running cases as incidents, isolated from everything the team uses and from each other.

The pipeline runs for real (four agents, verification, self-correction), each case in an engine of its
own, one case after another:

- on a repository of its own that holds the case's parent and its history and nothing else
  (``GitRepo.holding_only``: fetched up to the parent, never pruned from a full clone), so that no
  later commit, tag or ref exists for anything to find; it has no remote, so nothing can be pushed;
  every sandbox of the run shows only its worktree's history (``safety.sandbox.gitview``);
- pinned to the parent commit (``Ticket.base_commit``);
- in a throwaway state directory and SQLite database of its own (a configured PostgreSQL is not used),
  so no note, environment or transcript of another case reaches it;
- with the local notifier, forge and tracker whatever credentials the environment holds: no Slack
  message, pull request, comment or transition leaves the machine; and with no hooks;
- no decision is taken: a run is measured where it stops, briefed (``awaiting_decision``) or ended;
  a briefed run is then cancelled, so that none is left in progress when the engine stops.

The judge then works on the checker's repository (a full clone, which holds the upstream tests), never
on the case's.
"""

import asyncio
import contextlib
import logging
import shutil
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import TextIO

from rich.console import Console

from backtest.cases import Case, Checker
from backtest.judge import judge
from backtest.results import CaseResult, PhaseTimes, outcome_of
from client import Model
from config import Settings
from documents.facts import RunFacts, Ticket
from gitrepo import GitRepo
from gitrepo.command import Git
from integrations.local import TerminalNotifier
from workflow.engine import Engine

logger = logging.getLogger("nightshift.backtest")

CASE_TIMEOUT_S = 6 * 3600.0
"""How long one case may take before it is recorded as timed out (a real model on a large suite with
every self-correction can take an hour; a run that takes six is stuck)."""
KEY_PREFIX = "BT"
CANCEL_TIMEOUT_S = 60.0


async def private_clone(source: Path, commits: list[str], target: Path) -> GitRepo:
    """A clone of ``source`` at ``target`` holding ``commits``, with no remote left: the checker's, which
    picks and judges the cases; no agent ever sees it."""
    await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
    git = Git(target.parent)
    await git.run("clone", "--quiet", "--no-checkout", "--", str(source), str(target))
    clone = Git(target)
    for sha in commits:  # a commit no branch or tag reaches (a detached HEAD's) is fetched by its sha
        if (await clone.run("cat-file", "-e", f"{sha}^{{commit}}", ok=(0, 1, 128))).returncode != 0:
            await clone.run("fetch", "--quiet", "--", str(source), sha)
    await clone.run("remote", "remove", "origin")
    return GitRepo(target)


def isolated_settings(settings: Settings, repo: Path, state: Path) -> Settings:
    """The user's settings for the model, agents, tools, safety and environment; for the rest, the
    backtest's own: the case's repository and state, no database URL, no hooks, one run at a time."""
    isolated = settings.model_copy(deep=True)
    isolated.repo, isolated.data_dir, isolated.database_url = repo, state, None
    isolated.hooks = []
    isolated.workflow.max_concurrent_runs = 1
    isolated.workflow.worker_concurrent_runs = None
    return isolated


@contextlib.asynccontextmanager
async def isolated_engine(settings: Settings, model: Model, briefings: TextIO) -> AsyncIterator[Engine]:
    """An engine on ``isolated_settings``; briefings are printed to ``briefings``, not the terminal."""
    engine = Engine(settings, model=model, notifier=TerminalNotifier(Console(file=briefings, width=100)))
    await engine.start()
    try:
        yield engine
    finally:
        await engine.stop()


def case_ticket(case: Case) -> Ticket:
    """The incident as the upstream commit's message tells it: its subject and body."""
    commit = case.commit
    return Ticket(
        key=f"{KEY_PREFIX}-{commit.sha[:10]}",
        title=(commit.subject or f"commit {commit.sha[:12]}")[:300],
        description=commit.body,
        labels=["backtest"],
        source="cli",
        base_commit=case.parent,
    )


async def run_case(
    settings: Settings,
    model: Model,
    checker: Checker,
    case: Case,
    *,
    place: Path,
    briefings: TextIO,
    timeout_s: float = CASE_TIMEOUT_S,
) -> CaseResult:
    """Run ``case`` as an incident in an engine of its own, in ``place``, until it is briefed or ends;
    then judge it by the upstream tests."""
    source = checker.repo.path
    repo = await GitRepo.holding_only(source, case.parent, place / source.name)
    isolated = isolated_settings(settings, repo.path, place / "state")
    async with isolated_engine(isolated, model, briefings) as engine:
        facts, status = await _play(engine, case, timeout_s)
    agents_fix = facts.fix.diff if facts.fix else ""
    judgement = await judge(checker, case, agents_fix)
    verified = facts.verification is not None and facts.verification.verdict == "verified"
    agents = facts.agents.values()
    return CaseResult(
        commit=case.commit.sha,
        parent=case.parent,
        subject=case.commit.subject,
        run_id=facts.run_id,
        status=status,
        verdict=facts.verification.verdict if facts.verification else None,
        verified=verified,
        fixed=judgement.fixed,
        outcome=outcome_of(judgement.fixed, verified),
        judge_detail=judgement.detail,
        run_detail=facts.verification.detail if facts.verification else facts.error or "",
        fix_attempts=facts.verification.fix_attempts if facts.verification else 0,
        cost_usd=facts.cost_usd,
        input_tokens=sum(agent.input_tokens for agent in agents),
        output_tokens=sum(agent.output_tokens for agent in agents),
        times=phase_times(facts),
        agents_fix=agents_fix,
        upstream_fix=case.fix_diff,
        against_upstream=judgement.against_upstream,
    )


async def _play(engine: Engine, case: Case, timeout_s: float) -> tuple[RunFacts, str]:
    """The run's facts where it stopped, and where that was; a briefed run is cancelled afterwards."""
    facts, _ = await engine.submit(case_ticket(case))
    try:
        facts = await engine.wait_for(
            facts.run_id, lambda f: f.status == "awaiting_decision", timeout_s=timeout_s
        )
    except TimeoutError:
        return await engine.rt.store.get(facts.run_id) or facts, "timed_out"
    if facts.status == "awaiting_decision":  # measured; end it, so that nothing is left in progress
        await engine.decide(facts.run_id, "cancel", by="the backtest")
        with contextlib.suppress(TimeoutError):
            await engine.wait_for(facts.run_id, lambda f: False, timeout_s=CANCEL_TIMEOUT_S)
    finishing = list(engine.rt.workflow_tasks)  # an ended run's workflow still removes its worktrees
    if finishing:
        await asyncio.wait(finishing, timeout=CANCEL_TIMEOUT_S)
    return facts, facts.status


def broken_case(case: Case, reason: str) -> CaseResult:
    """A case the backtest itself could not finish (a git or sandbox failure): not fixed, not verified."""
    return CaseResult(
        commit=case.commit.sha,
        parent=case.parent,
        subject=case.commit.subject,
        run_id=None,
        status="error",
        verdict=None,
        verified=False,
        fixed=False,
        outcome="unfixed",
        judge_detail=f"The backtest could not finish this case: {reason}",
        run_detail="",
        fix_attempts=0,
        cost_usd=0.0,
        input_tokens=0,
        output_tokens=0,
        times=PhaseTimes(),
        agents_fix="",
        upstream_fix=case.fix_diff,
        against_upstream="",
    )


def phase_times(facts: RunFacts) -> PhaseTimes:
    """The phases' wall times, read from the run's timeline (what the pipeline recorded as it went)."""
    timeline = facts.timeline
    if not timeline:
        return PhaseTimes()
    start = facts.created_at or timeline[0].at
    agents_start: datetime | None = None
    verifying: datetime | None = None
    verified_at: datetime | None = None
    verification_s = correction_s = agents_s = 0.0
    for entry in timeline:
        if entry.text == "agents started":
            agents_start = entry.at
        elif entry.text.startswith("verification ") and entry.text.endswith(" started"):
            verifying = entry.at
            if verified_at is not None:
                correction_s += (entry.at - verified_at).total_seconds()
            elif agents_start is not None:
                agents_s = (entry.at - agents_start).total_seconds()
        elif entry.text.startswith("verification: ") and verifying is not None:
            verification_s += (entry.at - verifying).total_seconds()
            verifying, verified_at = None, entry.at
    return PhaseTimes(
        environment_s=facts.environment.duration_s if facts.environment else 0.0,
        agents_s=agents_s,
        verification_s=verification_s,
        correction_s=correction_s,
        total_s=(timeline[-1].at - start).total_seconds(),
    )


async def run_cases(
    settings: Settings,
    model: Model,
    checker: Checker,
    cases: list[Case],
    *,
    root: Path,
    briefings: TextIO,
    console: Console,
) -> list[CaseResult]:
    """Every case, one after another, each in ``root/<commit>`` (removed once the case is measured: its
    environment alone may be large); a line on ``console`` as each ends."""
    results = []
    for case in cases:
        place = root / case.commit.sha[:12]
        try:
            result = await run_case(settings, model, checker, case, place=place, briefings=briefings)
        except Exception as exc:  # one broken case must not lose the others' results
            logger.exception("backtest case %s failed", case.commit.sha)
            result = broken_case(case, f"{type(exc).__name__}: {exc}")
        finally:
            await asyncio.to_thread(shutil.rmtree, place, ignore_errors=True)
        commit = case.commit
        console.print(f"  {commit.sha[:10]} {commit.subject[:60]}: {result.outcome}", highlight=False)
        results.append(result)
    return results
