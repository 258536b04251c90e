"""Start-up repair: runs that an earlier version left in a non-final status, with no workflow to move them,
are resumed when they have a committed fix to brief, and failed with the reason otherwise."""

import subprocess
from pathlib import Path

from client.scripted import ScriptedModelServer
from demo.playground import create_playground
from documents.facts import DecisionFacts, RunFacts, RunStatus, Ticket
from store.runs import Store, database_url
from tests.documents_fixtures import T0, verified_run
from tests.pipeline_fixtures import Pipeline, launch, pipeline_settings

pytest_plugins = ["tests.model_fixtures", "tests.pipeline_fixtures"]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


async def stuck_run(store: Store, repo: Path, status: RunStatus, *, approved: bool, verified: bool) -> str:
    """A run as an earlier version left it: past its agents, with no workflow (it ended in an error)."""
    facts, _ = await store.create_run(Ticket(key="PAY-42", title="Refunds show up as charges", source="jira"))
    run_id = facts.run_id
    branch = f"fix/PAY-42-{run_id}"
    if verified:  # the fix was committed on its branch before the briefing failed
        git(repo, "branch", branch, "main")

    def change(current: RunFacts) -> None:
        stuck = verified_run()
        current.status = status
        current.revision = 1
        current.branch = branch
        current.base_commit = git(repo, "rev-parse", "main")
        if verified:
            current.fix, current.tests, current.verification = stuck.fix, stuck.tests, stuck.verification
        current.decisions = [DecisionFacts(kind="approve", by="sam", at=T0)] if approved else []

    await store.update(run_id, change)
    return run_id


async def test_stuck_runs_are_resumed_or_failed_at_start_up(
    tmp_path: Path, scripted_server: ScriptedModelServer, pipelines: list[Pipeline]
) -> None:
    playground = create_playground(tmp_path / "playground")
    settings = pipeline_settings(playground.repo, tmp_path / "state", scripted_server.base_url)
    store = Store(database_url(settings.data_dir.resolve(), None))
    try:
        briefless = await stuck_run(store, playground.repo, "verifying", approved=False, verified=True)
        approved = await stuck_run(store, playground.repo, "approving", approved=True, verified=True)
        unverified = await stuck_run(store, playground.repo, "running", approved=False, verified=False)
    finally:
        store.close()
    pipeline = await launch(settings, playground, scripted_server)
    pipelines.append(pipeline)
    engine, output = pipeline.engine, pipeline.output

    briefed = await pipeline.briefed(briefless)
    assert briefed.status == "awaiting_decision" and briefed.workflow_id == f"{briefless}.1"
    repaired = "repaired at start-up: the run was verifying but its workflow is gone"
    assert any(repaired in entry.text for entry in briefed.timeline)
    assert "verified" in output.getvalue()  # the briefing was shown at last

    resumed = await pipeline.until(approved, lambda f: f.status == "shipped" and f.pr_url is not None)
    assert resumed.pr_url and any("shipping it as approved" in e.text for e in resumed.timeline)

    failed = await pipeline.until(unverified, lambda f: f.status == "failed")
    assert failed.error is not None
    assert failed.error.startswith("the run was running but its workflow is gone")
    assert failed.error.endswith("repaired at start-up")

    # A restart leaves the resumed workflow alone (it waits for its decision) and the decision reaches it.
    await engine.stop()
    await engine.start()
    again = await pipeline.briefed(briefless)
    assert again.workflow_id == f"{briefless}.1"
    assert (await engine.decide(briefless, "approve", by="sam")).result == "accepted"
    shipped = await pipeline.until(briefless, lambda f: f.status == "shipped" and f.pr_url is not None)
    assert shipped.pr_url
    prs = await engine.rt.store.pull_requests()
    assert sorted(pr.run_id for pr in prs) == sorted([briefless, approved])
