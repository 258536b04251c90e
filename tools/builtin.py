"""The built-in tools, assembled into a registry."""

from tools.files import delete_file, edit_file, list_dir, read_file, write_file
from tools.memory import recall, remember
from tools.registry import ToolFunction, ToolRegistry, function_tool
from tools.search import glob, grep
from tools.shell import shell
from tools.testing import run_tests
from tools.web import web_fetch, web_search

READ_ONLY_TOOLS: tuple[ToolFunction, ...] = (read_file, list_dir, glob, grep, web_fetch, web_search, recall)
"""Tools that change nothing; the agent loop may run them alongside other calls."""
MUTATING_TOOLS: tuple[ToolFunction, ...] = (write_file, edit_file, delete_file, run_tests, shell, remember)
"""Tools that write files, run repository code or store notes; they run one at a time."""


def builtin_registry() -> ToolRegistry:
    """A fresh registry holding every built-in tool (plugins and MCP tools are added to it later)."""
    registry = ToolRegistry()
    for fn in READ_ONLY_TOOLS:
        registry.add(function_tool(fn, read_only=True))
    for fn in MUTATING_TOOLS:
        registry.add(function_tool(fn))
    return registry
