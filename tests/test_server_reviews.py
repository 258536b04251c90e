"""Reviewers talk to Nightshift on its pull request, through the real server and PyGithub against the fake
GitHub: a review round on the same branch, replies where they asked, and the pull request's end."""

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from client.scripted import ScriptedModelServer
from client.scripted.threaded import ThreadedServer
from demo.incident import CODE_REVISION, breaking_revision_turns, sample_incident_script
from tests.fakes.github import FakeGitHub, signed_headers
from tests.fakes.github_reviews import (
    closed_payload,
    issue_comment_payload,
    review_comment_payload,
    review_payload,
)
from tests.server_fixtures import LiveServer, all_delivered, server_settings, start_server

pytest_plugins = ["tests.model_fixtures"]

SECRET = "github-webhook-secret-review"
TOKEN = "ghp_reviewtoken0123456789"
SERVICE = "todo/service.py"


@pytest.fixture
def github() -> Iterator[tuple[FakeGitHub, ThreadedServer]]:
    fake = FakeGitHub(token=TOKEN)
    with fake.serve() as server:
        yield fake, server


def serve(
    tmp_path: Path,
    model: ScriptedModelServer,
    github: tuple[FakeGitHub, ThreadedServer],
    *,
    settings: dict[str, dict[str, Any]] | None = None,
    **scripts: Any,
) -> LiveServer:
    """The server with the GitHub fake; ``settings``: more fields per section (``{"github": {...}}``)."""
    fake, server = github
    sections: dict[str, dict[str, Any]] = {
        "github": {"repo": fake.full_name, "api_url": server.url},
        "workflow": {"max_fix_attempts": 0},
    }
    for section, fields in (settings or {}).items():
        sections[section] = {**sections.get(section, {}), **fields}
    configured, playground = server_settings(
        tmp_path, model, secrets={"GITHUB_TOKEN": TOKEN, "GITHUB_WEBHOOK_SECRET": SECRET}, **sections
    )
    return start_server(configured, playground, {**sample_incident_script(revisions=True), **scripts}, model)


@pytest.fixture
def live(
    tmp_path: Path, scripted_server: ScriptedModelServer, github: tuple[FakeGitHub, ThreadedServer]
) -> Iterator[LiveServer]:
    live = serve(tmp_path, scripted_server, github)
    yield live
    live.server.stop()


def deliver(
    live: LiveServer, event: str, payload: dict[str, Any], delivery: str | None = None
) -> httpx.Response:
    body = json.dumps(payload).encode()
    headers = signed_headers(SECRET, body, event=event)
    if delivery:
        headers["X-GitHub-Delivery"] = delivery
    with live.client(token=None) as client:
        return client.post("/webhook/github", content=body, headers=headers)


def shipped_run(live: LiveServer, fake: FakeGitHub) -> tuple[dict[str, Any], dict[str, Any]]:
    """A run approved through the API, its pull request open on the fake: (run, pull)."""
    with live.client() as client:
        run_id = client.post("/runs", json={"title": "Completing a todo twice reopens it"}).json()["run_id"]
    live.wait_for_run(run_id, lambda r: r["status"] == "awaiting_decision")
    with live.client() as client:
        assert client.post(f"/runs/{run_id}/approve").status_code == 202
    run = live.wait_for_run(run_id, all_delivered)
    assert len(fake.pulls) == 1
    return run, fake.pulls[0]


def origin_log(live: LiveServer, branch: str) -> list[str]:
    origin = live.playground.repo.parent / "origin.git"
    out = subprocess.run(
        ["git", "-C", str(origin), "rev-list", branch], check=True, capture_output=True, text=True
    ).stdout
    return out.split()


def round_over(number: int) -> Any:
    def over(run: dict[str, Any]) -> bool:
        rounds = run["reviews"]["rounds"]
        return (
            len(rounds) >= number
            and rounds[number - 1]["finished_at"] is not None
            and run["status"] == "shipped"
            and all(d["state"] == "delivered" for d in run["deliveries"])
        )

    return over


def changes_requested(
    live: LiveServer, fake: FakeGitHub, pull: dict[str, Any], *, delivery: str
) -> list[dict[str, Any]]:
    """A collaborator's review asking for changes with two line comments, delivered as GitHub does: the
    comments' events, then the review's."""
    review_id = 77_001
    comments = [
        fake.add_review_comment(
            pull["number"],
            review_id,
            path=SERVICE,
            line=30,
            body="Say in complete()'s docstring that completing is idempotent.",
        ),
        fake.add_review_comment(
            pull["number"], review_id, path=SERVICE, line=31, body="And keep the assignment as it is."
        ),
    ]
    for comment in comments:
        assert (
            deliver(
                live, "pull_request_review_comment", review_comment_payload(pull, fake.full_name, comment)
            ).status_code
            == 202
        )
    review = review_payload(pull, fake.full_name, review_id=review_id, body="Two small things.")
    taken = deliver(live, "pull_request_review", review, delivery=delivery)
    assert taken.status_code == 202, taken.text
    return comments


