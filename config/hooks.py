"""Lifecycle hooks: commands run on agent and run events, the event as JSON on stdin."""

from typing import Annotated, Literal, get_args

from pydantic import Field, field_validator

from config.base import Section

HookEvent = Literal[
    "before_agent",
    "after_agent",
    "before_tool",
    "after_tool",
    "on_error",
    "run_started",
    "briefing_posted",
    "approved",
    "pr_opened",
    "run_failed",
]
HOOK_EVENTS: tuple[str, ...] = get_args(HookEvent)


class HookSpec(Section):
    """One ``[[hooks]]`` entry."""

    event: HookEvent
    """The lifecycle event that fires this hook."""
    command: list[str]
    """Program and arguments (a string is split with shlex). Run without a shell."""
    timeout_s: Annotated[float, Field(gt=0)] = 10.0
    """The hook is killed after this long; the run goes on."""

    @field_validator("command", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            import shlex

            return shlex.split(value)
        return value

    @field_validator("command", mode="after")
    @classmethod
    def _not_empty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("a hook needs a command")
        return value
