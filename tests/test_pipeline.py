"""The incident pipeline end to end: real git, real pytest, real SQLite/DBOS, the scripted model."""

import asyncio
import base64
import subprocess
from pathlib import Path

from pydantic import SecretStr

from client.scripted import ScriptedModelServer, Turn
from client.scripted.incident import REVISION_FEEDBACK, SAMPLE_TICKET, revision_turns, sample_incident_script
from config import Secrets
from documents.briefing import build_briefing
from documents.slack_blocks import briefing_blocks
from tests.pipeline_fixtures import Pipeline, start_pipeline

pytest_plugins = ["tests.model_fixtures", "tests.pipeline_fixtures"]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


async def test_sample_incident_is_verified_committed_briefed_and_shipped(
    tmp_path: Path, scripted_server: ScriptedModelServer, pipelines: list[Pipeline]
) -> None:
    pipeline = await start_pipeline(tmp_path, scripted_server, sample_incident_script())
    pipelines.append(pipeline)
    run = await pipeline.submit(SAMPLE_TICKET)
    facts = await pipeline.briefed(run.run_id)

    verification = facts.verification
    assert verification is not None and verification.verdict == "verified"
    assert (verification.base_with_tests.failed, verification.fixed_with_tests.passed) == (2, 2)  # type: ignore[union-attr]
    assert verification.base_suite.passed == verification.fixed_suite.passed == 11  # type: ignore[union-attr]
    assert {name: agent.status for name, agent in facts.agents.items()} == dict.fromkeys(
        ("triage", "code", "test", "pr"), "submitted"
    )
    assert all(a.started_at and a.finished_at and a.turns > 0 for a in facts.agents.values())
    assert facts.cost_usd > 0 and abs(facts.cost_usd - sum(a.cost_usd for a in facts.agents.values())) < 1e-9
    assert facts.triage is not None and facts.triage.priority == "P2"
    assert facts.fix is not None and [f.path for f in facts.fix.files] == ["todo/service.py"]

    branch = facts.branch
    assert branch == f"fix/TODO-42-{run.run_id}"
    origin = pipeline.playground.origin
    log = git(origin, "log", "--format=%s", f"{facts.base_commit}..{branch}").splitlines()
    assert log == ["Add regression tests for TODO-42", "Fix TODO-42: Completing a todo twice reopens it"]
    assert "verified" in pipeline.output.getvalue()
    report = pipeline.engine.rt.report_path(run.run_id).read_text()
    assert "verified" in report and "todo/service.py" in report

    outcome = await pipeline.engine.decide(run.run_id, "approve", by="sam")
    assert outcome.result == "accepted"
    shipped = await pipeline.until(run.run_id, lambda f: f.status == "shipped")
    prs = await pipeline.engine.rt.store.pull_requests(run_id=run.run_id)
    assert len(prs) == 1 and prs[0].branch == branch and shipped.pr_url == "local://pull-requests/1"
    assert "todo.completed = True" in prs[0].diff and "11 passed" in prs[0].body
    events = [e.kind for e in await pipeline.engine.rt.store.events_of(run.run_id)]
    assert "ticket_transition" in events and "pr_opened" in events
    assert not (pipeline.engine.rt.data_dir / "worktrees" / run.run_id).exists()
    assert git(pipeline.playground.repo, "worktree", "list").count("\n") == 0  # only the main checkout


async def test_wrong_fix_is_reported_as_not_passing_after_self_correction(
    tmp_path: Path, scripted_server: ScriptedModelServer, pipelines: list[Pipeline]
) -> None:
    pipeline = await start_pipeline(tmp_path, scripted_server, sample_incident_script(wrong_fix=True))
    pipelines.append(pipeline)
    run = await pipeline.submit(SAMPLE_TICKET)
    facts = await pipeline.briefed(run.run_id)
    assert facts.verification is not None
    assert facts.verification.verdict == "fix_does_not_pass"
    assert facts.verification.fix_attempts == 3  # the first try and max_fix_attempts (2) corrections
    assert facts.verification.fixed_with_tests is not None and facts.verification.fixed_with_tests.failed > 0
    briefing = build_briefing(facts)
    assert not briefing.verified and briefing.tone == "bad"
    assert "fix does not pass" in briefing.verdict_text
    assert "fix does not pass" in pipeline.output.getvalue().lower()


