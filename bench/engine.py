"""Benchmark of the engine against the scripted model server. Prints a table.

1. Loop overhead: one agent turn streaming 1,000 content chunks (then a submit), through the whole loop
   (client events, sink, accounting), against reading the same stream with the raw AsyncOpenAI SDK
   with its defaults (goal: under 10 %); and, for what the loop itself adds, against the raw SDK
   reading it as the client does (the aiohttp transport, each chunk left as its JSON object).
2. Eager dispatch: a turn whose two tool calls are complete 0.5 s before its stream ends, each tool
   taking 0.5 s. Eager dispatch runs the tools during that tail; the baseline waits for the stream end.

Run: .venv/bin/python bench/engine.py [--repeat N]
"""

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

from openai import AsyncOpenAI, AsyncStream, DefaultAioHttpClient
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from agent import AgentSpec, Limits, run_agent
from client import ModelClient
from client.events import ModelEvent, Usage
from client.scripted import ScriptedCall, ScriptedModelServer, Turn
from config import ModelSettings, Price, Settings
from environment.prepare import plain_environment
from safety.sandbox import Sandbox
from tools import ToolContext, ToolRegistry

CHUNKS = 1000
SYSTEM = "You are the bench agent."


class Done(BaseModel):
    ok: bool


def spec(tools: tuple[str, ...] = ()) -> AgentSpec:
    return AgentSpec(
        name="bench",
        system_prompt=SYSTEM,
        submit_model=Done,
        submit_name="submit",
        submit_description="Finish.",
        tools=tools,
        limits=Limits(timeout_s=60),
        model="bench-model",
    )


SUBMIT = ScriptedCall(name="submit", arguments={"ok": True})


def bench_settings(server: ScriptedModelServer) -> ModelSettings:
    return ModelSettings(base_url=server.base_url, pricing={"bench-model": Price(input=0, output=0)})


def streaming_turn() -> Turn:
    return Turn(content="x" * (16 * CHUNKS), chunk_chars=16, tool_calls=[SUBMIT])


async def raw_sdk(server: ScriptedModelServer, *, as_the_client_reads: bool) -> float:
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "go"}]
    if not as_the_client_reads:
        client = AsyncOpenAI(api_key="bench", base_url=server.base_url, max_retries=0)
        started = time.perf_counter()
        stream: AsyncStream[Any] = await client.chat.completions.create(
            model="bench-model", messages=messages, stream=True, stream_options={"include_usage": True}
        )
    else:
        client = AsyncOpenAI(
            api_key="bench", base_url=server.base_url, max_retries=0, http_client=DefaultAioHttpClient()
        )
        started = time.perf_counter()
        stream = await client.post(
            "/chat/completions",
            cast_to=object,
            body={
                "model": "bench-model",
                "messages": messages,
                "stream": True,
                "stream_options": {"include_usage": True},
            },
            stream=True,
            stream_cls=AsyncStream[object],
        )
    async for _chunk in stream:
        pass
    elapsed = time.perf_counter() - started
    await client.close()
    return elapsed


async def whole_loop(
    server: ScriptedModelServer,
    ctx: ToolContext,
    registry: ToolRegistry,
    model: Any | None = None,
    tools: tuple[str, ...] = (),
) -> float:
    client = model or ModelClient(bench_settings(server), api_key=None)
    started = time.perf_counter()
    result = await run_agent(spec(tools), "go", model=client, tools=registry.select(tools), ctx=ctx)
    elapsed = time.perf_counter() - started
    if isinstance(client, ModelClient):
        await client.aclose()
    assert result.ok, result.message
    return elapsed


