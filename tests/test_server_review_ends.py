"""How a run's pull request ends, and what a review round's push and briefing do, through the real server
with the GitHub, Slack and Jira fakes: closed unmerged (the lesson kept), merged twice with Jira (one
transition), merged while a round runs (nothing pushed), a push that origin refuses once (retried, lands
once, the replies name it), and the Slack briefing after each."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from client.scripted import ScriptedModelServer
from client.scripted.script import ScriptedCall, Turn
from client.scripted.threaded import ThreadedServer
from config.integrations import JiraTransitions
from demo.fake_slack import CHANNEL_ID, SIGNING_SECRET, FakeSlack
from demo.fake_slack import TOKEN as SLACK_TOKEN
from demo.incident import CODE_REVISION, revision_turns, sample_incident_script
from tests.fakes.github import FakeGitHub
from tests.fakes.github_reviews import closed_payload, issue_comment_payload
from tests.fakes.jira import EMAIL, FakeJira, issue_created
from tests.fakes.jira import TOKEN as JIRA_TOKEN
from tests.fakes.jira import signed_headers as jira_signed_headers
from tests.server_fixtures import LiveServer, all_delivered, briefed, server_settings, start_server
from tests.test_server_reviews import (
    SECRET,
    TOKEN,
    changes_requested,
    deliver,
    github,
    origin_log,
    round_over,
    shipped_run,
)
from tests.waiting import wait_until

pytest_plugins = ["tests.model_fixtures"]
__all__ = ["github"]  # the fixture, shared with test_server_reviews

JIRA_SECRET = "jira-webhook-secret-ends"
RELEASE = ".release"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def serve(
    tmp_path: Path,
    model: ScriptedModelServer,
    github: tuple[FakeGitHub, ThreadedServer],
    *,
    slack: FakeSlack | None = None,
    jira: FakeJira | None = None,
    scripts: dict[str, list[Turn]] | None = None,
) -> LiveServer:
    fake, server = github
    secrets = {"GITHUB_TOKEN": TOKEN, "GITHUB_WEBHOOK_SECRET": SECRET}
    sections: dict[str, dict[str, Any]] = {
        "github": {"repo": fake.full_name, "api_url": server.url},
        "workflow": {"max_fix_attempts": 0, "delivery_backoff_s": 0.2, "delivery_backoff_max_s": 0.5},
    }
    if slack is not None:
        secrets |= {"SLACK_BOT_TOKEN": SLACK_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}
        sections["slack"] = {"channel": CHANNEL_ID, "api_url": slack.api_url}
    if jira is not None:
        secrets |= {"JIRA_API_TOKEN": JIRA_TOKEN, "JIRA_WEBHOOK_SECRET": JIRA_SECRET}
        sections["jira"] = {
            "base_url": jira.url,
            "email": EMAIL,
            "transitions": JiraTransitions(merged="Released"),  # not the default, "Done"
        }
    settings, playground = server_settings(tmp_path, model, secrets=secrets, **sections)
    return start_server(
        settings, playground, {**sample_incident_script(revisions=True), **(scripts or {})}, model
    )


def briefing_text(slack: FakeSlack, run: dict[str, Any]) -> str:
    return json.dumps(slack.message(run["message_ref"])["blocks"])


def wait_for_briefing(slack: FakeSlack, run: dict[str, Any], *words: str) -> str:
    wait_until(
        lambda: all(w in briefing_text(slack, run) for w in words),
        f"the briefing says {words}",
        timeout_s=120,
    )
    return briefing_text(slack, run)


def test_a_pull_request_closed_unmerged_ends_the_run_closed_and_keeps_the_lesson(
    tmp_path: Path,
    scripted_server: ScriptedModelServer,
    github: tuple[FakeGitHub, ThreadedServer],
    slack: FakeSlack,
) -> None:
    fake, _ = github
    live = serve(tmp_path, scripted_server, github, slack=slack)
    try:
        run, pull = shipped_run(live, fake)
        why = "We will fix this in the storage layer instead; closing."
        said = deliver(live, "issue_comment", issue_comment_payload(pull["number"], fake.full_name, why))
        assert "asks Nightshift for nothing" in said.json()["answer"]  # it steers nothing, but it is heard
        closed = deliver(live, "pull_request", closed_payload(pull, fake.full_name, merged=False, by="alice"))
        assert closed.status_code == 202 and closed.json()["answer"] == "closed"
        ended = live.wait_for_run(
            run["run_id"],
            lambda r: r["status"] == "closed" and all(d["state"] == "delivered" for d in r["deliveries"]),
        )
        assert any(
            "pull request #" in e["text"] and "closed by @alice" in e["text"] for e in ended["timeline"]
        )
        assert not any(d["kind"] == "transition" and "Done" in d["what"] for d in ended["deliveries"])
        text = wait_for_briefing(slack, ended, "closed without merging")
        assert "No more review rounds: the pull request was closed" in text
    finally:
        live.server.stop()
    notes = [
        json.loads(line)
        for path in (tmp_path / "state" / "notes").glob("*.jsonl")
        for line in path.read_text().splitlines()
    ]
    lesson = [n for n in notes if "declined" in json.dumps(n)]
    assert len(lesson) == 1
    assert ended["ticket"]["key"] in json.dumps(lesson[0]) and why in json.dumps(lesson[0])


def test_merged_twice_with_jira_moves_the_ticket_once_by_the_configured_transitions_name(
    tmp_path: Path, scripted_server: ScriptedModelServer, github: tuple[FakeGitHub, ThreadedServer]
) -> None:
    fake, _ = github
    with FakeJira() as jira:
        live = serve(tmp_path, scripted_server, github, jira=jira)
        try:
            issue = jira.add_issue("TODO-7")
            body = json.dumps(issue_created(issue)).encode()
            with live.client(token=None) as client:
                started = client.post(
                    "/webhook/jira", content=body, headers=jira_signed_headers(JIRA_SECRET, body)
                )
            run_id = started.json()["run_id"]
            live.wait_for_run(run_id, briefed)
            with live.client() as client:
                assert client.post(f"/runs/{run_id}/approve").status_code == 202
            live.wait_for_run(run_id, all_delivered)
            assert jira.status_of("TODO-7") == "In Review"
            pull = fake.pulls[0]
            answers = [
                deliver(
                    live, "pull_request", closed_payload(pull, fake.full_name, merged=True), delivery=d
                ).json()
                for d in ("merged-1", "merged-2")
            ]
            assert answers[0]["answer"] == "merged" and "merged already" in answers[1]["answer"]
            merged = live.wait_for_run(
                run_id,
                lambda r: r["status"] == "merged" and all(d["state"] == "delivered" for d in r["deliveries"]),
            )
        finally:
            live.server.stop()
        after_review = jira.applied_transitions[jira.applied_transitions.index(("TODO-7", "21")) + 1 :]
        assert after_review == [("TODO-7", "41")] and jira.status_of("TODO-7") == "Released"  # 41: "Released"
        moves = [d for d in merged["deliveries"] if d["kind"] == "transition" and "Released" in d["what"]]
        assert len(moves) == 1


def gated_revision_turns() -> list[Turn]:
    """The code agent's revision run, which first waits (in its worktree) until the test lets it go."""
    wait = f"until [ -e {RELEASE} ]; do sleep 0.1; done; rm -f {RELEASE}; echo released"
    gate = Turn(
        content="Looking around first.", tool_calls=[ScriptedCall(name="shell", arguments={"command": wait})]
    )
    return [gate, *revision_turns()]


