"""Benchmark of the HTTP server (a real `nightshift serve` subprocess on 127.0.0.1). Prints a table.

Each repetition starts a fresh server, on SQLite or on PostgreSQL (a throwaway cluster,
``demo/postgres.py``), and 4 incidents whose 16 agents stream their first turn for about STREAM_S
seconds (a text fragment of 8 characters every 20 ms per agent, see ``streaming_scripts``), so the load
is the same through every measure. Once every agent streams:

1. Streaming CPU: the server process's CPU time (user + system, from /proc; wall time suffers more from
   other work on the machine) per second, over STREAM_WINDOWS windows of WINDOW_S, with nobody
   watching; and per 1,000 fragments the agents streamed meanwhile (counted afterwards in the run's
   stored text), which does not depend on how fast a loaded machine let the model server send them.
   Goal: at most half of what it was before issue 19's work.
2. Slash-command ack latency: 100 concurrent, correctly signed /oncall commands, each starting a run
   (they wait in the queue). Goal: p99 < 100 ms. The commands come from a separate process with a lean
   client (bench/slack_burst.py says why).
3. SSE fan-out: the server's CPU in alternating windows without and with 50 watchers following one
   incident; the difference is what the fan-out costs.

Repetitions alternate between the databases; the table gives the median and the spread (min - max)
over them, and the machine's load average (the machine may be shared: compare figures taken together).

Run: .venv/bin/python bench/server.py [--database sqlite|postgresql|both] [--repeat N]
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from client.scripted import ScriptedModelServer
from client.scripted.script import Turn
from demo.fake_slack import CHANNEL_ID, FakeSlack
from demo.incident import sample_incident_script
from demo.playground import create_playground, environment_toml
from demo.postgres import TemporaryPostgres, install_postgres
from demo.serving import Served, serving
from store.database import engine_url, events

INCIDENTS, COMMANDS, WATCHERS = 4, 100, 50
STREAM_WINDOWS, WINDOW_S, ROUNDS, SETTLE_S = 5, 2.0, 3, 3.0
"""Streaming CPU: STREAM_WINDOWS windows of WINDOW_S. SSE: ROUNDS pairs of WINDOW_S windows (without,
then with the watchers), SETTLE_S after the burst (whose 100 runs start their workflows meanwhile)."""
SLOW = {"ttft_s": 0.5, "chunk_chars": 8, "chunk_delay_s": 0.02}
STREAM_S = 45.0
"""How long each agent's first turn streams at the least: longer than the three measures together."""
FILLER = "Reading the code around the failing request before changing anything. "
DATABASES = ("sqlite", "postgresql")


