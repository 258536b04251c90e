"""Revisions end to end (real git with a bare origin, real pytest, real SQLite/DBOS, the scripted model):
what ships is what the latest briefing shows, a revision says what it changed or why it did not, an
earlier revision ships only by an explicit choice, and the reviewer's feedback reaches both agents."""

import subprocess
from pathlib import Path

import pytest

from client.scripted import ScriptedModelServer
from demo.incident import (
    ADDED_TEST_NAME,
    CODE_REVISION,
    DECLINED,
    REVISION_FEEDBACK,
    SAMPLE_TICKET,
    TEST_FEEDBACK,
    TEST_REVISION,
    added_test_turns,
    broken_revision_turns,
    declined_revision_turns,
    kept_tests_turns,
    sample_incident_script,
)
from documents.briefing import build_briefing
from documents.facts import RunFacts
from documents.slack_blocks import briefing_blocks
from gitrepo import revision_ref
from tests.pipeline_fixtures import Pipeline, start_pipeline

pytest_plugins = ["tests.model_fixtures", "tests.pipeline_fixtures"]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


async def second_revision(pipeline: Pipeline, feedback: str = REVISION_FEEDBACK) -> tuple[RunFacts, RunFacts]:
    """Revision 1 briefed, changes requested with ``feedback``, revision 2 briefed."""
    run = await pipeline.submit(SAMPLE_TICKET)
    first = await pipeline.briefed(run.run_id)
    outcome = await pipeline.engine.decide(run.run_id, "request_changes", feedback=feedback, by="sam")
    assert outcome.result == "accepted"
    return first, await pipeline.briefed(run.run_id, revision=2)


def buttons(facts: RunFacts) -> list[str]:
    actions = [b for b in briefing_blocks(build_briefing(facts)) if b["type"] == "actions"]
    return [button["text"]["text"] for block in actions for button in block["elements"]]


async def test_a_revision_that_changes_nothing_has_nothing_to_approve_and_revision_1_ships_only_by_choice(
    tmp_path: Path, scripted_server: ScriptedModelServer, pipelines: list[Pipeline]
) -> None:
    scripts = sample_incident_script(revisions=True)
    scripts[CODE_REVISION] = declined_revision_turns()
    pipeline = await start_pipeline(tmp_path, scripted_server, scripts)
    pipelines.append(pipeline)
    first, second = await second_revision(pipeline)
    origin, branch, run_id = pipeline.playground.origin, first.branch or "", first.run_id
    first_tip = (first.revision_facts(1) or pytest.fail("revision 1 not recorded")).commit
    assert first_tip is not None

    briefing = build_briefing(second)
    assert briefing.headline == "TODO-42: revision 2 did not act on the feedback"
    assert briefing.revision_note is not None
    assert briefing.revision_note.startswith("Revision 2 changed nothing since revision 1")
    assert f"code agent: “{DECLINED}”" in briefing.not_done
    record = second.revision_facts(1)
    assert record is not None and record.briefed_at is not None
    label = f"Ship revision 1 as briefed at {record.briefed_at.strftime('%H:%M')} UTC"
    assert briefing.ship_earlier is not None and briefing.ship_earlier.label == label
    assert briefing.actions == ["ship_revision", "request_changes", "cancel"] and briefing.branch is None
    assert buttons(second) == [label, "Request changes"]
    assert "did not act on the feedback" in pipeline.output.getvalue()  # the terminal notifier's briefing
    # the branch no longer carries the revision the reviewer asked to change; revision 1 is kept
    assert git(origin, "for-each-ref", "refs/heads/fix/") == ""
    assert git(origin, "rev-parse", revision_ref(run_id, 1)) == first_tip

    refused = await pipeline.engine.decide(run_id, "approve", by="sam")
    assert refused.result == "conflict"
    assert "revision 2 changed nothing since revision 1" in refused.reason and DECLINED in refused.reason
    assert f"ship {label[5:]} (approve revision 1)" in refused.reason
    assert await pipeline.engine.rt.store.pull_requests() == []

    chosen = await pipeline.engine.decide(run_id, "approve", by="sam", ship_revision=1)
    assert chosen.result == "accepted"
    shipped = await pipeline.until(run_id, lambda f: f.status == "shipped")
    assert shipped.shipped_revision == 1 and [d.ship_revision for d in shipped.decisions] == [None, 1]
    [pr] = await pipeline.engine.rt.store.pull_requests()
    assert "todo.completed = True" in pr.diff and "idempotent" not in pr.diff
    assert f"ships {label[5:]}, chosen explicitly over the latest, revision 2" in pr.body
    assert git(origin, "rev-parse", branch) == first_tip  # exactly the commit revision 1 briefed
    assert f"It has shipped {label[5:]}, chosen over revision 2" in build_briefing(shipped).summary
    assert git(origin, "for-each-ref", "refs/nightshift/") == ""  # kept revisions go when the run ends


