"""Slack, GitHub and Jira down at every delivery point, through the real server and the real clients:
the run is briefed and decided anyway, and each delivery lands exactly once when its service is back.

Each fake sits behind a proxy (``tests.fakes.outage``) that answers HTML 502/503 pages, refuses
connections, or passes a request on and holds its answer past the client's timeout.
"""

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from client.scripted import ScriptedModelServer
from demo.fake_slack import CHANNEL_ID, SIGNING_SECRET, FakeSlack, signed_headers, slash_command_body
from demo.fake_slack import TOKEN as SLACK_TOKEN
from demo.incident import sample_incident_script
from tests.fakes.github import FakeGitHub
from tests.fakes.jira import EMAIL, FakeJira
from tests.fakes.jira import TOKEN as JIRA_TOKEN
from tests.fakes.outage import Fault, Outage
from tests.server_fixtures import LiveServer, all_delivered, server_settings, start_server

pytest_plugins = ["tests.model_fixtures"]

GITHUB_TOKEN = "ghp_deliveries0123456789"
DELIVERIES = {
    "delivery_attempt_timeout_s": 1.0,
    "delivery_backoff_s": 0.1,
    "delivery_backoff_max_s": 0.4,
}
"""Short attempts and backoffs, so that an outage of a few attempts lasts a few seconds."""


@dataclass
class Services:
    slack: FakeSlack
    github: FakeGitHub
    jira: FakeJira
    proxies: dict[str, Outage]


@pytest.fixture
def services() -> Iterator[Services]:
    with ExitStack() as stack:
        slack = stack.enter_context(FakeSlack())
        github = FakeGitHub(token=GITHUB_TOKEN)
        github_server = stack.enter_context(github.serve())
        jira = stack.enter_context(FakeJira())
        jira.add_issue("TODO-11")
        proxies = {
            "slack": stack.enter_context(Outage(slack.url, hang_s=3)),
            "github": stack.enter_context(Outage(github_server.url, hang_s=3)),
            "jira": stack.enter_context(Outage(jira.url, hang_s=3)),
        }
        yield Services(slack, github, jira, proxies)


@pytest.fixture
def live(tmp_path: Path, scripted_server: ScriptedModelServer, services: Services) -> Iterator[LiveServer]:
    proxies = services.proxies
    settings, playground = server_settings(
        tmp_path,
        scripted_server,
        secrets={
            "SLACK_BOT_TOKEN": SLACK_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "GITHUB_TOKEN": GITHUB_TOKEN,
            "JIRA_API_TOKEN": JIRA_TOKEN,
        },
        slack={"channel": CHANNEL_ID, "api_url": f"{proxies['slack'].url}/api/"},
        github={"repo": services.github.full_name, "api_url": proxies["github"].url},
        jira={"base_url": proxies["jira"].url, "email": EMAIL},
        workflow=DELIVERIES,
    )
    server = start_server(settings, playground, sample_incident_script(), scripted_server)
    yield server
    server.server.stop()


def delivery(run: dict[str, Any], what: str) -> dict[str, Any]:
    (found,) = [d for d in run["deliveries"] if d["what"] == what]
    return found


def failing(*whats: str) -> Callable[[dict[str, Any]], bool]:
    """The deliveries named have failed at least twice (a third attempt is due or under way) and wait."""

    def check(run: dict[str, Any]) -> bool:
        named = [d for d in run["deliveries"] if d["what"] in whats]
        return len(named) == len(whats) and all(
            d["state"] == "pending" and d["failing_since"] and d["attempts"] >= 3 for d in named
        )

    return check


@pytest.mark.parametrize("fault", ["html", "refuse", "hang"])
def test_outages_at_every_delivery_point_delay_the_deliveries_never_the_run(
    live: LiveServer, services: Services, fault: Fault
) -> None:
    slack, github, jira, proxies = services.slack, services.github, services.jira, services.proxies
    proxies["slack"].fail(fault)
    proxies["jira"].fail(fault)
    body = slash_command_body("TODO-11 completing a todo twice reopens it")
    with live.client(token=None) as inbound:
        headers = signed_headers(SIGNING_SECRET, body)
        ack = inbound.post("/webhook/slack/command", content=body, headers=headers)
    assert ack.status_code == 200 and "TODO-11" in ack.json()["text"]
    run_id = live.get_json("/runs")["runs"][0]["id"]

    # Slack and Jira are down: the briefing and the ticket's move wait, the run does not.
    waiting = failing("briefing message", "ticket to In Progress")
    run = live.wait_for_run(run_id, lambda r: r["status"] == "awaiting_decision" and waiting(r))
    assert run["message_ref"] is None and run["verification"]["verdict"] == "verified"
    line = delivery(run, "briefing message")["summary"]
    assert line.startswith("Slack: briefing message not delivered yet — ") and "next try" in line
    if fault == "html":  # the status and what the proxy's page says
        briefing = delivery(run, "briefing message")
        assert briefing["last_status"] in (502, 503) and f"HTTP {briefing['last_status']}" in line
        assert "Bad Gateway" in briefing["last_error"] or "Temporarily Unavailable" in briefing["last_error"]
    health = live.get_json("/health")["integrations"]
    assert (health["slack"]["state"], health["slack"]["pending"]) == ("degraded", 1)
    assert health["slack"]["last_error"] and health["slack"]["last_error_at"]
    assert (health["jira"]["state"], health["github"]["state"]) == ("degraded", "ok")
    with live.client() as client:
        page = client.get(f"/ui/runs/{run_id}").text
    assert "Slack: briefing message not delivered yet" in page

    # Slack is back: the briefing lands, once.
    proxies["slack"].restore()
    run = live.wait_for_run(run_id, lambda r: delivery(r, "briefing message")["state"] == "delivered")
    assert run["message_ref"] and len(slack.posted_briefings()) == 1
    assert slack.message(run["message_ref"])["metadata"]["event_payload"]["delivery"] == f"{run_id}:briefing"

    # Slack and GitHub down, Jira still: the run is approved through the API and ships all the same.
    proxies["slack"].fail(fault)
    proxies["github"].fail(fault)
    with live.client() as client:
        assert client.post(f"/runs/{run_id}/approve").status_code == 202
    run = live.wait_for_run(
        run_id, lambda r: r["status"] == "shipped" and failing("pull request", "briefing message")(r)
    )
    assert run["pr_url"] is None and not github.pulls
    assert live.get_json("/health")["integrations"]["github"]["state"] == "degraded"

    # Everything is back: each delivery has exactly one effect.
    for proxy in proxies.values():
        proxy.restore()
    run = live.wait_for_run(run_id, all_delivered, timeout_s=60)
    assert len(github.pulls) == 1 and run["pr_url"].endswith(f"/pull/{github.pulls[0]['number']}")
    assert len(slack.posted_briefings()) == 1
    message = slack.message(run["message_ref"])
    assert run["pr_url"] in json.dumps(message["blocks"]) and "actions" not in json.dumps(message["blocks"])
    assert jira.applied_transitions == [("TODO-11", "11"), ("TODO-11", "21")]  # In Progress, then In Review
    assert len(jira.comments_on("TODO-11")) == 1 and run["pr_url"] in json.dumps(jira.comments_on("TODO-11"))
    if fault != "refuse":  # a refused connection never reaches the proxy
        assert all(proxy.failed >= 2 for proxy in proxies.values())
    health = live.get_json("/health")["integrations"]
    assert [(health[name]["state"], health[name]["pending"]) for name in ("slack", "github", "jira")] == [
        ("ok", 0)
    ] * 3
    assert any("delivered after" in entry["text"] for entry in run["timeline"])
