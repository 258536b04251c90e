"""Tools, their outcomes and the registry agents pick their tools from.

A tool never crashes the agent loop: bad arguments, refusals and failures all come back as an
``is_error`` outcome whose text tells the model what went wrong. Only cancellation propagates.
"""

import inspect
import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, overload

from pydantic import ValidationError

from safety import SafetyError
from tools.context import ToolContext
from tools.errors import ToolError, ToolsError
from tools.schema import describe_function

logger = logging.getLogger(__name__)

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""The tool names the Chat Completions API accepts."""

ToolFunction = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class ToolOutcome:
    """What a tool call gives back to the model (``text``) and to the code around it (``data``)."""

    text: str
    is_error: bool = False
    data: dict[str, Any] | None = None


class Tool(ABC):
    """A named, described, schema-checked action an agent may take.

    ``read_only`` promises that the tool changes nothing (no file, no lasting process), so the agent
    loop may run it at the same time as other calls; every other tool runs one at a time.
    """

    def __init__(
        self, name: str, description: str, parameters: dict[str, Any], *, read_only: bool = False
    ) -> None:
        self.name = name
        self.description = description
        self.parameters = parameters
        self.read_only = read_only

    def openai_schema(self) -> dict[str, Any]:
        """The tool as the Chat Completions API expects it in ``tools=[...]``."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }

    async def invoke(self, ctx: ToolContext, arguments: dict[str, Any]) -> ToolOutcome:
        """Run the tool; every failure becomes an ``is_error`` outcome, and secrets are redacted."""
        try:
            result = await self.run(ctx, arguments)
            outcome = result if isinstance(result, ToolOutcome) else ToolOutcome(str(result))
        except (ToolError, SafetyError) as exc:
            outcome = ToolOutcome(str(exc), is_error=True)
        except Exception as exc:
            logger.exception("tool %s failed", self.name)
            outcome = ToolOutcome(f"tool {self.name} failed: {type(exc).__name__}: {exc}", is_error=True)
        data = ctx.redactor.redact_data(outcome.data) if outcome.data is not None else None
        return replace(outcome, text=ctx.redactor.redact(outcome.text), data=data)

    @abstractmethod
    async def run(self, ctx: ToolContext, arguments: dict[str, Any]) -> str | ToolOutcome:
        """Do the work. Raise ToolError with a message for the model when the call cannot be done."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class FunctionTool(Tool):
    """A tool backed by an async Python function ``fn(ctx, ...)``."""

    def __init__(self, fn: ToolFunction, *, name: str | None = None, read_only: bool = False) -> None:
        if not inspect.iscoroutinefunction(fn):
            raise ToolsError(f"tool function {fn.__name__} must be 'async def'")
        signature = describe_function(fn)
        description, parameters = signature.description, signature.parameters
        super().__init__(name or fn.__name__, description, parameters, read_only=read_only)
        self._fn = fn
        self._signature = signature

    async def run(self, ctx: ToolContext, arguments: dict[str, Any]) -> str | ToolOutcome:
        try:
            args = self._signature.args_model.model_validate(arguments)
        except ValidationError as exc:
            raise ToolError(_describe_invalid(self.name, exc)) from None
        if self._signature.single_model:
            result = await self._fn(ctx, args)
        else:
            result = await self._fn(ctx, **{field: getattr(args, field) for field in type(args).model_fields})
        if not isinstance(result, str | ToolOutcome):
            raise TypeError(f"returned {type(result).__name__}; a tool returns str or ToolOutcome")
        return result


def function_tool(fn: ToolFunction, *, name: str | None = None, read_only: bool = False) -> Tool:
    """Wrap an async ``fn(ctx, ...)`` as a Tool; its schema comes from the signature and docstring."""
    return FunctionTool(fn, name=name, read_only=read_only)


def _describe_invalid(tool: str, exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "arguments"
        problems.append(f"{where}: {error['msg']}")
    return f"invalid arguments for {tool}: " + "; ".join(problems)


class ToolRegistry:
    """Tools by name. Agents are offered exactly the tools their allowlist names."""

    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}

    @overload
    def tool(self, fn: ToolFunction, *, name: str | None = None, read_only: bool = False) -> ToolFunction: ...

    @overload
    def tool(
        self, fn: None = None, *, name: str | None = None, read_only: bool = False
    ) -> Callable[[ToolFunction], ToolFunction]: ...

    def tool(
        self, fn: ToolFunction | None = None, *, name: str | None = None, read_only: bool = False
    ) -> ToolFunction | Callable[[ToolFunction], ToolFunction]:
        """Decorator registering ``async def fn(ctx, ...)``; used bare or as ``@registry.tool(name=...)``.

        The function is returned unchanged, so it stays directly callable.
        """

        def register(func: ToolFunction) -> ToolFunction:
            self.add(function_tool(func, name=name, read_only=read_only))
            return func

        return register(fn) if fn is not None else register

    def add(self, tool: Tool) -> None:
        if not _NAME.fullmatch(tool.name):
            raise ToolsError(f"tool name {tool.name!r} must be 1-64 letters, digits, '_' or '-'")
        if tool.name in self._tools:
            raise ToolsError(f"a tool named {tool.name!r} is already registered")
        self._tools[tool.name] = tool

    def select(self, allowlist: Iterable[str]) -> list[Tool]:
        """The tools ``allowlist`` names, in its order (repeats dropped); an unknown name is an error."""
        wanted = list(dict.fromkeys(allowlist))
        unknown = [name for name in wanted if name not in self._tools]
        if unknown:
            raise ToolsError(
                f"unknown tool(s) {', '.join(unknown)} in the allowlist; "
                f"known tools: {', '.join(self.names())}"
            )
        return [self._tools[name] for name in wanted]

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def names(self) -> list[str]:
        return list(self._tools)
