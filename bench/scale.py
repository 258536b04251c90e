"""Benchmark of scaling out: real `nightshift serve` workers on one PostgreSQL database. Prints a table.

1. Throughput: 12 signed /oncall commands (a multiple of 2, 4 and 6 phases at once, so no worker count
   pays for a last, partly empty round) spread over one, two, then three workers (a fresh
   database and fresh workers each time), from the first command to the last briefing. Every worker runs
   at most 2 agent phases at once (``worker_concurrent_runs``; the global limit is 6), and the scripted
   model takes TURN_S seconds per turn, so the work waits on the model, as with a real one. Goal: at
   least 1.8x the one-worker rate with two workers, 2.5x with three. Beside the rate: the agent phase's
   median wall time (it stays near the one-worker figure while the machine keeps up, and grows when the
   phases running at once need more CPU than it has), the phases each worker ran (the queue's spread),
   and the machine's load average (other work on it slows every worker).
2. Recovery: three workers with room for each other's work, the first to run agents killed (kill -9)
   while they run; the time from its death until DBOS has handed its workflows to the live workers
   (a killed process loses its claim at once, so the bound is two probes: ``recovery_s / 2``), and
   until each run whose agents it was running has a new event (the agent started again elsewhere).

PostgreSQL is Debian's, started in a temporary directory (installed with apt when missing, as root).

Run: .venv/bin/python bench/scale.py [--incidents 12] [--turn 1.0] [--recovery-s 60]
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

from dbos import DBOSClient
from rich.console import Console
from rich.table import Table

from demo.cluster import Cluster, Worker
from demo.postgres import TemporaryPostgres, install_postgres
from store.runs import Store

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


@dataclass(frozen=True)
class Recovery:
    handed_over_s: float
    """From the kill to none of the dead worker's workflows being pending on it any more (DBOS has handed
    them to the live workers)."""
    moved_s: list[float]
    """From the kill to the first new event of each run whose agents it was running."""


def agents_running_on(cluster: Cluster, runs: list[str]) -> tuple[Worker, list[str]] | None:
    """The first worker found running agents, and the runs whose agents it runs."""
    for worker in cluster.workers:
        mine = [
            run_id
            for run_id in runs
            if any(
                agent["status"] == "running" and agent["worker"] == worker.executor_id
                for agent in cluster.run(run_id)["agents"].values()
            )
        ]
        if mine:
            return worker, mine
    return None


def recovery(pg: TemporaryPostgres, workdir: Path, turn_s: float, recovery_s: float) -> Recovery:
    """Kill -9 the first worker that runs agents, with room on the others for all of its work (so what
    is measured is the recovery, not a wait for a free slot)."""
    settings = {"max_concurrent_runs": 9, "worker_concurrent_runs": 3, "recovery_s": recovery_s}
    url = pg.database()
    with Cluster(workdir / "recovery", url, turn_s=turn_s, workflow=settings) as cluster:
        workers = cluster.start_workers(3)
        runs = [cluster.oncall(workers[n % 3], f"Completing a todo twice reopens it ({n})") for n in range(6)]
        deadline = time.monotonic() + 300
        while (found := agents_running_on(cluster, runs)) is None:
            if time.monotonic() > deadline:
                raise SystemExit("no worker ran an agent within 300 s")
            time.sleep(0.1)
        victim, stuck = found
        victim.kill()
        killed_at = time.time()
        client = DBOSClient(system_database_url=url)
        try:
            while client.list_workflows(status="PENDING", executor_id=victim.executor_id, load_input=False):
                if time.time() - killed_at > recovery_s * 2 + 60:
                    raise SystemExit(f"{victim.name}'s workflows were not handed over")
                time.sleep(0.1)
            handed_over = time.time() - killed_at
        finally:
            client.destroy()
        moved = asyncio.run(first_events_after(url, stuck, killed_at, timeout_s=recovery_s * 2 + 120))
        return Recovery(handed_over, moved)


async def first_events_after(url: str, runs: list[str], after: float, *, timeout_s: float) -> list[float]:
    """Seconds from ``after`` to the first event stored for each run after it."""
    store = Store(url)
    try:
        moved: dict[str, float] = {}
        deadline = time.monotonic() + timeout_s
        while len(moved) < len(runs):
            if time.monotonic() > deadline:
                raise SystemExit(f"runs {sorted(set(runs) - set(moved))} did not move within {timeout_s:g}s")
            for run_id in set(runs) - set(moved):
                later = [event.ts for event in await store.events_of(run_id) if event.ts > after]
                if later:
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
        recovered = recovery(pg, workdir, turn_s, recovery_s)
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
        f"A worker killed (kill -9) while running agents of {len(recovered.moved_s)} run(s), recovery_s = "
        f"{recovery_s:g} s: its workflows were handed to the live workers after "
        f"{recovered.handed_over_s:.1f} s (bound for a killed process: two probes, recovery_s / 2 = "
        f"{recovery_s / 2:g} s), and its runs moved again after "
        f"{', '.join(f'{s:.1f} s' for s in recovered.moved_s)}.",
        highlight=False,
    )
    console.print(f"{datetime.now():%Y-%m-%d %H:%M}; workers' logs and clones: {workdir}", highlight=False)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--incidents", type=int, default=12)
    parser.add_argument("--turn", type=float, default=1.0, help="seconds per scripted model turn")
    parser.add_argument("--recovery-s", type=float, default=60.0)
    arguments = parser.parse_args()
    main(arguments.incidents, arguments.turn, arguments.recovery_s)