def test_a_merge_during_a_review_round_stops_it_without_pushing_and_says_so(
    tmp_path: Path,
    scripted_server: ScriptedModelServer,
    github: tuple[FakeGitHub, ThreadedServer],
    slack: FakeSlack,
) -> None:
    fake, _ = github
    live = serve(
        tmp_path, scripted_server, github, slack=slack, scripts={CODE_REVISION: gated_revision_turns()}
    )
    try:
        run, pull = shipped_run(live, fake)
        before = origin_log(live, run["branch"])
        comments = changes_requested(live, fake, pull, delivery="during-1")
        wait_until(
            lambda: any(r.script == CODE_REVISION for r in scripted_server.requests),
            "the round's code agent",
            timeout_s=120,
        )
        merged = deliver(live, "pull_request", closed_payload(pull, fake.full_name, merged=True))
        assert merged.json()["answer"] == "merged"
        assert live.get_json(f"/runs/{run['run_id']}")["status"] == "merged"
        (tmp_path / "state" / "worktrees" / run["run_id"] / "code" / RELEASE).touch()  # the agent goes on
        done = live.wait_for_run(
            run["run_id"],
            lambda r: (
                bool(r["reviews"]["rounds"])
                and r["reviews"]["rounds"][0]["finished_at"] is not None
                and all(d["state"] == "delivered" for d in r["deliveries"])
            ),
        )
    finally:
        live.server.stop()
    assert done["status"] == "merged"  # neither revising, verifying nor the round's end moved it back
    round_ = done["reviews"]["rounds"][0]
    assert round_["commit"] is None and "merged while the round ran" in round_["outcome"]
    assert origin_log(live, run["branch"]) == before
    assert not any(d["kind"] == "push" for d in done["deliveries"])
    for comment in comments:
        [reply] = fake.replies(comment["id"])
        assert "Nothing was pushed" in reply["body"] and "merged while the round ran" in reply["body"]
    assert "Its pull request was merged" in briefing_text(slack, done)