async def test_a_revision_whose_code_agent_fails_is_refused_with_the_error_and_ships_nothing(
    tmp_path: Path, scripted_server: ScriptedModelServer, pipelines: list[Pipeline]
) -> None:
    """Issue 18's case: the revision's code agent stops on a model error (its script is used up)."""
    scripts = sample_incident_script()
    scripts[TEST_REVISION] = kept_tests_turns()
    pipeline = await start_pipeline(tmp_path, scripted_server, scripts)
    pipelines.append(pipeline)
    first, second = await second_revision(pipeline)

    assert second.agents["code"].status == "model_error"
    briefing = build_briefing(second)
    assert "fix verified" not in briefing.headline and "approve" not in briefing.actions
    assert any(line.startswith("code agent: stopped on a model error") for line in briefing.not_done)
    refused = await pipeline.engine.decide(first.run_id, "approve", by="sam")
    assert refused.result == "conflict" and "stopped on a model error" in refused.reason
    assert git(pipeline.playground.origin, "for-each-ref", "refs/heads/fix/") == ""
    await pipeline.engine.decide(first.run_id, "cancel", by="sam")
    await pipeline.until(first.run_id, lambda f: f.status == "cancelled")
    assert await pipeline.engine.rt.store.pull_requests() == []


async def test_a_revision_that_fails_verification_ships_what_it_shows_labelled_unverified(
    tmp_path: Path, scripted_server: ScriptedModelServer, pipelines: list[Pipeline]
) -> None:
    scripts = sample_incident_script(revisions=True)
    scripts[CODE_REVISION] = broken_revision_turns()
    pipeline = await start_pipeline(tmp_path, scripted_server, scripts, max_fix_attempts=0)
    pipelines.append(pipeline)
    first, second = await second_revision(pipeline)

    assert second.verification is not None and second.verification.verdict == "fix_does_not_pass"
    briefing = build_briefing(second)
    assert briefing.actions[0] == "approve" and buttons(second)[0] == "Approve unverified"
    assert briefing.revision_note == "Revision 2 changes todo/service.py (+1 -1) since revision 1."
    outcome = await pipeline.engine.decide(first.run_id, "approve", by="sam")
    assert outcome.result == "accepted"
    await pipeline.until(first.run_id, lambda f: f.status == "shipped")
    [pr] = await pipeline.engine.rt.store.pull_requests()
    assert "+        todo.completed = todo.completed ^ True" in pr.diff  # what revision 2 showed
    assert "+        todo.completed = True" not in pr.diff  # never revision 1's commit
    assert "[!WARNING]" in pr.body and "Not verified: the new tests still fail" in pr.body
    shipped = git(pipeline.playground.origin, "show", f"{first.branch}:todo/service.py")
    assert "todo.completed ^ True" in shipped


async def test_a_reviewers_request_for_a_test_reaches_the_test_agent(
    tmp_path: Path, scripted_server: ScriptedModelServer, pipelines: list[Pipeline]
) -> None:
    scripts = sample_incident_script()
    scripts[CODE_REVISION] = declined_revision_turns("The request is about the tests; the fix stands.")
    scripts[TEST_REVISION] = added_test_turns()
    pipeline = await start_pipeline(tmp_path, scripted_server, scripts)
    pipelines.append(pipeline)
    first, second = await second_revision(pipeline, TEST_FEEDBACK)

    asked = [r for r in scripted_server.requests if r.script == TEST_REVISION]
    assert asked and TEST_FEEDBACK in asked[0].body["messages"][1]["content"]
    assert second.verification is not None and second.verification.verdict == "verified"
    assert second.tests is not None and ADDED_TEST_NAME in second.tests.test_names
    origin, branch = pipeline.playground.origin, second.branch or ""
    log = git(origin, "log", "--format=%s", f"{git(origin, 'rev-parse', first.branch or '')}^..{branch}")
    assert log.splitlines()[0] == "Revise tests for TODO-42 (revision 2)"
    briefing = build_briefing(second)
    assert briefing.revision_note == (
        "Revision 2 changes tests/test_complete_regression.py (+8 -0) since revision 1."
    )
    assert briefing.not_done == ["code agent: “The request is about the tests; the fix stands.”"]
    await pipeline.engine.decide(first.run_id, "approve", by="sam")
    shipped = await pipeline.until(first.run_id, lambda f: f.status == "shipped")
    [pr] = await pipeline.engine.rt.store.pull_requests()
    assert "test_reopen_still_reopens_a_completed_todo" in pr.diff and "todo.completed = True" in pr.diff
    assert (
        build_briefing(shipped).headline == "TODO-42: fix verified, shipped"
    )  # no longer "ready for review"


async def test_a_revision_continues_from_the_code_agents_explanation_the_criteria_and_the_tests(
    tmp_path: Path, scripted_server: ScriptedModelServer, pipelines: list[Pipeline]
) -> None:
    """The revision's code agent starts a new conversation: its request carries what revision 1 settled,
    its own explanation, triage's acceptance criteria and the test agent's diff, beside the feedback."""
    pipeline = await start_pipeline(tmp_path, scripted_server, sample_incident_script(revisions=True))
    pipelines.append(pipeline)
    first, _second = await second_revision(pipeline)

    [asked, *_] = [r.body for r in scripted_server.requests if r.script == CODE_REVISION]
    goal = asked["messages"][1]["content"]
    assert first.fix is not None and first.tests is not None and first.triage is not None
    assert f"<feedback>\n{REVISION_FEEDBACK}\n</feedback>" in goal
    assert f"<explanation>\n{first.fix.explanation}\n</explanation>" in goal
    criteria = goal[goal.index("<acceptance_criteria>") : goal.index("</acceptance_criteria>")]
    assert first.triage.acceptance_criteria and all(c in criteria for c in first.triage.acceptance_criteria)
    tests = goal[goal.index("<tests_diff>") : goal.index("</tests_diff>")]
    assert "+def test_completing_twice_keeps_the_todo_completed():" in tests
    assert "+        todo.completed = True" in goal[goal.index("<diff>") : goal.index("</diff>")]