async def test_request_changes_makes_a_second_revision_on_the_same_branch(
    tmp_path: Path, scripted_server: ScriptedModelServer, pipelines: list[Pipeline]
) -> None:
    scripts = sample_incident_script()
    scripts["code agent"] = [*scripts["code agent"], *revision_turns()]
    pipeline = await start_pipeline(tmp_path, scripted_server, scripts)
    pipelines.append(pipeline)
    run = await pipeline.submit(SAMPLE_TICKET)
    first = await pipeline.briefed(run.run_id)
    first_tip = git(pipeline.playground.origin, "rev-parse", first.branch or "")

    outcome = await pipeline.engine.decide(
        run.run_id, "request_changes", feedback=REVISION_FEEDBACK, by="sam"
    )
    assert outcome.result == "accepted"
    second = await pipeline.briefed(run.run_id, revision=2)
    assert second.revision == 2 and second.branch == first.branch
    assert second.verification is not None and second.verification.verdict == "verified"
    log = git(pipeline.playground.origin, "log", "--format=%s", f"{first_tip}..{second.branch}").splitlines()
    assert len(log) == 1 and log[0].startswith("Revise fix for TODO-42 (revision 2)")
    assert "idempotent" in git(pipeline.playground.origin, "show", f"{second.branch}:todo/service.py")
    assert [d.kind for d in second.decisions] == ["request_changes"]
    notes = pipeline.engine.rt.notes.search("complete docstring idempotent")
    assert notes and notes[0]["agent"] == "reviewer"  # kept for later runs on this repository

    await pipeline.engine.decide(run.run_id, "approve")
    shipped = await pipeline.until(run.run_id, lambda f: f.status == "shipped")
    prs = await pipeline.engine.rt.store.pull_requests()
    assert len(prs) == 1 and prs[0].branch == shipped.branch and "idempotent" in prs[0].diff


async def test_double_approval_opens_one_pull_request(
    tmp_path: Path, scripted_server: ScriptedModelServer, pipelines: list[Pipeline]
) -> None:
    pipeline = await start_pipeline(tmp_path, scripted_server, sample_incident_script())
    pipelines.append(pipeline)
    run = await pipeline.submit(SAMPLE_TICKET)
    await pipeline.briefed(run.run_id)
    outcomes = await asyncio.gather(*(pipeline.engine.decide(run.run_id, "approve") for _ in range(2)))
    assert {o.result for o in outcomes} <= {"accepted", "already"}
    await pipeline.until(run.run_id, lambda f: f.status == "shipped")
    again = await pipeline.engine.decide(run.run_id, "approve")
    assert again.result == "already" and again.facts.pr_url
    assert len(await pipeline.engine.rt.store.pull_requests()) == 1
    assert len([d for d in again.facts.decisions if d.kind == "approve"]) == 1


async def test_an_agent_that_times_out_is_named_and_nothing_claims_verification(
    tmp_path: Path, scripted_server: ScriptedModelServer, pipelines: list[Pipeline]
) -> None:
    scripts = sample_incident_script()
    scripts["test agent"] = [Turn(content="Reading the tests", stall_after_chunks=1, stall_s=30)]
    pipeline = await start_pipeline(tmp_path, scripted_server, scripts)
    pipelines.append(pipeline)
    pipeline.engine.settings.agents.test.timeout_s = 1.5
    run = await pipeline.submit(SAMPLE_TICKET)
    facts = await pipeline.briefed(run.run_id)
    assert facts.agents["test"].status == "timeout"
    assert facts.verification is not None and facts.verification.verdict == "no_tests"
    briefing = build_briefing(facts)
    assert not briefing.verified and briefing.tone != "good"
    assert any("test agent" in w.lower() and "timed out" in w for w in briefing.warnings)
    shown = pipeline.output.getvalue()
    assert "timed out" in shown and "Verified:" not in shown


async def test_decision_timeout_expires_the_run(
    tmp_path: Path, scripted_server: ScriptedModelServer, pipelines: list[Pipeline]
) -> None:
    pipeline = await start_pipeline(
        tmp_path, scripted_server, sample_incident_script(), decision_timeout_s=1.0
    )
    pipelines.append(pipeline)
    run = await pipeline.submit(SAMPLE_TICKET)
    facts = await pipeline.until(run.run_id, lambda f: f.status == "expired")
    assert "no decision within" in facts.timeline[-1].text
    late = await pipeline.engine.decide(run.run_id, "approve")
    assert late.result == "conflict" and "expired" in late.reason
    assert await pipeline.engine.rt.store.pull_requests() == []


