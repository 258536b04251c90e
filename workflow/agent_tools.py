"""The tools an operator adds to the agents: plugin tools and MCP servers' tools.

Each agent has its own built-in allowlist (``agents.definitions``); ``[agents.<name>] tools`` adds tools
by name: a plugin's (``deploy_status``) or an MCP server's (``<server>__<tool>``). The engine connects
the MCP servers at start-up (``connect_mcp``) and checks every added name (``check_agent_tools``): a
name nothing provides stops start-up, naming the tools that exist; a tool of an MCP server that did not
start is left out of the agents' tools, with a warning, rather than stopping Nightshift.
"""

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from agents import AGENT_NAMES
from config import Settings
from safety.env import subprocess_env
from tools.registry import ToolRegistry
from workflow.errors import WorkflowError

if TYPE_CHECKING:
    from tools.mcp import McpTools

logger = logging.getLogger("nightshift.agent_tools")


async def connect_mcp(settings: Settings, registry: ToolRegistry, data_dir: Path) -> "McpTools | None":
    """Connect the configured MCP servers and register their tools; None when there are none. The
    caller closes what it gets (``await mcp.__aexit__(None, None, None)``)."""
    if not settings.mcp.servers:
        return None
    from tools.mcp import McpTools  # fastmcp is imported only when MCP is used

    env = subprocess_env(data_dir / "home" / "mcp", secrets=settings.secrets.all_values())
    return await McpTools(settings.mcp.servers, registry, env=env).__aenter__()


def check_agent_tools(settings: Settings, registry: ToolRegistry, failed_servers: Mapping[str, str]) -> None:
    """Every tool added in ``[agents.<name>] tools`` exists, or belongs to an MCP server that failed
    (``failed_servers``: name -> reason); WorkflowError names the first that does neither."""
    known = set(registry.names())
    for agent, names in _added(settings).items():
        for name in names:
            if name in known:
                continue
            server, separator, _ = name.partition("__")
            if separator and server in failed_servers:
                logger.warning(
                    "the %s agent works without %s: MCP server %s is unavailable (%s)",
                    agent, name, server, failed_servers[server],
                )  # fmt: skip
                continue
            raise WorkflowError(
                f"[agents.{agent}] tools names {name!r}, which no built-in tool, plugin or MCP server "
                f"provides; known tools: {', '.join(sorted(known))}"
            )


def _added(settings: Settings) -> dict[str, list[str]]:
    return {name: getattr(settings.agents, name).tools for name in AGENT_NAMES}
