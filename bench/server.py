"""Benchmark of the HTTP server (a real `nightshift serve` subprocess on 127.0.0.1). Prints a table.

1. Slash-command ack latency: 100 concurrent, correctly signed /oncall commands, each starting a run (they
   wait in the queue), while 4 incidents run (the scripted model adds 0.5 s to every turn, so they keep
   the server busy). Goal: p99 < 100 ms. The commands come from a separate process with a lean client
   (bench/slack_burst.py says why).
2. SSE fan-out: the server's CPU time per second while one run streams its events to 0 and then to 50
   watchers, and the events each watcher received.

Run: .venv/bin/python bench/server.py
"""

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from demo.fake_slack import CHANNEL_ID, FakeSlack
from demo.incident_script import sample_incident_script
from demo.model_server import ScriptedModelServer
from demo.sandbox import create_sandbox
from demo.serving import serving

INCIDENTS, COMMANDS, WATCHERS, WINDOW_S = 4, 100, 50, 5.0


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


async def fan_out(url: str, run_id: str, watchers: int, pid: int) -> tuple[float, float]:
    """The server's CPU seconds per second over WINDOW_S with ``watchers`` streams; events per watcher."""
    counts = [0] * watchers

    async def watch(index: int, client: httpx.AsyncClient) -> None:
        async with client.stream("GET", f"{url}/runs/{run_id}/events") as stream:
            async for line in stream.aiter_lines():
                counts[index] += line.startswith("data: ")

    async with httpx.AsyncClient(timeout=httpx.Timeout(10, read=None)) as client:
        tasks = [asyncio.create_task(watch(i, client)) for i in range(watchers)]
        before = cpu_seconds(pid)
        await asyncio.sleep(WINDOW_S)
        used = cpu_seconds(pid) - before
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return used / WINDOW_S, statistics.mean(counts) if counts else 0.0


async def measure(url: str, secret: str, run_id: str, pid: int) -> tuple[list[float], float, float, float]:
    latencies = sorted(ack_latencies(url, secret))
    idle_cpu, _ = await fan_out(url, run_id, 0, pid)
    busy_cpu, per_watcher = await fan_out(url, run_id, WATCHERS, pid)
    return latencies, idle_cpu, busy_cpu, per_watcher


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="nightshift-bench-server-"))
    sandbox = create_sandbox(workdir / "sandbox")
    slow = {
        name: [t.model_copy(update={"ttft_s": 0.5}) for t in turns] * INCIDENTS
        for name, turns in sample_incident_script().items()
    }
    (workdir / "nightshift.toml").write_text(
        f'[tools]\ntest_command = "{sys.executable} -m pytest -q -p no:cacheprovider"\n'
        f"[workflow]\nmax_concurrent_runs = {INCIDENTS}\n[server]\nmax_queued_runs = 500\n"
        "[model.pricing.bench]\ninput = 0\noutput = 0\n"
    )
    secret, token = "bench-signing-secret-0123456789", "bench-api-token"
    with ScriptedModelServer(slow) as model, FakeSlack(token="xoxb-bench") as slack:
        env = {
            "OPENAI_BASE_URL": model.base_url,
            "NIGHTSHIFT_MODEL": "bench",
            "NIGHTSHIFT_REPO": str(sandbox.repo),
            "NIGHTSHIFT_DATA_DIR": str(workdir / "state"),
            "NIGHTSHIFT_CONFIG": str(workdir / "nightshift.toml"),
            "NIGHTSHIFT_API_TOKEN": token,
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_SIGNING_SECRET": secret,
            "SLACK_CHANNEL": CHANNEL_ID,
            "SLACK_API_URL": slack.api_url,
        }
        with serving(env, workdir) as server:
            auth = {"Authorization": f"Bearer {token}"}
            runs = [
                httpx.post(f"{server.url}/runs", json={"title": f"bench incident {n}"}, headers=auth).json()[
                    "run_id"
                ]
                for n in range(INCIDENTS)
            ]
            while (
                sum(httpx.get(f"{server.url}/runs/{r}").json()["status"] == "running" for r in runs)
                < INCIDENTS
            ):
                time.sleep(0.2)
            latencies, idle_cpu, busy_cpu, per_watcher = asyncio.run(
                measure(server.url, secret, runs[0], server.pid)
            )
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    table = Table(
        title=f"Server benchmark ({COMMANDS} concurrent signed /oncall while {INCIDENTS} incidents run)"
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("goal", justify="right")
    table.add_row("ack latency p50", f"{p50:.1f} ms", "")
    table.add_row("ack latency p99", f"{p99:.1f} ms", "< 100 ms")
    table.add_row("ack latency max", f"{latencies[-1]:.1f} ms", "")
    table.add_row("server CPU, 0 SSE watchers", f"{idle_cpu * 100:.1f} % of a core", "")
    table.add_row(f"server CPU, {WATCHERS} SSE watchers", f"{busy_cpu * 100:.1f} % of a core", "")
    table.add_row("events received per watcher", f"{per_watcher:.0f} in {WINDOW_S:g} s", "")
    Console().print(table)


if __name__ == "__main__":
    main()
