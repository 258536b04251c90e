"""MCP servers whose tools agents may be offered (``[[mcp.servers]]``)."""

import re

from pydantic import Field, model_validator

from config.base import Section


class McpServer(Section):
    """One MCP server: a stdio command or an HTTP URL."""

    name: str
    """Prefix of its tools: ``<name>__<tool>``."""
    command: list[str] | None = None
    """Program and arguments of a stdio server."""
    url: str | None = None
    """URL of a streamable-HTTP server."""
    env: dict[str, str] = Field(default_factory=dict)
    """Extra environment for a stdio server (no secrets of ours are passed on)."""
    timeout_s: float = 20.0
    """Time allowed to connect and list tools."""

    @model_validator(mode="after")
    def _one_transport(self) -> "McpServer":
        if (self.command is None) == (self.url is None):
            raise ValueError(f"MCP server {self.name!r} needs exactly one of 'command' or 'url'")
        if not re.fullmatch(r"[A-Za-z0-9_-]+", self.name):
            raise ValueError(f"MCP server name {self.name!r} may hold only letters, digits, '_' and '-'")
        return self


class McpSettings(Section):
    """MCP client settings."""

    servers: list[McpServer] = Field(default_factory=list)
