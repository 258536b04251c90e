"""Three real workers on one real PostgreSQL, one of them killed while its agents run (demo/cluster.py).

Twelve incidents arrive as signed /oncall commands spread over the workers; worker 0 gets kill -9 as
soon as it runs agents. Every run must still reach its briefing, be approved through another worker
than the one its webhook reached, and ship: twelve pull requests, twelve briefings, no agent that had
finished run again, and each run's event stream numbered 1..n with no gap and no duplicate, followed
live from a worker that is not the one producing the events.
"""

import asyncio
import json
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from demo.cluster import API_TOKEN, Cluster, Worker
from store.runs import Store
from tests.postgres_fixtures import PG_TEST_TIMEOUT_S

pytest_plugins = ["tests.postgres_fixtures"]
pytestmark = pytest.mark.timeout(PG_TEST_TIMEOUT_S)

INCIDENTS = 12
RECOVERY_S = 4.0


def follow_events(worker: Worker, run_id: str, until: str, into: list[dict[str, Any]]) -> None:
    """Collect the run's Server-Sent Events from ``worker`` until one of kind ``until`` arrives."""
    with httpx.stream(
        "GET",
        f"{worker.url}/runs/{run_id}/events",
        headers={"Authorization": f"Bearer {API_TOKEN}"},
        timeout=httpx.Timeout(10, read=240),
    ) as stream:
        for line in stream.iter_lines():
            if line.startswith("data: "):
                into.append(json.loads(line[6:]))
                if into[-1]["kind"] == until:
                    return


def finished_agents(run: dict[str, Any], before: float) -> dict[str, str]:
    """The run's agents that had finished by ``before`` (epoch seconds): name -> finished_at."""
    return {
        name: agent["finished_at"]
        for name, agent in run["agents"].items()
        if agent["finished_at"] and datetime.fromisoformat(agent["finished_at"]).timestamp() < before
    }


def test_three_workers_lose_one_mid_agents_and_every_incident_ships_once(
    tmp_path: Path, postgres_url: str
) -> None:
    settings = {"max_concurrent_runs": 6, "worker_concurrent_runs": 2, "recovery_s": RECOVERY_S}
    with Cluster(tmp_path, postgres_url, turn_s=0.3, workflow=settings) as cluster:
        started = time.monotonic()
        workers = cluster.start_workers(3)
        print(f"up at {time.monotonic() - started:.1f}s", flush=True)
        victim = workers[0]
        received: dict[str, Worker] = {}
        for n in range(INCIDENTS):
            worker = workers[n % len(workers)]
            received[cluster.oncall(worker, f"Completing a todo twice reopens it (report {n + 1})")] = worker

        deadline = time.monotonic() + 120
        while not any(
            agent["status"] == "running" and agent["worker"] == victim.executor_id
            for run_id in received
            for agent in cluster.run(run_id)["agents"].values()
        ):
            assert time.monotonic() < deadline, "worker 0 never ran an agent"
            time.sleep(0.1)
        killed_at = time.time()
        victim.kill()
        # What the database says now is what the victim left: the others take its work over only after
        # two probes (recovery_s / 2) have found it gone.
        at_kill = {run_id: cluster.run(run_id) for run_id in received}
        print(f"killed at {time.monotonic() - started:.1f}s", flush=True)

        briefed = cluster.wait_for(received, "awaiting_decision", timeout_s=300)
        print(f"briefed at {time.monotonic() - started:.1f}s", flush=True)
        assert all(run["verification"]["verdict"] == "verified" for run in briefed.values())
        logs = "".join(worker.log.read_text(errors="replace") for worker in cluster.live())
        assert f"worker {victim.executor_id} is gone" in logs  # DBOS recovery, not a restart

        watched = next(run_id for run_id, worker in received.items() if worker is workers[1])
        live_events: list[dict[str, Any]] = []
        watcher = threading.Thread(target=follow_events, args=(workers[2], watched, "pr_opened", live_events))
        watcher.start()
        for run_id, receiver in received.items():
            approver = next(worker for worker in cluster.live() if worker is not receiver)
            cluster.approve(approver, run_id)
        shipped = cluster.wait_for(received, "shipped", timeout_s=180)
        print(f"shipped at {time.monotonic() - started:.1f}s", flush=True)
        watcher.join(timeout=60)

    interrupted = [
        (run_id, name)
        for run_id, run in at_kill.items()
        for name, agent in run["agents"].items()
        if agent["status"] == "running" and agent["worker"] == victim.executor_id
    ]
    assert interrupted
    for run_id, name in interrupted:  # run again, to the end, on a live worker
        assert shipped[run_id]["agents"][name]["worker"] != victim.executor_id
    for run_id, run in shipped.items():  # an agent that had finished is not run again
        assert finished_agents(at_kill[run_id], killed_at - 1) == finished_agents(run, killed_at - 1)
    assert len({run["pr_url"] for run in shipped.values()}) == INCIDENTS
    briefings = cluster.slack.calls_to("chat.postMessage")
    assert len(briefings) == INCIDENTS
    assert len({run["message_ref"] for run in shipped.values()}) == INCIDENTS

    store = Store(postgres_url)
    try:
        pull_requests = asyncio.run(store.pull_requests())
        streams = {run_id: asyncio.run(store.events_of(run_id)) for run_id in received}
    finally:
        store.close()
    assert sorted(pr.run_id for pr in pull_requests) == sorted(received)
    for run_id, events in streams.items():
        assert [event.id for event in events] == list(range(1, len(events) + 1)), run_id
        assert [event.kind for event in events].count("briefing") == 1, run_id
    assert [event["id"] for event in live_events] == list(range(1, len(live_events) + 1))
    assert live_events[-1]["kind"] == "pr_opened"
