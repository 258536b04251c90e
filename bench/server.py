"""Benchmark of the HTTP server (a real `nightshift serve` subprocess on 127.0.0.1). Prints a table.

1. Slash-command ack latency: 100 concurrent, correctly signed /oncall commands, each starting a run (they
   wait in the queue), while 4 incidents run (the scripted model streams every turn slowly, see SLOW,
   so they keep the server busy). Goal: p99 < 100 ms. The commands come from a separate process with a
   lean client (bench/slack_burst.py says why).
2. SSE fan-out: the server's CPU time per second while one of the incidents streams its events to no
   watcher and to 50 watchers, in alternating windows; the difference is what the fan-out costs.

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
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from client.scripted import ScriptedModelServer
from demo.fake_slack import CHANNEL_ID, FakeSlack
from demo.incident import sample_incident_script
from demo.playground import create_playground, environment_toml
from demo.serving import serving

INCIDENTS, COMMANDS, WATCHERS = 4, 100, 50
WINDOW_S, ROUNDS, SETTLE_S = 2.0, 3, 3.0
"""SSE: ROUNDS pairs of WINDOW_S windows (without, then with the watchers), SETTLE_S after the burst
(whose 100 runs start their workflows and sync the repository meanwhile)."""
SLOW = {"ttft_s": 0.5, "chunk_chars": 8, "chunk_delay_s": 0.02}
"""Every scripted turn streams slowly: the incidents keep running and keep publishing events (a text or
tool-argument fragment about every 20 ms per agent) through the whole benchmark."""


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


@dataclass
class FanOut:
    """Server CPU (cores) in alternating windows without and with the watchers; events per watcher."""

    idle: list[float] = field(default_factory=list)
    busy: list[float] = field(default_factory=list)
    received: list[float] = field(default_factory=list)

    @property
    def costs(self) -> list[float]:
        """What the watchers added, per pair of neighbouring windows."""
        return [busy - idle for idle, busy in zip(self.idle, self.busy, strict=True)]


async def measure(url: str, secret: str, run_id: str, pid: int) -> tuple[list[float], FanOut]:
    latencies = sorted(ack_latencies(url, secret))
    await asyncio.sleep(SETTLE_S)
    fan = FanOut()
    for _ in range(ROUNDS):  # alternating, so that what the incidents do weighs on both sides alike
        cpu, _ = await fan_out(url, run_id, 0, pid)
        fan.idle.append(cpu)
        cpu, per_watcher = await fan_out(url, run_id, WATCHERS, pid)
        fan.busy.append(cpu)
        fan.received.append(per_watcher)
    return latencies, fan


def percent(cores: float) -> str:
    return f"{cores * 100:.1f} % of a core"


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="nightshift-bench-server-"))
    playground = create_playground(workdir / "playground")
    slow = {
        name: [t.model_copy(update=SLOW) for t in turns] * INCIDENTS
        for name, turns in sample_incident_script().items()
    }
    (workdir / "nightshift.toml").write_text(
        f"{environment_toml()}"
        f"[workflow]\nmax_concurrent_runs = {INCIDENTS}\n[server]\nmax_queued_runs = 500\n"
        "[model.pricing.bench]\ninput = 0\noutput = 0\n"
    )
    secret, token = "bench-signing-secret-0123456789", "bench-api-token"
    with ScriptedModelServer(slow) as model, FakeSlack(token="xoxb-bench") as slack:
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
            latencies, fan = asyncio.run(measure(server.url, secret, runs[0], server.pid))
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
    windows = f"mean of {ROUNDS} windows of {WINDOW_S:g} s"
    table.add_row(f"server CPU, no SSE watcher ({windows})", percent(statistics.mean(fan.idle)), "")
    table.add_row(f"server CPU, {WATCHERS} SSE watchers ({windows})", percent(statistics.mean(fan.busy)), "")
    costs = fan.costs
    table.add_row(
        f"cost of {WATCHERS} watchers (min / mean / max of {ROUNDS} pairs)",
        " / ".join(percent(value) for value in (min(costs), statistics.mean(costs), max(costs))),
        "",
    )
    table.add_row(
        "events received per watcher and window", f"{statistics.mean(fan.received):.0f} (replay included)", ""
    )
    Console().print(table)


if __name__ == "__main__":
    main()
