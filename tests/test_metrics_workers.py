"""Two real workers on one real PostgreSQL (demo/cluster.py) report the same queue depth and delivery
backlog on ``/metrics``: those figures come from the database, not from either worker's memory.

Slack is down, so the briefings of the first two runs wait in the outbox; then the model stops
answering, so of three more runs one holds the only agents slot and two wait in the queue. Nothing
moves while both workers are scraped.
"""

import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from demo.cluster import API_TOKEN, TURN, Cluster, Worker
from demo.incident import sample_incident_script
from tests.postgres_fixtures import PG_TEST_TIMEOUT_S

pytest_plugins = ["tests.postgres_fixtures"]
pytestmark = pytest.mark.timeout(PG_TEST_TIMEOUT_S)

REPORT = "Completing a todo twice reopens it (report {n})"
SHARED = (
    ("nightshift_queue_depth", ()),
    ("nightshift_runs", (("status", "running"),)),
    ("nightshift_runs", (("status", "awaiting_decision"),)),
    ("nightshift_runs_started_total", (("trigger", "slack"),)),
    ("nightshift_deliveries_pending", (("service", "slack"),)),
    ("nightshift_deliveries_failing", (("service", "slack"),)),
)


def scrape(worker: Worker) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = httpx.get(f"{worker.url}/metrics", headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=30)
    answer.raise_for_status()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def test_two_workers_report_the_same_queue_depth_and_delivery_backlog(
    tmp_path: Path, postgres_url: str
) -> None:
    one_slot = {"max_concurrent_runs": 1, "worker_concurrent_runs": 1}
    with Cluster(tmp_path, postgres_url, workflow=one_slot) as cluster:
        cluster.slack.fail_next("chat.postMessage", count=1000, status=503)  # Slack is down
        a, b = cluster.start_workers(2)
        briefed = [cluster.oncall(a, REPORT.format(n=1)), cluster.oncall(b, REPORT.format(n=2))]
        cluster.wait_for(briefed, "awaiting_decision", timeout_s=300)

        hanging = {
            agent: [turn.model_copy(update=TURN | {"ttft_s": 600}) for turn in turns]
            for agent, turns in sample_incident_script().items()
        }
        for model in cluster.models:  # no conversation is in progress: every new one hangs
            model.load(hanging)
        waiting = [cluster.oncall(worker, REPORT.format(n=n)) for n, worker in ((3, a), (4, b), (5, a))]
        deadline = time.monotonic() + 120
        while sorted(cluster.run(run_id)["status"] for run_id in waiting) != ["queued", "queued", "running"]:
            assert time.monotonic() < deadline, [cluster.run(run_id)["status"] for run_id in waiting]
            time.sleep(0.2)

        started = time.monotonic()
        seen_by_a, seen_by_b = scrape(a), scrape(b)
        between_s = time.monotonic() - started

    expected = [2, 1, 2, 5, 2, 2]
    assert [seen_by_a[(name, labels)] for name, labels in SHARED] == expected
    assert [seen_by_b[(name, labels)] for name, labels in SHARED] == expected
    oldest = ("nightshift_deliveries_oldest_pending_seconds", (("service", "slack"),))
    assert seen_by_a[oldest] > 0
    assert 0 <= seen_by_b[oldest] - seen_by_a[oldest] <= between_s + 0.01  # the same delivery, later