def refuse_once(origin: Path) -> Path:
    """A pre-receive hook on origin that declines the next push, once; the file it leaves says it did."""
    marker = origin / "refused-once"
    hook = origin / "hooks" / "pre-receive"
    hook.write_text(
        f'#!/bin/sh\nif [ ! -e "{marker}" ]; then\n  touch "{marker}"\n'
        '  echo "origin is read-only for maintenance" >&2\n  exit 1\nfi\n'
    )
    hook.chmod(0o755)
    return marker


def test_a_rounds_push_that_origin_refuses_once_is_retried_and_lands_once_then_the_replies_name_it(
    tmp_path: Path,
    scripted_server: ScriptedModelServer,
    github: tuple[FakeGitHub, ThreadedServer],
    slack: FakeSlack,
) -> None:
    fake, _ = github
    live = serve(tmp_path, scripted_server, github, slack=slack)
    try:
        run, pull = shipped_run(live, fake)
        origin = live.playground.repo.parent / "origin.git"
        before = origin_log(live, run["branch"])
        refused = refuse_once(origin)
        comments = changes_requested(live, fake, pull, delivery="push-1")
        done = live.wait_for_run(run["run_id"], round_over(1))
        after = origin_log(live, run["branch"])
        text = wait_for_briefing(slack, done, "Review round 1", after[0][:12])
    finally:
        live.server.stop()
    assert refused.exists()  # origin did decline the first attempt
    [push] = [d for d in done["deliveries"] if d["kind"] == "push"]
    assert push["state"] == "delivered" and push["attempts"] == 2
    assert len(after) == len(before) + 1 and after[1:] == before  # landed once, a fast-forward
    assert done["reviews"]["rounds"][0]["commit"] == after[0]
    for comment in comments:
        [reply] = fake.replies(comment["id"])
        assert f"Done in {after[0][:12]}, pushed to {run['branch']}" in reply["body"]
    [verdict] = fake.conversation(pull["number"])
    assert after[0][:12] in verdict["body"] and "verified" in verdict["body"]
    assert f"committed {after[0][:12]} on {run['branch']}" in text and "verified" in text
