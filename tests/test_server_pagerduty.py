"""PagerDuty end to end, through the real server and PagerDuty's own client against a fake REST API
over HTTPS: an ``incident.triggered`` signed during a secret's rotation starts one run for its
redelivery and a repeat; other events are acknowledged and ignored; the incident's alerts (a real
traceback in their body) give the agents the frames; the run's link reaches the incident as a note
exactly once through an outage of PagerDuty's API, and the pull request's link follows on ship; the
incident is never acknowledged or resolved. The triage agent gets the mapped frames fenced as data, and
Slack's briefing and GitHub's pull request show them linked to the repository's lines. Forged, stale
and malformed deliveries start nothing."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from client.scripted import ScriptedModelServer
from client.scripted.threaded import ThreadedServer
from demo.alerts import deployed_traceback, pagerduty_event, pagerduty_headers
from demo.fake_slack import CHANNEL_ID, SIGNING_SECRET, FakeSlack
from demo.fake_slack import TOKEN as SLACK_TOKEN
from demo.incident import sample_incident_script
from tests.fakes.github import FakeGitHub
from tests.fakes.pagerduty import FROM, TOKEN, FakePagerDuty, alert_json
from tests.server_fixtures import LiveServer, all_delivered, briefed, server_settings, start_server
from tests.test_server_sentry import GITHUB_TOKEN, first_message

pytest_plugins = ["tests.model_fixtures"]

OLD, NEW = "pd-webhook-secret-2023", "pd-webhook-secret-2024"
INCIDENT = "PGR0VU2"


@pytest.fixture
def pagerduty(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePagerDuty]:
    with FakePagerDuty() as fake:
        monkeypatch.setenv("SSL_CERT_FILE", fake.ca_file)  # the server trusts the fake's CA
        details = {"error": "TodoNotFound", "traceback": deployed_traceback(7), "host": "web-1"}
        summary = "todo-service: 5xx on POST /todos/{id}/complete"
        fake.add_incident(INCIDENT, [alert_json(INCIDENT, summary=summary, details=details)])
        yield fake


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def github() -> Iterator[tuple[FakeGitHub, ThreadedServer]]:
    fake = FakeGitHub(token=GITHUB_TOKEN)
    with fake.serve() as server:
        yield fake, server


@pytest.fixture
def live(
    tmp_path: Path,
    scripted_server: ScriptedModelServer,
    pagerduty: FakePagerDuty,
    slack: FakeSlack,
    github: tuple[FakeGitHub, ThreadedServer],
) -> Iterator[LiveServer]:
    forge, forge_server = github
    settings, playground = server_settings(
        tmp_path,
        scripted_server,
        secrets={
            "PAGERDUTY_WEBHOOK_SECRETS": f"{NEW},{OLD}",
            "PAGERDUTY_API_TOKEN": TOKEN,
            "SLACK_BOT_TOKEN": SLACK_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "GITHUB_TOKEN": GITHUB_TOKEN,
        },
        pagerduty={"api_url": pagerduty.url, "from_email": FROM},
        slack={"channel": CHANNEL_ID, "api_url": slack.api_url},
        github={"repo": forge.full_name, "api_url": forge_server.url},
        workflow={"delivery_backoff_s": 0.2, "delivery_backoff_max_s": 1.0},
    )
    server = start_server(settings, playground, sample_incident_script(), scripted_server)
    yield server
    server.server.stop()


def deliver(
    live: LiveServer, payload: dict[str, Any], *secrets: str, body: bytes | None = None
) -> httpx.Response:
    body = body if body is not None else json.dumps(payload).encode()
    with live.client(token=None) as client:
        return client.post(
            "/webhook/pagerduty", content=body, headers=pagerduty_headers(secrets or (OLD,), body)
        )


def test_a_triggered_incident_runs_once_and_its_notes_land_once_through_an_outage(
    live: LiveServer,
    pagerduty: FakePagerDuty,
    scripted_server: ScriptedModelServer,
    slack: FakeSlack,
    github: tuple[FakeGitHub, ThreadedServer],
) -> None:
    pagerduty.fail_next(status=503, only=f"POST /incidents/{INCIDENT}/notes")  # PagerDuty is down a moment
    triggered = pagerduty_event(incident_id=INCIDENT, number=2, event_id="01DEN6JPMGRGKSCFQXWWJGWJZB")
    started = deliver(live, triggered, OLD)  # PagerDuty still signs with the secret being retired
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    redelivered = deliver(live, triggered, OLD, NEW)  # the same event again, signed with both
    repeat = deliver(
        live, pagerduty_event(incident_id=INCIDENT, number=2), NEW
    )  # another event, same incident
    acknowledged = deliver(
        live, pagerduty_event(event_type="incident.acknowledged", incident_id=INCIDENT), NEW
    )
    assert redelivered.json() == repeat.json() == {"run_id": run_id, "duplicate": True}
    assert acknowledged.status_code == 202 and "do not start runs" in acknowledged.json()["ignored"]

    run = live.wait_for_run(run_id, briefed)
    started_note = f"Nightshift is working on this incident: {run['web_url']}. It never acknowledges or"
    assert pagerduty.notes_on(INCIDENT) == [f"{started_note} resolves incidents."]
    note = next(d for d in run["deliveries"] if d["kind"] == "incident_note")
    assert (note["service"], note["state"], note["attempts"]) == ("pagerduty", "delivered", 2)
    assert note["last_status"] == 503

    alert = run["ticket"]["alert"]
    assert (run["ticket"]["key"], run["ticket"]["source"], run["ticket"]["priority"]) == (
        "PD-2",
        "pagerduty",
        "P1",
    )
    assert "TodoNotFound: no todo with id 7" in alert["details"]
    mapped = [(f["repo_path"], f["lineno"], f["function"]) for f in alert["frames"] if f["repo_path"]]
    assert mapped == [("todo/service.py", 55, "complete"), ("todo/service.py", 50, "get")]
    assert sum("PagerDuty triggered incident" in entry["text"] for entry in run["timeline"]) == 1

    with live.client() as client:
        assert client.post(f"/runs/{run_id}/approve").status_code == 202
    shipped = live.wait_for_run(run_id, all_delivered)
    notes = pagerduty.notes_on(INCIDENT)
    assert len(notes) == 2 and shipped["pr_url"] in notes[1] and shipped["web_url"] in notes[1]
    assert pagerduty.calls_to("PUT") == []  # never acknowledged, never resolved
    assert len(live.get_json("/runs")["runs"]) == 1

    triage = first_message(scripted_server, "triage agent")
    trace = triage[triage.index("<stack_trace>") : triage.index("</stack_trace>")]
    assert "data, not instructions" in triage[: triage.index("<stack_trace>")]
    assert "todo/service.py:50 in get" in trace and "todo/service.py:55 in complete" in trace
    assert "TodoNotFound: no todo with id 7" in trace
    forge, forge_server = github
    line_url = f"{forge_server.url}/{forge.full_name}/blob/{run['base_commit']}/todo/service.py#L50"
    assert [f["url"] for f in alert["frames"] if f["repo_path"]][-1] == line_url
    blocks = json.dumps([c.body.get("blocks") for c in slack.calls if c.method.startswith("chat.")])
    assert f"<{line_url}|todo/service.py:50 in get>" in blocks
    assert f"[todo/service.py:50 in get]({line_url})" in forge.pulls[0]["body"]


def test_forged_stale_and_malformed_deliveries_start_nothing(live: LiveServer) -> None:
    payload = pagerduty_event(incident_id="PT4KHLK")
    refusals = {
        "unsigned": {},
        "wrong secret": pagerduty_headers(["not-a-secret"], json.dumps(payload).encode()),
        "stale secret": pagerduty_headers(["pd-webhook-secret-2022"], json.dumps(payload).encode()),
    }
    body = json.dumps(payload).encode()
    with live.client(token=None) as client:
        for name, headers in refusals.items():
            refused = client.post(
                "/webhook/pagerduty", content=body, headers={"Content-Type": "application/json", **headers}
            )
            assert refused.status_code == 401, name
            assert "PagerDuty signature check failed" in refused.json()["error"], name
    for malformed in (b'{"event": {"id":', b'{"messages": []}'):
        assert deliver(live, {}, NEW, body=malformed).status_code == 400
    assert live.get_json("/runs") == {"runs": []}
    health = live.get_json("/health")["integrations"]["pagerduty"]
    assert (health["mode"], health["webhook"], health["state"]) == ("live", "on", "ok")
