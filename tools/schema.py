"""A tool's JSON schema and pydantic arguments model, derived from its signature and docstring.

The first parameter of a tool function is the ``ToolContext`` and is not part of the schema. The other
parameters become fields of a pydantic model (unknown arguments are refused, so a model that invents
one hears about it). Descriptions come from a Google-style docstring: the text before the first section
is the tool's description, the ``Args:`` section describes each parameter. A function whose only
argument is annotated with a pydantic model uses that model as-is.
"""

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, create_model

_SECTION = re.compile(r"^(Args|Arguments|Parameters|Returns|Yields|Raises|Examples?|Notes?|Attributes):\s*$")
_ARGS_SECTIONS = ("Args", "Arguments", "Parameters")
_ARG_LINE = re.compile(r"^(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


@dataclass(frozen=True)
class Docstring:
    """The parts of a Google-style docstring a tool schema uses."""

    summary: str
    args: dict[str, str]


@dataclass(frozen=True)
class Signature:
    """What ``function_tool`` needs to validate arguments and call the function."""

    args_model: type[BaseModel]
    single_model: bool
    """True when the function takes the validated model itself rather than its fields as keywords."""
    parameters: dict[str, Any]
    description: str


class _StrictArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


def parse_docstring(doc: str | None) -> Docstring:
    """Split a Google-style docstring into its summary and its ``Args:`` descriptions."""
    summary: list[str] = []
    args: dict[str, str] = {}
    section: str | None = None
    current: str | None = None
    entry_indent: int | None = None
    for line in inspect.cleandoc(doc or "").splitlines():
        stripped = line.strip()
        header = _SECTION.match(stripped) if not line[:1].isspace() else None
        if header:
            section, current, entry_indent = header.group(1), None, None
        elif section is None:
            summary.append(line)
        elif section in _ARGS_SECTIONS and stripped:
            indent = len(line) - len(line.lstrip())
            entry_indent = indent if entry_indent is None else entry_indent
            match = _ARG_LINE.match(stripped)
            if match and indent <= entry_indent:
                current = match.group(1).lstrip("*")
                args[current] = match.group(2).strip()
            elif current is not None:
                args[current] = f"{args[current]} {stripped}".strip()
    return Docstring(summary="\n".join(summary).strip(), args=args)


def describe_function(fn: Callable[..., Any]) -> Signature:
    """Build the arguments model and the JSON schema of a tool function ``fn(ctx, ...)``."""
    signature = inspect.signature(fn)
    params = list(signature.parameters.values())
    if not params:
        raise TypeError(f"tool function {fn.__name__} must take the ToolContext as its first parameter")
    params = params[1:]
    hints = get_type_hints(fn, include_extras=True)
    doc = parse_docstring(fn.__doc__)
    description = doc.summary or fn.__name__.replace("_", " ")

    only = params[0] if len(params) == 1 else None
    only_hint = hints.get(only.name) if only else None
    if isinstance(only_hint, type) and issubclass(only_hint, BaseModel):
        return Signature(only_hint, True, openai_parameters(only_hint), description)

    fields: dict[str, Any] = {}
    for param in params:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(f"tool function {fn.__name__} cannot take *{param.name} or **{param.name}")
        annotation = hints.get(param.name, Any)
        default = ... if param.default is param.empty else param.default
        fields[param.name] = (annotation, Field(default, description=doc.args.get(param.name)))
    model = create_model(f"{_camel(fn.__name__)}Args", __base__=_StrictArgs, **fields)
    return Signature(model, False, openai_parameters(model), description)


def openai_parameters(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema, without pydantic's generated titles (noise in a prompt)."""
    schema = _strip_titles(model.model_json_schema())
    schema.setdefault("properties", {})
    return schema


def _strip_titles(node: Any, *, in_properties: bool = False) -> Any:
    if isinstance(node, dict):
        return {
            key: _strip_titles(value, in_properties=key in ("properties", "$defs") and not in_properties)
            for key, value in node.items()
            if in_properties or not (key == "title" and isinstance(value, str))
        }
    if isinstance(node, list):
        return [_strip_titles(item) for item in node]
    return node


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))
