"""Benchmark of scaling out: real `nightshift serve` workers on one PostgreSQL database. Prints a table.

1. Throughput: INCIDENTS signed /oncall commands spread over one, two, then three workers (a fresh
   database and fresh workers each time), from the first command to the last briefing. Every worker runs
   at most 2 agent phases at once (``worker_concurrent_runs``; the global limit is 6), and the scripted
   model takes TURN_S seconds per turn, so the work waits on the model, as with a real one. Goal: at
   least 1.8x the one-worker rate with two workers, 2.5x with three. Beside the rate: the agent phase's
   median wall time (it stays near the one-worker figure while the machine keeps up, and grows when the
   phases running at once need more CPU than it has), the phases each worker ran (the queue's spread),
   and the machine's load average (other work on it slows every worker).
2. Recovery: three workers, the first killed (kill -9) while its agents run; the time from its death to
   its runs moving again, i.e. to the first new event of each run whose agents it was running, with
   ``[workflow] recovery_s`` as given (a killed process loses its claim at once, so the bound is two
   probes: recovery_s / 2, plus the queue's poll).

PostgreSQL is Debian's, started in a temporary directory (installed with apt when missing, as root).

Run: .venv/bin/python bench/scale.py [--incidents 18] [--turn 1.0] [--recovery-s 60]
"""

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from demo.cluster import Cluster, Worker
from demo.postgres import TemporaryPostgres, install_postgres
from workflow.store import Store

PER_WORKER, GLOBAL = 2, 6


@dataclass(frozen=True)
class Throughput:
    per_minute: float
    phase_s: float
    """The agent phase's median wall time (agents started to verdict): it grows when the phases running at
    once need more CPU than the machine has to give them."""
    phases: dict[str, int]
    """Agent phases run by each worker: the queue's spread."""
    load: float
    """The machine's 1-minute load average at the end (other work on the machine slows every worker)."""


def phase_s(run: dict[str, Any]) -> float:
    """Seconds from the agents' start to the first verdict."""
    at = [(entry["text"], datetime.fromisoformat(entry["at"]).timestamp()) for entry in run["timeline"]]
    started = next(when for text, when in at if text == "agents started")
    return next(when for text, when in at if text.startswith("verification: ")) - started


def throughput(
    pg: TemporaryPostgres, workdir: Path, workers: int, incidents: int, turn_s: float
) -> Throughput:
    """Incidents per minute with ``workers`` workers."""
    settings = {"max_concurrent_runs": GLOBAL, "worker_concurrent_runs": PER_WORKER}
    with Cluster(workdir / f"{workers}-workers", pg.database(), turn_s=turn_s, workflow=settings) as cluster:
        started = cluster.start_workers(workers)
        began = time.monotonic()
        runs = [
            cluster.oncall(started[n % workers], f"Completing a todo twice reopens it (report {n + 1})")
            for n in range(incidents)
        ]
        briefed = cluster.wait_for(runs, "awaiting_decision", timeout_s=incidents * 120)
        elapsed = time.monotonic() - began
        names = {worker.executor_id: worker.name for worker in started}
        spread = Counter(names[run["agents"]["code"]["worker"]] for run in briefed.values())
        return Throughput(
            incidents / (elapsed / 60),
            statistics.median(phase_s(run) for run in briefed.values()),
            dict(sorted(spread.items())),
            os.getloadavg()[0],
        )


def running_on(cluster: Cluster, runs: list[str], worker: Worker) -> list[str]:
    return [
        run_id
        for run_id in runs
        if any(
            agent["status"] == "running" and agent["worker"] == worker.executor_id
            for agent in cluster.run(run_id)["agents"].values()
        )
    ]


def recovery(pg: TemporaryPostgres, workdir: Path, turn_s: float, recovery_s: float) -> list[float]:
    """Seconds from a worker's kill -9 to the first new event of each run whose agents it was running."""
    settings = {
        "max_concurrent_runs": GLOBAL,
        "worker_concurrent_runs": PER_WORKER,
        "recovery_s": recovery_s,
    }
    url = pg.database()
    with Cluster(workdir / "recovery", url, turn_s=turn_s, workflow=settings) as cluster:
        workers = cluster.start_workers(3)
        runs = [cluster.oncall(workers[n % 3], f"Completing a todo twice reopens it ({n})") for n in range(6)]
        victim = workers[0]
        deadline = time.monotonic() + 300
        while not (stuck := running_on(cluster, runs, victim)):
            if time.monotonic() > deadline:
                raise SystemExit("the first worker never ran an agent")
            time.sleep(0.1)
        victim.kill()
        killed_at = time.time()
        return asyncio.run(first_events_after(url, stuck, killed_at, timeout_s=recovery_s * 2 + 120))


async def first_events_after(url: str, runs: list[str], after: float, *, timeout_s: float) -> list[float]:
    store = Store(url)
    try:
        moved: dict[str, float] = {}
        deadline = time.monotonic() + timeout_s
        while len(moved) < len(runs):
            if time.monotonic() > deadline:
                raise SystemExit(f"runs {sorted(set(runs) - set(moved))} did not move within {timeout_s:g}s")
            for run_id in runs:
                later = [event.ts for event in await store.events_of(run_id) if event.ts > after]
                if later and run_id not in moved:
                    moved[run_id] = min(later) - after
            await asyncio.sleep(0.2)
        return sorted(moved.values())
    finally:
        store.close()


def main(incidents: int, turn_s: float, recovery_s: float) -> None:
    console = Console()
    workdir = Path(tempfile.mkdtemp(prefix="nightshift-bench-scale-"))
    with TemporaryPostgres(install_postgres()) as pg:
        rates: dict[int, Throughput] = {}
        for workers in (1, 2, 3):
            rates[workers] = rate = throughput(pg, workdir, workers, incidents, turn_s)
            console.print(f"{workers} worker(s): {rate.per_minute:.1f} incidents/min", highlight=False)
        moved = recovery(pg, workdir, turn_s, recovery_s)
    table = Table(
        title=f"Scale-out benchmark ({incidents} incidents, scripted model at {turn_s:g} s per turn, "
        f"{PER_WORKER} agent phases per worker, {os.cpu_count()} cores)"
    )
    for column in ("workers", "incidents / min", "vs one worker", "goal", "phase (median)", "phases", "load"):
        table.add_column(column, justify="right")
    goals = {1: "", 2: ">= 1.8x", 3: ">= 2.5x"}
    for workers, rate in rates.items():
        table.add_row(
            str(workers),
            f"{rate.per_minute:.1f}",
            f"{rate.per_minute / rates[1].per_minute:.2f}x",
            goals[workers],
            f"{rate.phase_s:.1f} s",
            " ".join(str(count) for count in rate.phases.values()),
            f"{rate.load:.1f}",
        )
    console.print(table)
    console.print(
        f"Worker killed (kill -9) while running agents of {len(moved)} run(s); with recovery_s = "
        f"{recovery_s:g} s its runs moved again after {', '.join(f'{s:.1f} s' for s in moved)} "
        f"(bound for a killed process: recovery_s / 2 = {recovery_s / 2:g} s, plus the queue's poll).",
        highlight=False,
    )
    console.print(f"{datetime.now():%Y-%m-%d %H:%M}; workers' logs and clones: {workdir}", highlight=False)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--incidents", type=int, default=18)
    parser.add_argument("--turn", type=float, default=1.0, help="seconds per scripted model turn")
    parser.add_argument("--recovery-s", type=float, default=60.0)
    arguments = parser.parse_args()
    main(arguments.incidents, arguments.turn, arguments.recovery_s)
