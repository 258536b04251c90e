"""``GET /metrics`` on the real server after a scripted run, read with prometheus-client's own parser:
the run's trigger, verdict, tokens and cost, and how long its agents, its verification and its sandbox
set-up took; behind the API token unless ``public_metrics``."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from client.scripted import ScriptedModelServer
from demo.fake_slack import CHANNEL_ID, SIGNING_SECRET, TOKEN, FakeSlack, block_actions_body
from demo.incident import sample_incident_script
from tests.server_fixtures import LiveServer, all_delivered, server_settings, start_server
from tests.test_server_slack import post, start_from_slack

pytest_plugins = ["tests.model_fixtures"]

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(live: LiveServer) -> Samples:
    with live.client() as client:
        answer = client.get("/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name`` over every sample carrying at least ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, have), v in samples.items() if n == name and wanted <= have)


@pytest.fixture
def live(tmp_path: Path, scripted_server: ScriptedModelServer) -> Iterator[LiveServer]:
    with FakeSlack() as slack:
        settings, playground = server_settings(
            tmp_path,
            scripted_server,
            secrets={"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET},
            slack={"channel": CHANNEL_ID, "api_url": slack.api_url},
        )
        # A set-up that makes nothing, so that one is measured (a copy: the sample environment is shared).
        settings.environment = settings.environment.model_copy(update={"setup": "true"})
        server = start_server(settings, playground, sample_incident_script(), scripted_server)
        yield server
        server.server.stop()


def test_metrics_show_a_scripted_runs_trigger_verdict_tokens_and_durations(live: LiveServer) -> None:
    before = scrape(live)
    assert value(before, "nightshift_queue_depth") == 0
    assert value(before, "nightshift_queue_limit") == live.settings.server.max_queued_runs

    run_id, _ = start_from_slack(live)
    assert post(live, "/webhook/slack/actions", block_actions_body(run_id)).status_code == 200
    run = live.wait_for_run(run_id, all_delivered)
    after = scrape(live)

    assert value(after, "nightshift_runs_started_total", trigger="slack") == 1
    assert value(after, "nightshift_runs_finished_total", status="shipped", verdict="verified") == 1
    for name, agent in run["agents"].items():
        model = agent["model"]
        tokens = total(after, "nightshift_model_tokens_total", agent=name, model=model)
        assert tokens == agent["input_tokens"] + agent["output_tokens"] > 0, name
        assert value(after, "nightshift_model_cost_usd_total", agent=name, model=model) == pytest.approx(
            agent["cost_usd"]
        )
        assert value(after, "nightshift_agents_ended_total", agent=name, status="submitted") == 1
        runs_of_agent = "nightshift_agent_duration_seconds_count"
        grew = value(after, runs_of_agent, agent=name, status="submitted") - value(
            before, runs_of_agent, agent=name, status="submitted"
        )
        assert grew == 1, name
    for histogram, labels in (
        ("nightshift_agent_duration_seconds", {"status": "submitted"}),
        ("nightshift_verification_duration_seconds", {"verdict": "verified"}),
        ("nightshift_sandbox_setup_duration_seconds", {"status": "ready"}),
    ):
        count = total(after, f"{histogram}_count", **labels) - total(before, f"{histogram}_count", **labels)
        took = total(after, f"{histogram}_sum", **labels) - total(before, f"{histogram}_sum", **labels)
        assert count >= 1 and took > 0, histogram
    assert value(after, "nightshift_queue_depth") == 0
    assert value(after, "nightshift_runs", status="awaiting_decision") == 0
    assert value(after, "nightshift_deliveries_pending", service="slack") == 0
    assert value(after, "nightshift_deliveries_oldest_pending_seconds", service="slack") == 0


def test_metrics_need_the_api_token_unless_public(live: LiveServer) -> None:
    with live.client(token=None) as anonymous:
        refused = anonymous.get("/metrics")
        assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
        live.settings.server.public_metrics = True  # read at each request, as from nightshift.toml
        opened = anonymous.get("/metrics")
    assert opened.status_code == 200
    assert any(f.name == "nightshift_queue_depth" for f in text_string_to_metric_families(opened.text))
