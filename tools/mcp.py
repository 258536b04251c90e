"""Tools from MCP servers (``[[mcp.servers]]``), through fastmcp's client.

``async with McpTools(servers, registry, env=...) as mcp`` connects every server at once, lists its
tools and registers each as ``<server>__<tool>``. A server that cannot start or list its tools within
its ``timeout_s`` is logged once, recorded in ``mcp.failures`` and skipped; the others still work.
Leaving the block disconnects every server (stdio servers are stopped).
"""

import asyncio
import json
import logging
import re
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any

import mcp_types
from fastmcp import Client
from fastmcp.client import StdioTransport, StreamableHttpTransport

from config import McpServer
from tools.context import ToolContext
from tools.errors import ToolsError
from tools.registry import Tool, ToolOutcome, ToolRegistry

logger = logging.getLogger(__name__)

_EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}


class McpTool(Tool):
    """One tool of a connected MCP server."""

    def __init__(self, server: str, remote: mcp_types.Tool, client: Client[Any]) -> None:
        description = remote.description or remote.title or f"{remote.name} (from MCP server {server})"
        name = f"{server}__{re.sub(r'[^A-Za-z0-9_-]', '_', remote.name)}"
        read_only = bool(remote.annotations and remote.annotations.read_only_hint)
        super().__init__(name, description, dict(remote.input_schema or _EMPTY_SCHEMA), read_only=read_only)
        self._remote_name = remote.name
        self._client = client

    async def run(self, ctx: ToolContext, arguments: dict[str, Any]) -> ToolOutcome:
        result = await self._client.call_tool(self._remote_name, arguments, raise_on_error=False)
        parts = [
            block.text if isinstance(block, mcp_types.TextContent) else f"[{block.type} content not shown]"
            for block in result.content
        ]
        if not parts and result.structured_content is not None:
            parts.append(json.dumps(result.structured_content))
        return ToolOutcome("\n".join(parts) or "(no output)", is_error=result.is_error)


class McpTools:
    """The connected MCP servers of one process; an async context manager."""

    def __init__(
        self, servers: Sequence[McpServer], registry: ToolRegistry, *, env: Mapping[str, str]
    ) -> None:
        """``env`` is the scrubbed environment of stdio servers (see ``safety.env.subprocess_env``);
        each server's own ``env`` is added to it."""
        names = [server.name for server in servers]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ToolsError(f"MCP server names must be unique; repeated: {', '.join(duplicates)}")
        self.servers = list(servers)
        self.registry = registry
        self.failures: dict[str, str] = {}
        """Servers that could not be used, with the reason."""
        self.tool_names: list[str] = []
        """Names of the registered tools, server by server."""
        self._env = dict(env)
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> "McpTools":
        connected = await asyncio.gather(*(self._connect(server) for server in self.servers))
        try:
            for tools in connected:
                for tool in tools:
                    self.registry.add(tool)
                    self.tool_names.append(tool.name)
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stack.aclose()

    async def _connect(self, server: McpServer) -> list[McpTool]:
        client: Client[Any] = Client(self._transport(server))
        stack = AsyncExitStack()
        try:
            async with asyncio.timeout(server.timeout_s):
                await stack.enter_async_context(client)
                listed = await client.list_tools()
        except Exception as exc:
            await stack.aclose()
            reason = (
                f"did not start and list its tools within {server.timeout_s:g} s"
                if isinstance(exc, TimeoutError)
                else f"{type(exc).__name__}: {exc}"
            )
            self.failures[server.name] = reason
            logger.warning("MCP server %s is skipped: %s", server.name, reason)
            return []
        self._stack.push_async_callback(stack.aclose)
        return [McpTool(server.name, remote, client) for remote in listed]

    def _transport(self, server: McpServer) -> StdioTransport | StreamableHttpTransport:
        if server.command:
            return StdioTransport(
                command=server.command[0],
                args=server.command[1:],
                env={**self._env, **server.env},
                keep_alive=False,
            )
        assert server.url is not None  # McpServer guarantees exactly one of command and url
        return StreamableHttpTransport(server.url)
