"""The four agents of an incident: their words, tools, submit tools and write roles.

Each system prompt is ``prompts/<name>.md`` followed by the shared ``prompts/ground_rules.md``. Its
first sentence names the agent ("You are Nightshift's code agent."); the scripted model server routes
requests on that phrase, so no prompt may contain another agent's phrase.
"""

from dataclasses import dataclass

from pydantic import BaseModel

import prompts
from agent import AgentSpec
from agents.submissions import FixSubmission, PrSubmission, TestSubmission, TriageSubmission
from config import Settings
from safety.writes import Role

AGENT_NAMES = ("triage", "code", "test", "pr")
"""In the order the workflow starts them and reports them."""

READ_ONLY_TOOLS = ("read_file", "list_dir", "glob", "grep")
TRIAGE_TOOLS = (*READ_ONLY_TOOLS, "recall")
CODE_TOOLS = (*READ_ONLY_TOOLS, "edit_file", "write_file", "run_tests", "shell", "recall", "remember")
TEST_TOOLS = (*READ_ONLY_TOOLS, "write_file", "edit_file", "run_tests", "recall")
PR_TOOLS: tuple[str, ...] = ()
"""The PR agent drafts from the ticket alone: no tools besides its submit tool."""

AGENT_ROLES: dict[str, Role] = {"triage": "any", "code": "code", "test": "test", "pr": "any"}
"""Write role of each agent's ToolContext: the code agent may not touch tests, the test agent only tests.
Triage and PR have no write tools, so their role never comes into play."""

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
        "the worktree; these fields explain it. This ends your task.",
        CODE_TOOLS,
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


def system_prompt(name: str) -> str:
    """The system prompt of agent ``name``: its own words, then the shared ground rules."""
    return f"{prompts.load(name).strip()}\n\n{prompts.load('ground_rules').strip()}\n"


def build_specs(settings: Settings) -> dict[str, AgentSpec]:
    """One spec per agent (keyed by ``AGENT_NAMES``), with the model and limits configured for it."""
    specs = {}
    for name in AGENT_NAMES:
        definition = _DEFINITIONS[name]
        spec = AgentSpec(
            name=name,
            system_prompt=system_prompt(name),
            submit_model=definition.submit_model,
            submit_name=definition.submit_name,
            submit_description=definition.submit_description,
            tools=(*definition.tools, *getattr(settings.agents, name).tools),
        )
        specs[name] = spec.with_settings(settings.model, getattr(settings.agents, name))
    return specs
