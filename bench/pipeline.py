"""Benchmark of the incident pipeline. Prints a table.

For one incident and for 10 concurrent incidents (on one copy of the sample repository, each with its
own scripted model server adding TTFT seconds to every turn): the agent phase's wall time over the slowest
agent's (1.00 = perfectly parallel), the whole run to its briefing, and peak memory per run (the highest
resident memory sampled while the runs were in flight, minus the engine's idle footprint, divided by the
number of runs; pytest and git subprocesses are not counted).

Run: .venv/bin/python bench/pipeline.py [--ttft 0.5] [--concurrent 10]
"""

import argparse
import asyncio
import io
import statistics
import tempfile
import time
from collections.abc import AsyncGenerator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from client import ModelClient
from client.events import ModelEvent, Usage
from client.scripted import ScriptedModelServer, Turn
from config import ModelSettings, Price, Settings, WorkflowSettings
from context.tokens import count_text
from demo.incident import SAMPLE_TICKET, sample_incident_script
from demo.playground import SAMPLE_ENVIRONMENT, create_playground
from documents.facts import RunFacts
from integrations.local import TerminalNotifier
from workflow.engine import Engine, wait_for

MODEL = "bench-scripted"


class PerIncidentModel:
    """Sends each incident's requests to its own scripted server (found by the ticket key in the goal)."""

    def __init__(self, clients: dict[str, ModelClient]) -> None:
        self.clients = clients

    def _client(self, messages: list[dict[str, Any]]) -> ModelClient:
        goal = str(messages[1]["content"]) if len(messages) > 1 else ""
        return next(client for key, client in self.clients.items() if key in goal)

    async def stream(self, messages: list[dict[str, Any]], **kwargs: Any) -> AsyncGenerator[ModelEvent, None]:
        async for event in self._client(messages).stream(messages, **kwargs):
            yield event

    async def complete(
        self, messages: list[dict[str, Any]], *, model: str | None = None
    ) -> tuple[str, Usage]:
        return await self._client(messages).complete(messages, model=model)

    def price(self, model: str, input_tokens: int, output_tokens: int) -> float:
        return 0.0


def slowed(ttft: float) -> dict[str, list[Turn]]:
    return {
        name: [t.model_copy(update={"ttft_s": ttft}) for t in turns]
        for name, turns in sample_incident_script().items()
    }


def rss_mb() -> float:
    """This process's resident memory now (VmRSS), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


class PeakSampler:
    """Samples RSS every 50 ms while runs are in flight; ``peak`` is the highest value seen."""

    def __init__(self) -> None:
        self.peak = rss_mb()

    async def run(self) -> None:
        while True:
            self.peak = max(self.peak, rss_mb())
            await asyncio.sleep(0.05)


async def incidents(count: int, ttft: float, workdir: Path) -> tuple[list[RunFacts], float, float]:
    """Run ``count`` incidents at once; return their facts, the wall time, and the peak RSS growth."""
    keys = [f"BENCH-{count}{n}" for n in range(count)]
    with ExitStack() as stack:
        servers = {key: stack.enter_context(ScriptedModelServer(slowed(ttft))) for key in keys}
        clients = {
            key: ModelClient(
                ModelSettings(
                    name=MODEL, base_url=server.base_url, pricing={MODEL: Price(input=0, output=0)}
                ),
                api_key=None,
            )
            for key, server in servers.items()
        }
        playground = create_playground(
            workdir / f"playground-{count}"
        )  # the incidents share it, as on one box
        settings = Settings(
            repo=playground.repo,
            data_dir=workdir / f"state-{count}",
            model=ModelSettings(name=MODEL, pricing={MODEL: Price(input=0, output=0)}),
            environment=SAMPLE_ENVIRONMENT,
            workflow=WorkflowSettings(max_concurrent_runs=count),
        )
        engine = Engine(
            settings, model=PerIncidentModel(clients), notifier=TerminalNotifier(Console(file=io.StringIO()))
        )
        await engine.start()
        count_text("warm up the tokenizer")  # loaded once per process, not per run
        rss_before = rss_mb()
        sampler = PeakSampler()
        sampling = asyncio.create_task(sampler.run())
        started = time.perf_counter()
        try:
            runs = [(await engine.submit(SAMPLE_TICKET.model_copy(update={"key": key})))[0] for key in keys]
            done = await asyncio.gather(
                *(
                    wait_for(
                        engine.rt.store, run.run_id, lambda f: f.status == "awaiting_decision", timeout_s=600
                    )
                    for run in runs
                )
            )
        finally:
            wall = time.perf_counter() - started
            sampling.cancel()
            await engine.stop()
            for client in clients.values():
                await client.aclose()
        return list(done), wall, sampler.peak - rss_before


def phase_ratio(facts: RunFacts) -> tuple[float, float]:
    start = next(e.at for e in facts.timeline if e.text == "agents started")
    end = max(a.finished_at for a in facts.agents.values() if a.finished_at)
    slowest = max(a.duration_s or 0 for a in facts.agents.values())
    return (end - start).total_seconds(), slowest


async def main(ttft: float, concurrent: int) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="nightshift-bench-pipeline-"))
    table = Table(title=f"Pipeline benchmark (scripted model, +{ttft:g} s per turn)")
    for column in (
        "incidents",
        "agent phase / slowest agent",
        "verdicts",
        "wall to briefing",
        "peak RSS per run",
    ):
        table.add_column(column, justify="right")
    for count in (1, concurrent):
        done, wall, rss = await incidents(count, ttft, workdir)
        ratios = [phase / slowest for phase, slowest in map(phase_ratio, done)]
        verdicts = {f.verification.verdict if f.verification else "none" for f in done}
        table.add_row(
            str(count),
            f"{statistics.median(ratios):.2f} (worst {max(ratios):.2f})",
            ", ".join(verdicts),
            f"{wall:.1f} s",
            f"{rss / count:.1f} MB",
        )
    Console().print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ttft", type=float, default=0.5)
    parser.add_argument("--concurrent", type=int, default=10)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.ttft, arguments.concurrent))
