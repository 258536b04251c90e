"""Jira end to end: a signed webhook starts a run, the ticket moves and gets comments, through the real
server and the real httpx client against a fake Jira Cloud."""

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from client.scripted import ScriptedModelServer
from demo.fake_slack import CHANNEL_ID, SIGNING_SECRET, FakeSlack, slash_command_body
from demo.fake_slack import TOKEN as SLACK_TOKEN
from demo.fake_slack import signed_headers as slack_signed_headers
from demo.incident import sample_incident_script
from tests.fakes.jira import (
    BOT_ACCOUNT_ID,
    EMAIL,
    TOKEN,
    FakeJira,
    by_our_account,
    issue_created,
    signed_headers,
)
from tests.server_fixtures import LiveServer, all_delivered, briefed, server_settings, start_server

pytest_plugins = ["tests.model_fixtures"]

SECRET = "jira-webhook-secret-123"


@pytest.fixture
def jira() -> Iterator[FakeJira]:
    with FakeJira() as fake:
        yield fake


@pytest.fixture
def live(tmp_path: Path, scripted_server: ScriptedModelServer, jira: FakeJira) -> Iterator[LiveServer]:
    settings, playground = server_settings(
        tmp_path,
        scripted_server,
        secrets={"JIRA_API_TOKEN": TOKEN, "JIRA_WEBHOOK_SECRET": SECRET},
        jira={"base_url": jira.url, "email": EMAIL},
    )
    server = start_server(settings, playground, sample_incident_script(), scripted_server)
    yield server
    server.server.stop()


def deliver(
    live: LiveServer, payload: dict[str, object], headers: dict[str, str] | None = None
) -> httpx.Response:
    body = json.dumps(payload).encode()
    with live.client(token=None) as client:
        return client.post("/webhook/jira", content=body, headers=headers or signed_headers(SECRET, body))


def test_issue_created_runs_moves_the_ticket_and_comments_the_pr(live: LiveServer, jira: FakeJira) -> None:
    issue = jira.add_issue("TODO-7")
    body = json.dumps(issue_created(issue)).encode()
    headers = signed_headers(SECRET, body)
    with live.client(token=None) as client:
        started = client.post("/webhook/jira", content=body, headers=headers)
        assert started.status_code == 202, started.text
        again = client.post("/webhook/jira", content=body, headers=headers)  # Jira redelivers
    assert again.status_code == 200 and again.json()["run_id"] == started.json()["run_id"]  # nothing new
    run_id = started.json()["run_id"]
    run = live.wait_for_run(run_id, briefed)
    assert run["ticket"]["key"] == "TODO-7" and run["ticket"]["source"] == "jira"
    description = run["ticket"]["description"]
    assert description and '"type"' not in description and "paragraph" not in description  # ADF became text
    assert jira.status_of("TODO-7") == "In Progress"

    with live.client() as client:
        assert client.post(f"/runs/{run_id}/approve").status_code == 202
    shipped = live.wait_for_run(run_id, all_delivered)
    assert jira.status_of("TODO-7") == "In Review"
    comment = json.dumps(jira.comments_on("TODO-7"))
    assert shipped["pr_url"] in comment and f"/ui/runs/{run_id}" in comment
    assert len(live.get_json("/runs")["runs"]) == 1


@pytest.mark.parametrize("forgery", ["unsigned", "wrong-secret", "tampered"])
def test_forged_jira_deliveries_get_401_and_start_nothing(
    live: LiveServer, jira: FakeJira, forgery: str
) -> None:
    payload = issue_created(jira.add_issue("TODO-8"))
    body = json.dumps(payload).encode()
    headers = {
        "unsigned": {"Content-Type": "application/json"},
        "wrong-secret": signed_headers("not-the-secret", body),
        "tampered": signed_headers(SECRET, body + b" "),
    }[forgery]
    with live.client(token=None) as client:
        refused = client.post("/webhook/jira", content=body, headers=headers)
        assert refused.status_code == 401 and "signature" in refused.json()["error"]
        assert client.get("/runs").json() == {"runs": []}


def test_events_caused_by_our_own_account_are_ignored(live: LiveServer, jira: FakeJira) -> None:
    response = deliver(live, by_our_account(jira.add_issue("TODO-9"), BOT_ACCOUNT_ID))
    assert response.status_code == 202 and "ignored" in response.json()
    assert live.get_json("/runs") == {"runs": []}


def test_oncall_with_a_jira_key_runs_on_the_issue_from_jira(
    tmp_path: Path, scripted_server: ScriptedModelServer, jira: FakeJira
) -> None:
    jira.add_issue("TODO-11", summary="Completing a todo twice reopens it (from Jira)")
    with FakeSlack() as slack:
        settings, playground = server_settings(
            tmp_path,
            scripted_server,
            secrets={
                "JIRA_API_TOKEN": TOKEN,
                "SLACK_BOT_TOKEN": SLACK_TOKEN,
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            },
            jira={"base_url": jira.url, "email": EMAIL},
            slack={"channel": CHANNEL_ID, "api_url": slack.api_url},
        )
        live = start_server(settings, playground, sample_incident_script(), scripted_server)
        try:
            body = slash_command_body("TODO-11 seen on the mobile app again")
            with live.client(token=None) as client:
                ack = client.post(
                    "/webhook/slack/command", content=body, headers=slack_signed_headers(SIGNING_SECRET, body)
                )
            assert ack.status_code == 200 and "TODO-11" in ack.json()["text"]
            run_id = live.get_json("/runs")["runs"][0]["id"]
            run = live.wait_for_run(run_id, briefed)
            assert run["ticket"]["title"] == "Completing a todo twice reopens it (from Jira)"
            assert "seen on the mobile app again" in run["ticket"]["description"]  # the reporter's words kept
            assert jira.status_of("TODO-11") == "In Progress"
        finally:
            live.server.stop()
