"""Tools an operator adds to the agents ([agents.<name>] tools): a plugin's and an MCP server's, offered
to the agent in a real run; a name nothing provides stops start-up; a server that does not start is
left out without stopping Nightshift."""

import sys
from pathlib import Path

import pytest

from client import ModelClient
from client.scripted import ScriptedCall, ScriptedModelServer, Turn
from config import McpServer, Settings
from demo.incident import SAMPLE_TICKET, sample_incident_script
from demo.playground import Playground, create_playground
from tests.pipeline_fixtures import Pipeline, launch, pipeline_settings
from tests.test_tools_mcp import SERVER
from workflow.engine import Engine
from workflow.errors import WorkflowError

pytest_plugins = ["tests.model_fixtures", "tests.pipeline_fixtures"]

PLUGIN = '''
from tools import ToolRegistry


def register(registry: ToolRegistry) -> None:
    @registry.tool(read_only=True)
    async def deploy_status(ctx, service: str) -> str:
        """Show the deployed version of a service.

        Args:
            service: Service name.
        """
        return f"{service} in production: v1.4.2"
'''


def settings_with_tools(tmp_path: Path, base_url: str, *, command: list[str]) -> tuple[Settings, Playground]:
    playground = create_playground(tmp_path / "playground")
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "deploy.py").write_text(PLUGIN)
    (tmp_path / "calc_server.py").write_text(SERVER)
    settings = pipeline_settings(playground.repo, tmp_path / "state", base_url)
    settings.tools.plugin_dirs = [plugins]
    settings.mcp.servers = [McpServer(name="calc", command=command, timeout_s=30)]
    settings.agents.code.tools = ["deploy_status", "calc__add"]
    return settings, playground


def engine_for(settings: Settings) -> Engine:
    return Engine(settings, model=ModelClient(settings.model, api_key=None))


async def test_added_tools_are_offered_to_the_agent_and_answer_in_a_run(
    tmp_path: Path, scripted_server: ScriptedModelServer, pipelines: list[Pipeline]
) -> None:
    settings, playground = settings_with_tools(
        tmp_path, scripted_server.base_url, command=[sys.executable, str(tmp_path / "calc_server.py")]
    )
    scripts = sample_incident_script()
    asks = Turn(
        tool_calls=[
            ScriptedCall(name="deploy_status", arguments={"service": "todo"}),
            ScriptedCall(name="calc__add", arguments={"a": 2, "b": 3}),
        ]
    )
    scripts["code agent"] = [asks, *scripts["code agent"]]
    scripted_server.load(scripts)
    pipeline = await launch(settings, playground, scripted_server)
    pipelines.append(pipeline)

    run = await pipeline.submit(SAMPLE_TICKET)
    facts = await pipeline.briefed(run.run_id)

    code = [r for r in scripted_server.requests if r.script == "code agent"]
    offered = {tool["function"]["name"] for tool in code[0].body["tools"]}
    assert {"deploy_status", "calc__add", "edit_file"} <= offered
    answers = [m["content"] for m in code[1].body["messages"] if m["role"] == "tool"]
    assert answers == ["todo in production: v1.4.2", "5"]
    triage = next(r for r in scripted_server.requests if r.script == "triage agent")
    assert "calc__add" not in {tool["function"]["name"] for tool in triage.body.get("tools", [])}
    assert facts.verification is not None and facts.verification.verdict == "verified"


async def test_an_added_tool_nothing_provides_stops_start_up_naming_the_known_ones(
    tmp_path: Path, scripted_server: ScriptedModelServer
) -> None:
    settings, _ = settings_with_tools(
        tmp_path, scripted_server.base_url, command=[sys.executable, str(tmp_path / "calc_server.py")]
    )
    settings.agents.test.tools = ["calc__multiply"]

    with pytest.raises(WorkflowError, match=r"\[agents.test\] tools names 'calc__multiply'.*calc__add"):
        await engine_for(settings).start()


async def test_the_tools_of_an_mcp_server_that_does_not_start_are_left_out(
    tmp_path: Path, scripted_server: ScriptedModelServer, caplog: pytest.LogCaptureFixture
) -> None:
    settings, _ = settings_with_tools(
        tmp_path, scripted_server.base_url, command=[str(tmp_path / "no-such-server")]
    )
    engine = engine_for(settings)
    await engine.start()
    try:
        assert "calc__add" not in engine.rt.registry and "deploy_status" in engine.rt.registry
        assert "the code agent works without calc__add: MCP server calc is unavailable" in caplog.text
    finally:
        await engine.stop()