class BufferedModel:
    """The baseline for eager dispatch: hands over every event only when the stream has ended."""

    def __init__(self, inner: ModelClient) -> None:
        self.inner = inner

    async def stream(self, messages: list[dict[str, Any]], **kwargs: Any) -> AsyncGenerator[ModelEvent, None]:
        events = [event async for event in self.inner.stream(messages, **kwargs)]
        for event in events:
            yield event

    async def complete(
        self, messages: list[dict[str, Any]], *, model: str | None = None
    ) -> tuple[str, Usage]:
        return await self.inner.complete(messages, model=model)

    def price(self, model: str, input_tokens: int, output_tokens: int) -> float:
        return self.inner.price(model, input_tokens, output_tokens)


def sleeper_registry() -> ToolRegistry:
    registry = ToolRegistry()

    @registry.tool(read_only=True)
    async def wait(ctx: ToolContext, seconds: float) -> str:
        """Wait.

        Args:
            seconds: How long.
        """
        await asyncio.sleep(seconds)
        return "waited"

    return registry


def eager_turns() -> list[Turn]:
    calls = [ScriptedCall(name="wait", arguments={"seconds": 0.5}) for _ in range(2)]
    return [Turn(tool_calls=calls, done_delay_s=0.5), Turn(tool_calls=[SUBMIT])]


async def main(repeat: int) -> None:
    workspace = Path(tempfile.mkdtemp(prefix="nightshift-bench-"))
    settings = Settings()
    ctx = ToolContext.create(
        workspace,
        agent="bench",
        role="any",
        settings=settings,
        state_dir=workspace / ".state",
        repo_id="bench",
        secrets={},
        sandbox=Sandbox.create(settings.safety, state_dir=workspace / ".state", secrets=[]),
        environment=plain_environment(settings.environment),
        test_files=(),
    )
    raw, lean, loop, eager, buffered = [], [], [], [], []
    with ScriptedModelServer() as server:
        for _ in range(repeat):
            server.load({"*": [streaming_turn()]})
            raw.append(await raw_sdk(server, as_the_client_reads=False))
            server.load({"*": [streaming_turn()]})
            lean.append(await raw_sdk(server, as_the_client_reads=True))
            server.load({"*": [streaming_turn()]})
            loop.append(await whole_loop(server, ctx, ToolRegistry()))
        registry = sleeper_registry()
        for _ in range(max(repeat // 3, 2)):
            server.load({"*": eager_turns()})
            eager.append(await whole_loop(server, ctx, registry, tools=("wait",)))
            server.load({"*": eager_turns()})
            async with ModelClient(bench_settings(server), api_key=None) as inner:
                buffered.append(
                    await whole_loop(server, ctx, registry, model=BufferedModel(inner), tools=("wait",))
                )
    raw_ms, loop_ms = statistics.median(raw) * 1000, statistics.median(loop) * 1000
    lean_ms = statistics.median(lean) * 1000
    overhead = (loop_ms - raw_ms) / raw_ms * 100
    table = Table(title=f"Engine benchmark (median of {repeat} runs, scripted server on 127.0.0.1)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("goal", justify="right")
    table.add_row(f"raw SDK stream, {CHUNKS} chunks (its defaults)", f"{raw_ms:.1f} ms", "")
    table.add_row("raw SDK stream, read as the client reads it", f"{lean_ms:.1f} ms", "")
    table.add_row(f"agent loop, same {CHUNKS} chunks", f"{loop_ms:.1f} ms", "")
    table.add_row(
        "loop overhead per 1,000 chunks", f"{loop_ms - raw_ms:+.1f} ms ({overhead:+.1f} %)", "< 10 %"
    )
    table.add_row("what the loop adds to the stream it reads", f"{loop_ms - lean_ms:+.1f} ms", "")
    eager_s, buffered_s = statistics.median(eager), statistics.median(buffered)
    table.add_row("turn, tools dispatched eagerly", f"{eager_s * 1000:.0f} ms", "")
    table.add_row("turn, tools after the stream ends", f"{buffered_s * 1000:.0f} ms", "")
    table.add_row("saved by eager dispatch", f"{(buffered_s - eager_s) * 1000:.0f} ms", "~500 ms")
    Console().print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=9)
    asyncio.run(main(parser.parse_args().repeat))