def streaming_scripts() -> dict[str, list[Turn]]:
    """The sample incident, every turn streamed slowly (SLOW), the first turn of each agent preceded by
    about STREAM_S seconds of text: every incident plays it from its first turn (per conversation)."""
    chars = int(STREAM_S / SLOW["chunk_delay_s"] * SLOW["chunk_chars"])
    padding = (FILLER * (chars // len(FILLER) + 1))[:chars]
    scripts = {}
    for name, turns in sample_incident_script().items():
        slow = [turn.model_copy(update=SLOW) for turn in turns]
        slow[0] = slow[0].model_copy(update={"content": f"{padding}\n{slow[0].content}"})
        scripts[name] = slow
    return scripts


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ack_latencies(url: str, secret: str) -> list[float]:
    """The burst, fired from a process of its own (see bench/slack_burst.py)."""
    client = Path(__file__).with_name("slack_burst.py")
    burst = subprocess.run(
        [sys.executable, str(client), url, secret, str(COMMANDS), "bench"],
        capture_output=True,
        text=True,
        check=False,
    )
    if burst.returncode != 0:
        raise SystemExit(f"the /oncall burst failed: {burst.stderr.strip() or burst.stdout.strip()}")
    return [float(ms) for ms in json.loads(burst.stdout)]


async def cpu_window(pid: int) -> float:
    """The server's CPU seconds per second over WINDOW_S."""
    before = cpu_seconds(pid)
    await asyncio.sleep(WINDOW_S)
    return (cpu_seconds(pid) - before) / WINDOW_S


async def fan_out(url: str, run_id: str, watchers: int, pid: int) -> tuple[float, float]:
    """The server's CPU seconds per second over WINDOW_S with ``watchers`` streams; events per watcher."""
    counts = [0] * watchers

    async def watch(index: int, client: httpx.AsyncClient) -> None:
        async with client.stream("GET", f"{url}/runs/{run_id}/events") as stream:
            async for line in stream.aiter_lines():
                counts[index] += line.startswith("data: ")

    async with httpx.AsyncClient(timeout=httpx.Timeout(10, read=None)) as client:
        tasks = [asyncio.create_task(watch(i, client)) for i in range(watchers)]
        used = await cpu_window(pid)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return used, statistics.mean(counts) if counts else 0.0


def fragments_streamed(database_url: str, runs: list[str], start: float, end: float) -> int:
    """The text fragments the runs' agents streamed between ``start`` and ``end`` (epoch seconds), from
    their stored text deltas (the bus merges fragments into one event, stamped with the first one's time:
    the bounds are as exact as its flush interval)."""
    engine = sa.create_engine(engine_url(database_url))
    query = sa.select(events.c.data).where(
        events.c.run_id.in_(runs), events.c.kind == "text_delta", events.c.ts >= start, events.c.ts < end
    )
    try:
        with engine.connect() as db:
            chars = sum(len(json.loads(data).get("text", "")) for data in db.execute(query).scalars())
    finally:
        engine.dispose()
    return round(chars / SLOW["chunk_chars"])


@dataclass
class Repetition:
    """What one server measured: streaming CPU (cores per window), ack latencies (ms), fan-out."""

    database: str
    streaming: list[float] = field(default_factory=list)
    fragments_per_s: float = 0.0
    """What the agents streamed during the streaming windows."""
    latencies: list[float] = field(default_factory=list)
    idle: list[float] = field(default_factory=list)
    busy: list[float] = field(default_factory=list)
    received: list[float] = field(default_factory=list)
    load: float = 0.0
    """The machine's 1-minute load average at the end."""

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies)

    @property
    def p99(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]

    @property
    def cpu_ms_per_1000_fragments(self) -> float:
        return statistics.mean(self.streaming) * 1000 / self.fragments_per_s * 1000

    @property
    def watchers_cost(self) -> float:
        """What the watchers added, on average over the pairs of neighbouring windows."""
        return statistics.mean(busy - idle for idle, busy in zip(self.idle, self.busy, strict=True))


async def measure(server: Served, secret: str, runs: list[str], database: str, url: str) -> Repetition:
    done = Repetition(database)
    started = time.time()
    for _ in range(STREAM_WINDOWS):
        done.streaming.append(await cpu_window(server.pid))
    ended = time.time()
    await still_streaming(server.url, runs)
    done.latencies = ack_latencies(server.url, secret)
    await asyncio.sleep(SETTLE_S)
    for _ in range(ROUNDS):  # alternating, so that what the incidents do weighs on both sides alike
        cpu, _ = await fan_out(server.url, runs[0], 0, server.pid)
        done.idle.append(cpu)
        cpu, per_watcher = await fan_out(server.url, runs[0], WATCHERS, server.pid)
        done.busy.append(cpu)
        done.received.append(per_watcher)
    await still_streaming(server.url, runs)
    done.load = os.getloadavg()[0]
    done.fragments_per_s = fragments_streamed(url, runs, started, ended) / (ended - started)
    return done


async def still_streaming(url: str, runs: list[str]) -> None:
    """Stop when an incident's agents are no longer on their first, long turn: the load changed."""
    async with httpx.AsyncClient(timeout=30) as client:
        for run_id in runs:
            agents = (await client.get(f"{url}/runs/{run_id}")).json()["agents"]
            if any(a["status"] != "running" or a["turns"] != 1 for a in agents.values()):
                raise SystemExit(
                    f"run {run_id}'s agents stopped streaming before the measures ended; raise STREAM_S"
                )


def all_streaming(url: str, runs: list[str]) -> bool:
    for run_id in runs:
        agents = httpx.get(f"{url}/runs/{run_id}", timeout=30).json()["agents"]
        if len(agents) < 4 or any(a["status"] != "running" or a["turns"] < 1 for a in agents.values()):
            return False
    return True


@contextmanager
def bench_server(
    database: str, postgres: TemporaryPostgres | None
) -> Iterator[tuple[Served, list[str], str, str]]:
    """A fresh server on ``database`` with INCIDENTS incidents whose agents all stream; (server, runs,
    Slack signing secret, database URL)."""
    workdir = Path(tempfile.mkdtemp(prefix="nightshift-bench-server-"))
    playground = create_playground(workdir / "playground")
    (workdir / "nightshift.toml").write_text(
        f"{environment_toml()}"
        f"[workflow]\nmax_concurrent_runs = {INCIDENTS}\n[server]\nmax_queued_runs = 500\n"
        "[model.pricing.bench]\ninput = 0\noutput = 0\n"
    )
    secret, token = "bench-signing-secret-0123456789", "bench-api-token"
    with (
        ScriptedModelServer(streaming_scripts(), per_conversation=True) as model,
        FakeSlack(token="xoxb-bench") as slack,
    ):
        env = {
            "OPENAI_BASE_URL": model.base_url,
            "NIGHTSHIFT_MODEL": "bench",
            "NIGHTSHIFT_REPO": str(playground.repo),
            "NIGHTSHIFT_DATA_DIR": str(workdir / "state"),
            "NIGHTSHIFT_CONFIG": str(workdir / "nightshift.toml"),
            "NIGHTSHIFT_API_TOKEN": token,
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_SIGNING_SECRET": secret,
            "SLACK_CHANNEL": CHANNEL_ID,
            "SLACK_API_URL": slack.api_url,
        }
        url = f"sqlite:///{workdir / 'state' / 'nightshift.sqlite'}"
        if postgres is not None:
            env["NIGHTSHIFT_DATABASE_URL"] = url = postgres.database()
        with serving(env, workdir) as server:
            auth = {"Authorization": f"Bearer {token}"}
            runs = [
                httpx.post(f"{server.url}/runs", json={"title": f"bench incident {n}"}, headers=auth).json()[
                    "run_id"
                ]
                for n in range(INCIDENTS)
            ]
            deadline = time.monotonic() + 120
            while not all_streaming(server.url, runs):
                if time.monotonic() > deadline:
                    raise SystemExit(
                        f"the incidents' agents were not all streaming within 120 s; {server.log}"
                    )
                time.sleep(0.2)
            yield server, runs, secret, url


def spread(values: list[float], unit: str, scale: float = 1.0) -> str:
    """The median, and min - max when there are several."""
    middle = f"{statistics.median(values) * scale:.1f}{unit}"
    if len(values) < 2:
        return middle
    return f"{middle} ({min(values) * scale:.1f} - {max(values) * scale:.1f})"


def report(done: list[Repetition]) -> None:
    table = Table(
        title=f"Server benchmark: {INCIDENTS} incidents streaming; {COMMANDS} concurrent signed /oncall; "
        f"{WATCHERS} SSE watchers. Median (min - max) of the repetitions"
    )
    table.add_column("measure")
    for database in DATABASES:
        if any(r.database == database for r in done):
            table.add_column(f"{database} ({sum(r.database == database for r in done)}x)", justify="right")
    table.add_column("goal", justify="right")
    columns = [[r for r in done if r.database == database] for database in DATABASES]
    columns = [column for column in columns if column]
    rows = [
        ("ack latency p50", lambda rs: spread([r.p50 for r in rs], " ms"), ""),
        ("ack latency p99", lambda rs: spread([r.p99 for r in rs], " ms"), "< 100 ms"),
        ("ack latency max", lambda rs: spread([max(r.latencies) for r in rs], " ms"), ""),
        (
            f"server CPU while the incidents stream, % of a core (mean of {STREAM_WINDOWS} x {WINDOW_S:g} s)",
            lambda rs: spread([statistics.mean(r.streaming) for r in rs], " %", 100),
            "half of before",
        ),
        (
            "fragments streamed per second meanwhile (16 agents)",
            lambda rs: spread([r.fragments_per_s for r in rs], ""),
            "",
        ),
        (
            "server CPU per 1,000 streamed fragments, ms",
            lambda rs: spread([r.cpu_ms_per_1000_fragments for r in rs], " ms"),
            "half of before",
        ),
        (
            f"cost of {WATCHERS} SSE watchers, % of a core (mean of {ROUNDS} pairs of windows)",
            lambda rs: spread([r.watchers_cost for r in rs], " %", 100),
            "",
        ),
        (
            "events received per watcher and window (replay included)",
            lambda rs: spread([statistics.mean(r.received) for r in rs], ""),
            "",
        ),
        ("load average (1 min) at the end", lambda rs: spread([r.load for r in rs], ""), ""),
    ]
    for label, show, goal in rows:
        table.add_row(label, *(show(column) for column in columns), goal)
    Console().print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=[*DATABASES, "both"], default="both")
    parser.add_argument("--repeat", type=int, default=1, help="repetitions per database (alternating)")
    args = parser.parse_args()
    databases = DATABASES if args.database == "both" else (args.database,)
    done: list[Repetition] = []
    with ExitStack() as stack:
        postgres = None
        if "postgresql" in databases:
            postgres = stack.enter_context(TemporaryPostgres(install_postgres()))
        for _ in range(args.repeat):
            for database in databases:
                with bench_server(database, postgres if database == "postgresql" else None) as (
                    server,
                    runs,
                    secret,
                    url,
                ):
                    done.append(asyncio.run(measure(server, secret, runs, database, url)))
                last = done[-1]
                cpu = statistics.mean(last.streaming) * 100
                print(
                    f"{database}: p99 {last.p99:.1f} ms, streaming {cpu:.1f} % of a core, "
                    f"{last.fragments_per_s:.0f} fragments/s, {last.cpu_ms_per_1000_fragments:.0f} ms per "
                    f"1,000, load {last.load:.1f}",
                    flush=True,
                )
    report(done)


if __name__ == "__main__":
    main()
