"""The four agent definitions of an incident: triage, code, test and PR.

``build_specs(settings)`` gives one ``agent.AgentSpec`` per agent (its prompt, tool allowlist, submit
tool, model and limits); the workflow runs each with ``agent.run_agent`` in its own worktree, with a
``ToolContext`` whose write role is ``AGENT_ROLES[name]``. ``agents.goals`` writes each run's first
message, with the ticket and every other untrusted text wrapped as data, and the repository as
``agents.repository`` shows it. What each agent submits is defined in ``agents.submissions``; the code
agent's first ``submit_fix`` is answered by ``agents.submit_check`` (its diff and a checklist).

This package raises nothing of its own: a submission that fails validation goes back to the model as
an error to fix (see ``agent.turn``).
"""

from agents.definitions import (
    AGENT_NAMES,
    AGENT_ROLES,
    CODE_TOOLS,
    PR_TOOLS,
    ROUTING_PHRASES,
    TEST_TOOLS,
    TRIAGE_TOOLS,
    build_specs,
    system_prompt,
)
from agents.goals import code_goal, pr_goal, retry_fix_goal, revise_goal, test_goal, triage_goal
from agents.submissions import FixSubmission, Priority, PrSubmission, TestSubmission, TriageSubmission

__all__ = [
    "AGENT_NAMES",
    "AGENT_ROLES",
    "CODE_TOOLS",
    "PR_TOOLS",
    "ROUTING_PHRASES",
    "TEST_TOOLS",
    "TRIAGE_TOOLS",
    "FixSubmission",
    "PrSubmission",
    "Priority",
    "TestSubmission",
    "TriageSubmission",
    "build_specs",
    "code_goal",
    "pr_goal",
    "retry_fix_goal",
    "revise_goal",
    "system_prompt",
    "test_goal",
    "triage_goal",
]
