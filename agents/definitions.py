"""The four agents of an incident: their words, tools, submit tools, limits and write roles.

Each system prompt is ``prompts/<name>.md``, then the ground rules for what the agent has
(``prompts/ground_rules.md`` for every agent, ``prompts/ground_rules_tools.md`` for those with tools:
the PR agent has none, so it is never told to use any), then its limits. Its first sentence names the
agent ("You are Nightshift's code agent."); the scripted model server routes requests on that phrase,
so no prompt may contain another agent's phrase.
"""

from dataclasses import dataclass

from pydantic import BaseModel

import prompts
from agent import AgentSpec, Limits
from agent.loop import WRAP_UP_AT
from agent.spec import SubmitCheck
from agents.submissions import FixSubmission, PrSubmission, TestSubmission, TriageSubmission
from agents.submit_check import check_fix
from config import Settings
from safety.writes import Role

AGENT_NAMES = ("triage", "code", "test", "pr")
"""In the order the workflow starts them and reports them."""

READ_ONLY_TOOLS = ("read_file", "list_dir", "glob", "grep")
TRIAGE_TOOLS = (*READ_ONLY_TOOLS, "recall")
CODE_TOOLS = (
    *READ_ONLY_TOOLS, "edit_file", "write_file", "delete_file", "run_tests", "shell", "recall", "remember",
)  # fmt: skip
TEST_TOOLS = (*READ_ONLY_TOOLS, "write_file", "edit_file", "delete_file", "run_tests", "shell", "recall")
PR_TOOLS: tuple[str, ...] = ()
"""The PR agent drafts from the ticket alone: no tools besides its submit tool."""

AGENT_ROLES: dict[str, Role] = {"triage": "any", "code": "code", "test": "test", "pr": "any"}
"""Write role of each agent's ToolContext: the code agent may not touch tests, the test agent only tests.
Triage and PR have no write tools, so their role never comes into play."""

WRITABLE_SHELL = ("code",)
"""Agents whose shell may write the worktree (as the policy allows). Every other agent's shell sees it
read-only: the test agent probes the code by shell and writes only through the file tools, so only
test files."""

PARTIAL_ON_LIMIT = ("code", "test")
"""Agents whose worktree is taken as a partial result when a limit stops them before they submit."""

ROUTING_PHRASES = {
    "triage": "triage agent",
    "code": "code agent",
    "test": "test agent",
    "pr": "PR agent",
}
"""The phrase in each system prompt that scripted models route on (demo and tests)."""


@dataclass(frozen=True)
class _Definition:
    submit_model: type[BaseModel]
    submit_name: str
    submit_description: str
    tools: tuple[str, ...]
    submit_check: SubmitCheck | None = None


_DEFINITIONS: dict[str, _Definition] = {
    "triage": _Definition(
        TriageSubmission,
        "submit_triage",
        "Submit your triage of the incident. This ends your task.",
        TRIAGE_TOOLS,
    ),
    "code": _Definition(
        FixSubmission,
        "submit_fix",
        "Submit your fix once the worktree holds it and the existing tests pass. The diff is read from "
        "the worktree; these fields explain it. The first call shows you that diff and a checklist; the "
        "second call submits and ends your task.",
        CODE_TOOLS,
        check_fix,
    ),
    "test": _Definition(
        TestSubmission,
        "submit_tests",
        "Submit the regression tests you wrote, once you have run them and seen them fail on the current "
        "code for the right reason. This ends your task.",
        TEST_TOOLS,
    ),
    "pr": _Definition(
        PrSubmission,
        "submit_pr",
        "Submit the pull request's title and narrative body. This ends your task.",
        PR_TOOLS,
    ),
}


def system_prompt(name: str, limits: Limits) -> str:
    """The system prompt of agent ``name``: its own words, the ground rules for what it has, its limits."""
    definition = _DEFINITIONS[name]
    rules = prompts.load("ground_rules").strip()
    if definition.tools:
        rules += "\n" + prompts.load("ground_rules_tools").strip()
    limits_text = _limits(definition.submit_name, limits, partial=name in PARTIAL_ON_LIMIT)
    return f"{prompts.load(name).strip()}\n\n{rules}\n\n{limits_text}\n"


def _limits(submit: str, limits: Limits, *, partial: bool) -> str:
    """The limits the loop enforces, told to the agent (no agent should meet one by surprise)."""
    stopped = (
        "Nightshift takes what your worktree holds as a partial result and tells the reviewer so"
        if partial
        else "your work is lost"
    )
    return (
        "## Your limits\n\n"
        f"You have {limits.max_turns} turns (one turn is one reply of yours, with all the tools it calls), "
        f"{_duration(limits.timeout_s)} of wall-clock time and {limits.max_tokens:,} tokens (what you read "
        f"and what you write, every turn counted). At about {WRAP_UP_AT:.0%} of any of them you are told to "
        f"wrap up. If a limit stops you before you call `{submit}`, {stopped}."
    )


def _duration(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute" if minutes == 1 else f"{minutes} minutes"
    return f"{seconds:g} seconds"


def build_specs(settings: Settings) -> dict[str, AgentSpec]:
    """One spec per agent (keyed by ``AGENT_NAMES``), with the model and limits configured for it."""
    specs = {}
    for name in AGENT_NAMES:
        definition = _DEFINITIONS[name]
        configured = getattr(settings.agents, name)
        spec = AgentSpec(
            name=name,
            system_prompt=system_prompt(name, Limits.from_settings(configured)),
            submit_model=definition.submit_model,
            submit_name=definition.submit_name,
            submit_description=definition.submit_description,
            tools=(*definition.tools, *configured.tools),
            submit_check=definition.submit_check,
        )
        specs[name] = spec.with_settings(settings.model, configured)
    return specs
