"""The registry and Tool.invoke: schemas from signatures, allowlists, errors and redaction as results."""

from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from tests.tools_fixtures import make_context, tool_ctx_fixture, workspace_fixture  # noqa: F401 (fixtures)
from tools import (
    ToolContext,
    ToolError,
    ToolOutcome,
    ToolRegistry,
    ToolsError,
    builtin_registry,
    function_tool,
)

SECRET = "sk-test-0123456789abcdef"


async def lookup(
    ctx: ToolContext, path: str, count: int = 3, ratio: float | None = None, tags: list[str] | None = None
) -> str:
    """Look something up.

    Reads the index first.

    Args:
        path: Where to look.
        count: How many results
            to give back.
        ratio (float): Minimum score.

    Returns:
        The matches.
    """
    return f"{path} {count} {ratio} {tags}"


class SearchArgs(BaseModel):
    query: str = Field(description="What to find.")
    limit: int = 10


async def search(ctx: ToolContext, args: SearchArgs) -> str:
    """Search with a model as the arguments."""
    return f"{args.query}:{args.limit}"


def test_schema_comes_from_signature_and_docstring() -> None:
    tool = function_tool(lookup)
    schema = tool.openai_schema()
    assert schema["type"] == "function"
    function = schema["function"]
    assert function["name"] == "lookup"
    assert function["description"] == "Look something up.\n\nReads the index first."
    params = function["parameters"]
    assert params["required"] == ["path"]
    assert params["additionalProperties"] is False
    props = params["properties"]
    assert props["path"] == {"type": "string", "description": "Where to look."}
    assert props["count"] == {
        "type": "integer",
        "default": 3,
        "description": "How many results to give back.",
    }
    assert props["ratio"]["anyOf"] == [{"type": "number"}, {"type": "null"}]
    assert props["ratio"]["description"] == "Minimum score."
    assert props["tags"]["anyOf"][0] == {"type": "array", "items": {"type": "string"}}
    assert "title" not in str(params), "pydantic's generated titles are noise in a prompt"


async def test_a_pydantic_model_can_be_the_arguments(tool_ctx: ToolContext) -> None:
    tool = function_tool(search, name="find")
    params = tool.parameters
    assert tool.name == "find"
    assert params["required"] == ["query"]
    assert params["properties"]["query"]["description"] == "What to find."
    outcome = await tool.invoke(tool_ctx, {"query": "bug"})
    assert outcome == ToolOutcome("bug:10")


def test_select_gives_exactly_the_allowlist_in_its_order() -> None:
    registry = builtin_registry()
    assert [tool.name for tool in registry.select(["grep", "read_file"])] == ["grep", "read_file"]
    assert registry.select([]) == []
    with pytest.raises(ToolsError) as refused:
        registry.select(["read_file", "rm_rf", "teleport"])
    assert "rm_rf, teleport" in str(refused.value)
    assert "read_file" in str(refused.value).split("known tools:")[1]


def test_builtin_registry_holds_every_builtin() -> None:
    assert sorted(builtin_registry().names()) == sorted(
        ["read_file", "list_dir", "glob", "grep", "write_file", "edit_file", "delete_file", "run_tests",
         "shell", "web_fetch", "web_search", "remember", "recall"]
    )  # fmt: skip
    read_file = builtin_registry().select(["read_file"])[0].parameters
    assert read_file["properties"]["offset"]["exclusiveMinimum"] == 0


def test_only_tools_that_change_nothing_are_read_only() -> None:
    registry = builtin_registry()
    read_only = {tool.name for tool in registry.select(registry.names()) if tool.read_only}
    assert read_only == {"read_file", "list_dir", "glob", "grep", "web_fetch", "web_search", "recall"}


def test_duplicate_and_malformed_names_are_refused() -> None:
    registry = ToolRegistry()
    registry.add(function_tool(lookup))
    with pytest.raises(ToolsError, match="already registered"):
        registry.add(function_tool(lookup))
    with pytest.raises(ToolsError, match="must be 1-64"):
        registry.add(function_tool(lookup, name="look up"))


async def test_decorator_registers_and_returns_the_function(tool_ctx: ToolContext) -> None:
    registry = ToolRegistry()

    @registry.tool(read_only=True)
    async def ping(ctx: ToolContext) -> str:
        """Answer pong."""
        return "pong"

    @registry.tool(name="shout")
    async def loud(ctx: ToolContext, word: str) -> str:
        """Repeat a word loudly."""
        return word.upper()

    assert registry.names() == ["ping", "shout"]
    assert [tool.read_only for tool in registry.select(["ping", "shout"])] == [True, False]
    assert await ping(tool_ctx) == "pong"
    outcome = await registry.select(["shout"])[0].invoke(tool_ctx, {"word": "hi"})
    assert outcome == ToolOutcome("HI")


async def test_invalid_arguments_come_back_as_text(tool_ctx: ToolContext) -> None:
    outcome = await function_tool(lookup).invoke(tool_ctx, {"count": "many", "colour": "red"})
    assert outcome.is_error
    assert outcome.text.startswith("invalid arguments for lookup:")
    assert "path: Field required" in outcome.text
    assert "count: Input should be a valid integer" in outcome.text
    assert "colour: Extra inputs are not permitted" in outcome.text


async def test_failures_inside_a_tool_become_error_outcomes(tool_ctx: ToolContext) -> None:
    async def crash(ctx: ToolContext) -> str:
        """Fail unexpectedly."""
        raise RuntimeError("disk on fire")

    async def refuse(ctx: ToolContext) -> str:
        """Fail with a message for the model."""
        raise ToolError("try another file")

    async def escape(ctx: ToolContext) -> str:
        """Reach outside the workspace."""
        ctx.resolve("../../etc/passwd")
        return "escaped"

    crashed = await function_tool(crash).invoke(tool_ctx, {})
    assert crashed == ToolOutcome("tool crash failed: RuntimeError: disk on fire", is_error=True)
    assert await function_tool(refuse).invoke(tool_ctx, {}) == ToolOutcome("try another file", is_error=True)
    escaped = await function_tool(escape).invoke(tool_ctx, {})
    assert escaped.is_error and "escaped" not in escaped.text and escaped.text


async def test_secrets_echoed_by_a_tool_are_redacted(workspace: Path, tmp_path: Path) -> None:
    ctx = make_context(workspace, tmp_path / "state", secrets=[SECRET])

    async def leak(ctx: ToolContext) -> ToolOutcome:
        """Echo a secret."""
        return ToolOutcome(f"the key is {SECRET}", data={"key": SECRET})

    async def leak_in_error(ctx: ToolContext) -> str:
        """Fail with a secret in the message."""
        raise ValueError(f"bad key {SECRET}")

    outcome = await function_tool(leak).invoke(ctx, {})
    assert SECRET not in outcome.text and outcome.text.startswith("the key is ")
    assert SECRET not in str(outcome.data)
    failed = await function_tool(leak_in_error).invoke(ctx, {})
    assert failed.is_error and SECRET not in failed.text


def test_a_tool_function_must_be_async() -> None:
    def sync_tool(ctx: ToolContext) -> str:
        return "no"

    with pytest.raises(ToolsError, match="async def"):
        function_tool(sync_tool)  # type: ignore[arg-type]  # the check exists for untyped plugins
