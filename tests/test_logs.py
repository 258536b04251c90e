"""Logs that follow a run, and its trace: a real ``nightshift serve`` with ``[server] log_format =
"json"`` and a collector for DBOS's traces, one incident from /oncall to its pull request. Every line
of its output (uvicorn's, DBOS's, ours) is one JSON object; the run is followed by its ``run_id``
through the edge, the pipeline and the deliveries; no secret appears in any line, although one was in
what Slack's proxy answered and in a request's URL; the run is one trace."""

import json
import time
from pathlib import Path
from typing import Any

import httpx

from demo.fake_slack import CHANNEL_ID, SIGNING_SECRET, TOKEN, FakeSlack, block_actions_body, signed_headers
from demo.playground import create_playground, environment_toml
from demo.serving import serving
from demo.trigger import fire
from tests.fakes.otlp import FakeCollector, Span
from tests.server_fixtures import all_delivered, briefed, wait_for_run

API_TOKEN = "api-token-for-the-logs-test-0815"
PROXY_PAGE = f"<html><h1>502 Bad Gateway</h1>upstream refused Authorization: Bearer {TOKEN}</html>"


def test_a_run_followed_by_run_id_through_json_logs_and_one_trace(tmp_path: Path) -> None:
    playground = create_playground(tmp_path / "playground")
    with FakeCollector() as collector, FakeSlack() as slack:
        config = tmp_path / "nightshift.toml"
        config.write_text(
            f'{environment_toml()}\n[server]\nlog_format = "json"\n'
            f'otlp_traces_endpoint = "{collector.traces_url}"\n',
            encoding="utf-8",
        )
        env = {
            "NIGHTSHIFT_REPO": str(playground.repo),
            "NIGHTSHIFT_DATA_DIR": str(tmp_path / "state"),
            "NIGHTSHIFT_CONFIG": str(config),
            "NIGHTSHIFT_API_TOKEN": API_TOKEN,
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_CHANNEL": CHANNEL_ID,
            "SLACK_API_URL": slack.api_url,
        }
        # The briefing's first post meets a proxy page that quotes the bot token; it is retried.
        slack.fail_next("chat.postMessage", status=502, body=PROXY_PAGE.encode(), content_type="text/html")
        with serving(env, tmp_path) as server, httpx.Client(base_url=server.url, timeout=30) as client:
            ack = fire(server.url, SIGNING_SECRET, "Completing a todo twice reopens it")
            run_id = ack["text"].split("`")[1]
            wait_for_run(client, run_id, briefed)
            body = block_actions_body(run_id)
            headers = signed_headers(SIGNING_SECRET, body)
            assert client.post("/webhook/slack/actions", content=body, headers=headers).status_code == 200
            wait_for_run(client, run_id, all_delivered)
            assert client.get(f"/health?probe={API_TOKEN}").status_code == 200  # a secret in a URL
        log = server.log.read_text(encoding="utf-8")
        spans = spans_of_run(collector, run_id)

    lines = [line for line in log.splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= entry.keys() for entry in entries)
    assert {"uvicorn.error", "uvicorn.access", "dbos"} <= {entry["logger"] for entry in entries}

    of_run = [entry for entry in entries if entry.get("run_id") == run_id]
    by_logger = {entry["logger"] for entry in of_run}
    pipeline, delivered = "nightshift.workflow", "nightshift.deliveries"
    edge = {"nightshift.runs", "nightshift.webhooks", "uvicorn.access"}  # the command, the click
    assert {*edge, pipeline, "nightshift.agents", delivered} <= by_logger, by_logger
    access = [e["message"] for e in of_run if e["logger"] == "uvicorn.access"]
    assert any("POST /webhook/slack/command" in line for line in access)
    agents = {e["agent"] for e in of_run if e["logger"] == "nightshift.agents"}
    assert agents == {"triage", "code", "test", "pr"}
    deliveries = [e for e in of_run if e["logger"] == delivered]
    assert any(e.get("delivery") == f"{run_id}:briefing" and e.get("ticket") == "INC-1" for e in deliveries)
    assert any(e["message"].endswith("pull request delivered") for e in deliveries)
    assert all(e.get("worker") == "local" for e in of_run)

    for secret in (TOKEN, SIGNING_SECRET, API_TOKEN):
        assert secret not in log
    assert any("[redacted]" in e["message"] for e in deliveries)  # the proxy's page, quoted without it
    assert any("/health?probe=[redacted]" in e["message"] for e in entries)

    root = next(span for span in spans if span.name == "nightshift run")
    assert {span.trace_id for span in spans} == {root.trace_id}
    names = {span.name for span in spans}
    assert {"nightshift.incident", "nightshift.agent_phase", "nightshift.agent", "nightshift.ship"} <= names
    traced = [e for e in of_run if e["logger"] in (pipeline, "nightshift.agents")]
    assert traced and {e.get("trace_id") for e in traced} == {root.trace_id}


def spans_of_run(collector: FakeCollector, run_id: str, timeout_s: float = 30) -> list[Span]:
    """The spans of the run's trace (the one under its ``nightshift run`` span), once the agent phase's
    are in: the server exports what is left when it stops."""
    deadline = time.monotonic() + timeout_s
    while True:
        spans = collector.spans
        roots = {s.trace_id for s in spans if s.attributes.get("nightshift.run_id") == run_id}
        of_run = [s for s in spans if s.trace_id in roots or _about_run(s, run_id)]
        if any(s.name == "nightshift.agent_phase" for s in of_run) or time.monotonic() > deadline:
            return of_run
        time.sleep(0.2)


def _about_run(span: Span, run_id: str) -> bool:
    workflow: Any = span.attributes.get("operationUUID") or ""
    return str(workflow).startswith(run_id)
