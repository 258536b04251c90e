"""An in-process Nightshift engine on a playground repository, driven by the scripted model server.

PYTEST_DONT_REWRITE
"""

import io
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.console import Console

from cli.console import settle
from client import ModelClient
from client.scripted import ScriptedModelServer, Turn
from config import (
    AgentSettings,
    AgentsSettings,
    ModelSettings,
    Price,
    Settings,
    ToolsSettings,
    WorkflowSettings,
)
from demo.playground import SAMPLE_ENVIRONMENT, Playground, create_playground
from documents.facts import RunFacts, Ticket
from integrations.local import TerminalNotifier
from workflow.engine import Engine, wait_for

MODEL = "scripted-pipeline"


def pipeline_settings(repo: Path, data_dir: Path, base_url: str, **workflow: object) -> Settings:
    agents = {name: AgentSettings(timeout_s=60) for name in ("triage", "code", "test", "pr")}
    return Settings(
        repo=repo,
        data_dir=data_dir,
        model=ModelSettings(
            name=MODEL,
            base_url=base_url,
            pricing={MODEL: Price(input=1.0, output=4.0)},
            max_attempts=2,
            backoff_base_s=0.01,
        ),
        tools=ToolsSettings(test_timeout_s=60),
        environment=SAMPLE_ENVIRONMENT,
        agents=AgentsSettings(**agents),
        workflow=WorkflowSettings(**workflow),  # type: ignore[arg-type]
    )


@dataclass
class Pipeline:
    engine: Engine
    playground: Playground
    server: ScriptedModelServer
    output: io.StringIO
    model: ModelClient

    async def submit(self, ticket: Ticket) -> RunFacts:
        facts, _ = await self.engine.submit(ticket)
        return facts

    async def until(
        self, run_id: str, predicate: Callable[[RunFacts], bool], timeout_s: float = 90
    ) -> RunFacts:
        """The run once ``predicate`` holds (or it ended) and its deliveries settled (the briefing
        printed, the pull request recorded)."""
        store = self.engine.rt.store
        await wait_for(store, run_id, predicate, timeout_s=timeout_s)
        return await settle(store, run_id, timeout_s=10)

    async def briefed(self, run_id: str, revision: int = 1) -> RunFacts:
        return await self.until(run_id, lambda f: f.status == "awaiting_decision" and f.revision >= revision)

    def requests_for(self, script: str) -> int:
        return sum(1 for request in self.server.requests if request.script == script)


async def start_pipeline(
    tmp_path: Path,
    server: ScriptedModelServer,
    scripts: dict[str, list[Turn]],
    playground: Playground | None = None,
    **workflow: object,
) -> Pipeline:
    playground = playground or create_playground(tmp_path / "playground")
    server.load(scripts)
    settings = pipeline_settings(playground.repo, tmp_path / "state", server.base_url, **workflow)
    return await launch(settings, playground, server)


async def launch(settings: Settings, playground: Playground, server: ScriptedModelServer) -> Pipeline:
    """An engine started on ``settings`` (whatever its database already holds), briefing to a string."""
    output = io.StringIO()
    model = ModelClient(settings.model, api_key=None)
    engine = Engine(settings, model=model, notifier=TerminalNotifier(Console(file=output, width=100)))
    await engine.start()
    return Pipeline(engine, playground, server, output, model)


@pytest.fixture
async def pipelines() -> AsyncIterator[list[Pipeline]]:
    """Pipelines started by a test are stopped after it (their model clients closed), whatever happened."""
    started: list[Pipeline] = []
    yield started
    for pipeline in started:
        await pipeline.engine.stop()
        await pipeline.model.aclose()