def test_a_review_asking_for_changes_gets_one_commit_on_the_branch_and_answers(
    live: LiveServer, github: tuple[FakeGitHub, ThreadedServer]
) -> None:
    fake, _ = github
    run, pull = shipped_run(live, fake)
    before = origin_log(live, run["branch"])
    comments = changes_requested(live, fake, pull, delivery="delivery-1")
    review = review_payload(pull, fake.full_name, review_id=77_001, body="Two small things.")
    again = deliver(live, "pull_request_review", review, delivery="delivery-1")  # the same delivery again
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert (
        deliver(live, "pull_request_review", review, delivery="delivery-2").status_code == 202
    )  # redelivered

    done = live.wait_for_run(run["run_id"], round_over(1))
    after = origin_log(live, run["branch"])
    assert len(after) == len(before) + 1 and after[1:] == before  # one commit on top: no force-push
    assert len(fake.pulls) == 1 and len(done["reviews"]["rounds"]) == 1
    round_ = done["reviews"]["rounds"][0]
    assert round_["verdict"] == "verified" and round_["commit"] == after[0]
    for comment in comments:
        replies = fake.replies(comment["id"])
        assert len(replies) == 1 and after[0][:12] in replies[0]["body"]
    conversation = fake.conversation(pull["number"])
    assert (
        len(conversation) == 1
        and "verified" in conversation[0]["body"]
        and "passed" in conversation[0]["body"]
    )
    shown = origin_show(live, after[0])
    assert "idempotent" in shown
    assert any("review round 1" in entry["text"] for entry in done["timeline"])


def origin_show(live: LiveServer, commit: str) -> str:
    origin = live.playground.repo.parent / "origin.git"
    return subprocess.run(
        ["git", "-C", str(origin), "show", commit], check=True, capture_output=True, text=True
    ).stdout


def test_comments_that_may_not_steer_change_nothing(
    live: LiveServer, github: tuple[FakeGitHub, ThreadedServer], scripted_server: ScriptedModelServer
) -> None:
    fake, _ = github
    run, pull = shipped_run(live, fake)
    before = origin_log(live, run["branch"])
    requests_before = len(scripted_server.requests)
    stranger = issue_comment_payload(
        pull["number"], fake.full_name, "@nightshift rewrite it all", author="mallory", association="NONE"
    )
    bot = issue_comment_payload(
        pull["number"], fake.full_name, "@nightshift done", author="nightshift[bot]", association="NONE"
    )
    elsewhere = review_payload(
        {**pull, "number": 99, "head": {"ref": "feature/x", "sha": "3" * 40}}, fake.full_name
    )
    chatter = issue_comment_payload(pull["number"], fake.full_name, "LGTM, @bob what do you think?")
    answers = [
        deliver(live, "issue_comment", stranger),
        deliver(live, "issue_comment", bot),
        deliver(live, "pull_request_review", elsewhere),
        deliver(live, "issue_comment", chatter),
    ]
    assert [a.status_code for a in answers] == [202] * 4
    words = [a.json()["answer"] for a in answers]
    assert "not an owner, member or collaborator" in words[0]
    assert words[1] == "Nightshift's own comment"
    assert "not opened by Nightshift" in words[2]
    assert "asks Nightshift for nothing" in words[3]
    now = live.get_json(f"/runs/{run['run_id']}")
    assert now["status"] == "shipped" and now["reviews"]["rounds"] == []
    assert any("mallory" in entry["text"] for entry in now["timeline"])
    assert origin_log(live, run["branch"]) == before and len(scripted_server.requests) == requests_before
    assert fake.conversation(pull["number"]) == []


def test_a_revision_that_breaks_the_tests_is_not_pushed_and_the_reply_names_them(
    tmp_path: Path, scripted_server: ScriptedModelServer, github: tuple[FakeGitHub, ThreadedServer]
) -> None:
    fake, _ = github
    live = serve(tmp_path, scripted_server, github, **{CODE_REVISION: breaking_revision_turns()})
    try:
        run, pull = shipped_run(live, fake)
        before = origin_log(live, run["branch"])
        comments = changes_requested(live, fake, pull, delivery="d-broken")
        done = live.wait_for_run(run["run_id"], round_over(1))
        assert origin_log(live, run["branch"]) == before
        round_ = done["reviews"]["rounds"][0]
        assert round_["commit"] is None and round_["verdict"] != "verified"
        reply = fake.replies(comments[0]["id"])[0]["body"]
        assert "Nothing was pushed" in reply and "test_complete" in reply
        assert "not pushed" in fake.conversation(pull["number"])[0]["body"].lower()
    finally:
        live.server.stop()


def test_merged_and_closed_pull_requests_end_their_runs(
    live: LiveServer, github: tuple[FakeGitHub, ThreadedServer]
) -> None:
    fake, _ = github
    run, pull = shipped_run(live, fake)
    for delivery in ("m-1", "m-2"):
        assert deliver(
            live, "pull_request", closed_payload(pull, fake.full_name, merged=True), delivery=delivery
        ).status_code in (200, 202)
    merged = live.wait_for_run(
        run["run_id"],
        lambda r: r["status"] == "merged" and all(d["state"] == "delivered" for d in r["deliveries"]),
    )
    moves = [d for d in merged["deliveries"] if d["kind"] == "transition" and "Done" in d["what"]]
    assert len(moves) == 1
    late = deliver(
        live,
        "issue_comment",
        issue_comment_payload(pull["number"], fake.full_name, "@nightshift one more thing"),
    )
    assert "merged" in late.json()["answer"]
