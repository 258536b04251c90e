"""Tools agents call: typed async functions with schemas, the built-ins, MCP servers and plugins.

A tool is ``async def fn(ctx: ToolContext, ...) -> str | ToolOutcome``; its JSON schema comes from
the signature and the Google-style docstring (``tools.schema``). ``builtin_registry()`` holds the
built-in tools; ``ToolRegistry.select(allowlist)`` gives an agent exactly the tools it may use.
``Tool.invoke`` never raises for a tool's own failure: the model gets the reason as an error result.

MCP tools live in ``tools.mcp`` (``McpTools``), imported on its own so that fastmcp is loaded only by
processes that configure MCP servers. Plugins are loaded by ``tools.plugins.load_plugins``.

Errors::

    ToolsError              base of the package
    ├── ToolError           raised inside a tool; its message is the tool's (error) result
    └── PluginError         a plugin directory or module that cannot be loaded
        └── PluginRefused   a plugin path inside the repository being fixed

Refusals from ``safety`` (PathEscape, WriteDenied, CommandRefused, UrlRefused) raised inside a tool
are turned into error results the same way as ToolError.
"""

from tools.builtin import builtin_registry
from tools.context import ToolContext
from tools.errors import PluginError, PluginRefused, ToolError, ToolsError
from tools.plugins import load_plugins
from tools.registry import Tool, ToolOutcome, ToolRegistry, function_tool
from tools.testing import TestRun, run_test_command

__all__ = [
    "PluginError",
    "PluginRefused",
    "TestRun",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolOutcome",
    "ToolRegistry",
    "ToolsError",
    "builtin_registry",
    "function_tool",
    "load_plugins",
    "run_test_command",
]
