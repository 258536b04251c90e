"""MCP tools from a real fastmcp server over stdio; a server that cannot start is reported once, skipped."""

import logging
import sys
from pathlib import Path

import pytest

from config import McpServer
from safety.env import subprocess_env
from tests.tools_fixtures import tool_ctx_fixture, workspace_fixture  # noqa: F401 (fixtures)
from tools import ToolContext, builtin_registry
from tools.mcp import McpTools

SERVER = '''
import os

from fastmcp import FastMCP

mcp = FastMCP("calc")


@mcp.tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@mcp.tool
def divide(a: float, b: float) -> float:
    """Divide a by b."""
    return a / b


@mcp.tool
def getenv(name: str) -> str:
    """The server's environment variable, or 'unset'."""
    return os.environ.get(name, "unset")


if __name__ == "__main__":
    mcp.run(show_banner=False)
'''


@pytest.fixture
def server_script(tmp_path: Path) -> Path:
    script = tmp_path / "calc_server.py"
    script.write_text(SERVER)
    return script


async def test_stdio_server_tools_are_registered_and_callable(
    server_script: Path,
    tool_ctx: ToolContext,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-abcdefghijklmnop")
    servers = [
        McpServer(name="calc", command=[sys.executable, str(server_script)], env={"CALC_MODE": "strict"}),
        McpServer(name="ghost", command=["/nonexistent/mcp-server", "--stdio"], timeout_s=10),
    ]
    registry = builtin_registry()
    with caplog.at_level(logging.WARNING, logger="tools.mcp"):
        async with McpTools(servers, registry, env=subprocess_env(tool_ctx.workspace.parent / "home")) as mcp:
            assert mcp.tool_names == ["calc__add", "calc__divide", "calc__getenv"]
            assert list(mcp.failures) == ["ghost"]
            [add] = registry.select(["calc__add"])
            assert add.description == "Add two integers."
            assert add.parameters["required"] == ["a", "b"]

            outcome = await add.invoke(tool_ctx, {"a": 2, "b": 3})
            assert not outcome.is_error and outcome.text == "5"

            [divide] = registry.select(["calc__divide"])
            failed = await divide.invoke(tool_ctx, {"a": 1, "b": 0})
            assert failed.is_error and "division by zero" in failed.text

            [getenv] = registry.select(["calc__getenv"])
            assert (await getenv.invoke(tool_ctx, {"name": "CALC_MODE"})).text == "strict"
            assert (await getenv.invoke(tool_ctx, {"name": "OPENAI_API_KEY"})).text == "unset"
            assert (await getenv.invoke(tool_ctx, {"name": "HOME"})).text == str(
                tool_ctx.workspace.parent / "home"
            )

    ghost_warnings = [r for r in caplog.records if "ghost" in r.getMessage()]
    assert len(ghost_warnings) == 1
    assert "ghost" not in " ".join(registry.names())
    after = await add.invoke(tool_ctx, {"a": 1, "b": 1})
    assert after.is_error, "the server is stopped when the block ends"


async def test_a_server_that_never_answers_times_out(tmp_path: Path, tool_ctx: ToolContext) -> None:
    silent = tmp_path / "silent.py"
    silent.write_text("import time\ntime.sleep(60)\n")
    servers = [McpServer(name="silent", command=[sys.executable, str(silent)], timeout_s=1)]
    registry = builtin_registry()
    async with McpTools(servers, registry, env=subprocess_env(tool_ctx.workspace.parent / "home")) as mcp:
        assert mcp.failures == {"silent": "did not start and list its tools within 1 s"}
        assert mcp.tool_names == []