async def test_cancel_ends_the_run_without_a_pull_request(
    tmp_path: Path, scripted_server: ScriptedModelServer, pipelines: list[Pipeline]
) -> None:
    pipeline = await start_pipeline(tmp_path, scripted_server, sample_incident_script())
    pipelines.append(pipeline)
    run = await pipeline.submit(SAMPLE_TICKET)
    await pipeline.briefed(run.run_id)
    await pipeline.engine.decide(run.run_id, "cancel", by="sam")
    facts = await pipeline.until(run.run_id, lambda f: f.status == "cancelled")
    assert "cancelled by sam" in facts.timeline[-1].text
    assert await pipeline.engine.rt.store.pull_requests() == []
    assert git(pipeline.playground.repo, "worktree", "list").count("\n") == 0


async def test_a_fix_carrying_a_secret_is_never_pushed_and_cannot_be_approved(
    tmp_path: Path, scripted_server: ScriptedModelServer, pipelines: list[Pipeline]
) -> None:
    """The code agent (talked into it by a ticket) leaves the bot's token base64-encoded in a comment:
    the secret scan withholds the push, the briefing says which secret, and approving is refused."""
    secret = "ghp_R4nd0mTok3nValue0123456789"
    scripts = sample_incident_script()
    for turn in scripts["code agent"]:
        for call in turn.tool_calls:
            if call.name == "edit_file" and isinstance(call.arguments, dict):
                leaked = base64.b64encode(secret.encode()).decode()
                call.arguments["new_text"] += f"        # bootstrap: {leaked}\n"
    pipeline = await start_pipeline(tmp_path, scripted_server, scripts)
    pipeline.engine.settings.secrets = Secrets(values={"GITHUB_TOKEN": SecretStr(secret)})
    pipelines.append(pipeline)
    run = await pipeline.submit(SAMPLE_TICKET)
    facts = await pipeline.briefed(run.run_id)

    assert facts.withheld == [
        f"the push of {facts.branch} was not sent: it contains the secret GITHUB_TOKEN (base64); "
        "nothing of it left Nightshift"
    ]
    refs = git(pipeline.playground.origin, "for-each-ref", "--format=%(refname)", "refs/heads/fix/")
    assert refs == "", "nothing was pushed"
    assert any(w.startswith("Not sent: the push of") for w in build_briefing(facts).warnings)
    outcome = await pipeline.engine.decide(run.run_id, "approve", by="sam")
    assert outcome.result == "conflict" and "cannot be approved: the push of" in outcome.reason


async def test_when_every_agent_gives_up_the_briefing_says_so_and_there_is_nothing_to_ship(
    tmp_path: Path, scripted_server: ScriptedModelServer, pipelines: list[Pipeline]
) -> None:
    gives_up = [Turn(content="I cannot find the cause."), Turn(content="I give up.")]
    scripts = {agent: list(gives_up) for agent in sample_incident_script()}
    pipeline = await start_pipeline(tmp_path, scripted_server, scripts)
    pipelines.append(pipeline)
    run = await pipeline.submit(SAMPLE_TICKET)
    facts = await pipeline.briefed(run.run_id)

    assert "submitted" not in {agent.status for agent in facts.agents.values()}
    assert facts.status == "awaiting_decision", facts.timeline[-1].text
    assert facts.verification is not None and facts.verification.verdict != "verified"
    assert git(pipeline.playground.origin, "for-each-ref", "refs/heads/fix/") == "", "no empty branch pushed"
    briefing = build_briefing(facts)
    assert not briefing.verified and briefing.branch is None
    assert briefing.actions == ["request_changes", "cancel"] and "nothing to approve" in briefing.summary
    buttons = next(b for b in briefing_blocks(briefing) if b["type"] == "actions")["elements"]
    assert [button["text"]["text"] for button in buttons] == ["Request changes"]
    outcome = await pipeline.engine.decide(run.run_id, "approve", by="sam")
    assert outcome.result == "conflict" and "no fix" in outcome.reason
    assert await pipeline.engine.rt.store.pull_requests() == []
