"""The ``_total`` counters on ``/metrics`` only grow, through the real server and the GitHub fake: a run
that ships, gets a review round (back to ``revising``, then shipped again) and is then merged lowers no
counter at any scrape, so Prometheus never reads a reset. Each arrival in a final status counts: shipped
twice (approved, then the review round's push) and merged once; the code agent's revision is a second
ended agent run. A database made before the counters has its runs counted once."""

import time
from itertools import pairwise
from pathlib import Path

import sqlalchemy as sa

from client.scripted import ScriptedModelServer
from client.scripted.threaded import ThreadedServer
from documents.facts import RunFacts, Ticket
from store.counters import counter_values
from store.runs import Store
from tests.fakes.github import FakeGitHub
from tests.fakes.github_reviews import closed_payload
from tests.server_fixtures import LiveServer
from tests.test_metrics import Samples, scrape, value
from tests.test_server_reviews import changes_requested, deliver, github, round_over, serve, shipped_run

pytest_plugins = ["tests.model_fixtures"]
__all__ = ["github"]  # the fixture, shared with test_server_reviews


def counters(samples: Samples) -> Samples:
    return {key: v for key, v in samples.items() if key[0].endswith("_total")}


def lowered(earlier: Samples, later: Samples) -> list[str]:
    """The counter series of ``earlier`` that ``later`` shows lower, or no longer shows."""
    return [
        f"{name}{dict(labels)}: {v} -> {later.get((name, labels))}"
        for (name, labels), v in counters(earlier).items()
        if later.get((name, labels), -1.0) < v
    ]


def scrape_until_round_over(live: LiveServer, run_id: str, timeout_s: float = 300) -> list[Samples]:
    """Scrapes taken while the review round runs, the last one after it is over."""
    over = round_over(1)
    seen: list[Samples] = []
    deadline = time.monotonic() + timeout_s
    while True:
        done = over(live.get_json(f"/runs/{run_id}"))
        seen.append(scrape(live))
        if done:
            return seen
        assert time.monotonic() < deadline, "the review round never ended"
        time.sleep(0.2)


def test_a_run_shipped_revised_and_merged_never_lowers_a_counter(
    tmp_path: Path, scripted_server: ScriptedModelServer, github: tuple[FakeGitHub, ThreadedServer]
) -> None:
    fake, _ = github
    live = serve(tmp_path, scripted_server, github)
    try:
        run, pull = shipped_run(live, fake)
        seen = [scrape(live)]
        assert value(seen[0], "nightshift_runs_finished_total", status="shipped", verdict="verified") == 1
        changes_requested(live, fake, pull, delivery="counted-1")
        seen += scrape_until_round_over(live, run["run_id"])
        merged = deliver(live, "pull_request", closed_payload(pull, fake.full_name, merged=True))
        assert merged.json()["answer"] == "merged"
        live.wait_for_run(
            run["run_id"],
            lambda r: r["status"] == "merged" and all(d["state"] == "delivered" for d in r["deliveries"]),
        )
        seen.append(scrape(live))
    finally:
        live.server.stop()

    for earlier, later in pairwise(seen):
        assert lowered(earlier, later) == []
    last = seen[-1]
    assert value(last, "nightshift_runs_started_total", trigger="api") == 1
    assert value(last, "nightshift_runs_finished_total", status="shipped", verdict="verified") == 2
    assert value(last, "nightshift_runs_finished_total", status="merged", verdict="verified") == 1
    assert value(last, "nightshift_agents_ended_total", agent="code", status="submitted") == 2
    assert value(last, "nightshift_agents_ended_total", agent="triage", status="submitted") == 1


async def test_a_database_made_before_the_counters_gets_its_runs_counted_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runs.sqlite'}"
    store = Store(url)
    facts, _ = await store.create_run(Ticket(title="Completing a todo twice reopens it", source="sentry"))
    await store.update(facts.run_id, failed)
    made = counter_values(store.engine)
    with store.engine.begin() as db:  # the layout of before: no counters
        db.execute(sa.text("DROP TABLE ns_counters"))
    store.close()

    for _ in range(2):  # the second start finds them counted
        reopened = Store(url)
        try:
            assert counter_values(reopened.engine) == made
        finally:
            reopened.close()
    assert made["nightshift_runs_started"] == [(("sentry",), 1.0)]
    assert made["nightshift_runs_finished"] == [(("failed", "none"), 1.0)]


def failed(facts: RunFacts) -> None:
    facts.status, facts.error = "failed", "the repository could not be fetched"
