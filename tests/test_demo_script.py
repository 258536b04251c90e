"""The demo incident script, played by the real loop, client, tools and pytest on a sandboxed sample repo.

Each agent runs in its own git worktree of a fresh copy of ``demo/sample_repo`` (the todo service whose
``complete()`` toggles), against the scripted model server through the real ``ModelClient``. What the
agents left behind is then checked the way verification checks it: the test agent's regression file is
run by a real pytest subprocess against the base commit and against the code agent's tree.
"""

import asyncio
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent import AgentResult, AgentSpec, run_agent
from agents import (
    AGENT_NAMES,
    AGENT_ROLES,
    build_specs,
    code_goal,
    goals,
    pr_goal,
    retry_fix_goal,
    revise_goal,
)
from client.scripted import SCRIPTS, ScriptedModelServer
from client.scripted.incident import (
    FIX_ATTEMPTS,
    REGRESSION_TEST_NAMES,
    REGRESSION_TESTS,
    REVISION_FEEDBACK,
    SAMPLE_TICKET,
    revision_turns,
    sample_incident_script,
)
from config import Settings
from demo.playground import SAMPLE_ENVIRONMENT, create_playground
from tests.git_fixtures import git
from tests.model_fixtures import scripted_client
from tests.tools_fixtures import TEST_COMMAND, make_context
from tools import builtin_registry

pytest_plugins = ["tests.model_fixtures"]

SPECS = build_specs(Settings())
FIXED_LINE = "+        todo.completed = True"


@dataclass
class Incident:
    base: Path
    """The playground checkout at the base commit (the buggy code)."""
    worktrees: dict[str, Path]
    state: Path
    scratch: Path


@pytest.fixture
def incident(tmp_path: Path) -> Incident:
    playground = create_playground(tmp_path / "playground")
    worktrees = {}
    for name in AGENT_NAMES:
        worktrees[name] = tmp_path / "worktrees" / name
        git(playground.repo, "worktree", "add", "--quiet", "--detach", str(worktrees[name]), "HEAD")
    return Incident(playground.repo, worktrees, tmp_path / "state", tmp_path / "scratch")


async def run(name: str, goal: str, incident: Incident, server: ScriptedModelServer) -> AgentResult:
    spec: AgentSpec = SPECS[name]
    ctx = make_context(
        incident.worktrees[name], incident.state, agent=name, role=AGENT_ROLES[name], repo_id="todo",
        test_command=TEST_COMMAND,
    )  # fmt: skip
    tools = builtin_registry().select(spec.tools)
    return await run_agent(spec, goal, model=scripted_client(server), tools=tools, ctx=ctx)


def pytest_in(tree: Path, incident: Incident, *paths: str, regression_from: Path | None = None) -> str:
    """Run pytest on a copy of ``tree`` (plus the regression file, if given); return its output.

    A copy, so that nothing is added to the tree under test; a real subprocess, like verification.
    """
    incident.scratch.mkdir(exist_ok=True)
    copy = incident.scratch / f"run-{len(list(incident.scratch.iterdir()))}"
    shutil.copytree(tree, copy, ignore=shutil.ignore_patterns(".git", "__pycache__"))
    if regression_from is not None:
        shutil.copy(regression_from / REGRESSION_TESTS, copy / REGRESSION_TESTS)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(SAMPLE_ENVIRONMENT.variables)
    command = [*TEST_COMMAND.split(), *paths]
    result = subprocess.run(
        command, cwd=copy, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    return f"exit={result.returncode}\n{result.stdout}{result.stderr}"


def diff(tree: Path) -> str:
    return git(tree, "diff", "HEAD")


async def test_the_four_agents_reach_the_real_fix_through_the_real_tools(
    scripted_server: ScriptedModelServer, incident: Incident
) -> None:
    scripts = sample_incident_script()
    scripted_server.load(scripts)
    ticket = SAMPLE_TICKET
    triage, code, tests, pr = await asyncio.gather(
        run("triage", goals.triage_goal(ticket, []), incident, scripted_server),
        run("code", code_goal(ticket, []), incident, scripted_server),
        run("test", goals.test_goal(ticket, []), incident, scripted_server),
        run("pr", pr_goal(ticket), incident, scripted_server),
    )

    assert [r.status for r in (triage, code, tests, pr)] == ["submitted"] * 4
    served = [(r.script, r.error) for r in scripted_server.requests]
    assert sorted(served) == sorted((name, None) for name, turns in scripts.items() for _ in turns)
    assert all(r.usage.cost_usd > 0 for r in (triage, code, tests, pr))

    assert triage.submission is not None
    assert triage.submission.model_dump()["priority"] == "P2"
    assert triage.submission.model_dump()["affected_files"] == ["todo/service.py"]

    fix = diff(incident.worktrees["code"])
    assert "-        todo.completed = not todo.completed" in fix and FIXED_LINE in fix
    assert git(incident.worktrees["code"], "status", "--porcelain").split() == ["M", "todo/service.py"]
    assert git(incident.worktrees["test"], "status", "--porcelain").split() == ["??", REGRESSION_TESTS]
    assert not (incident.worktrees["code"] / REGRESSION_TESTS).exists()
    assert code.submission is not None and "toggles" in code.submission.model_dump()["root_cause"]
    assert tests.submission is not None
    assert tests.submission.model_dump()["test_names"] == list(REGRESSION_TEST_NAMES)
    assert pr.submission is not None and len(pr.submission.model_dump()["title"]) <= 72

    on_base = pytest_in(incident.base, incident, REGRESSION_TESTS, regression_from=incident.worktrees["test"])
    assert on_base.startswith("exit=1") and "2 failed" in on_base and "assert False is True" in on_base
    with_fix = pytest_in(
        incident.worktrees["code"], incident, REGRESSION_TESTS, regression_from=incident.worktrees["test"]
    )
    assert with_fix.startswith("exit=0") and "2 passed" in with_fix
    suite = pytest_in(incident.worktrees["code"], incident)
    assert suite.startswith("exit=0") and "11 passed" in suite


async def test_a_wrong_fix_keeps_failing_through_every_self_correction(
    scripted_server: ScriptedModelServer, incident: Incident
) -> None:
    scripted_server.load(sample_incident_script(wrong_fix=True))
    ticket = SAMPLE_TICKET
    tests = await run("test", goals.test_goal(ticket, []), incident, scripted_server)
    assert tests.ok
    code_tree, test_tree = incident.worktrees["code"], incident.worktrees["test"]

    goal = code_goal(ticket, [])
    for attempt in range(1, FIX_ATTEMPTS + 1):
        result = await run("code", goal, incident, scripted_server)
        assert result.status == "submitted", f"attempt {attempt}: {result.message}"
        fix = diff(code_tree)
        assert "-        todo.completed = not todo.completed" in fix and FIXED_LINE not in fix
        failure = pytest_in(code_tree, incident, REGRESSION_TESTS, regression_from=test_tree)
        assert failure.startswith("exit=1") and "failed" in failure, f"attempt {attempt} passed:\n{failure}"
        goal = retry_fix_goal(ticket, failure, fix, verdict="fix_does_not_pass")

    beyond = await run("code", goal, incident, scripted_server)
    assert beyond.status == "model_error" and "exhausted" in beyond.message  # exactly FIX_ATTEMPTS runs


@pytest.mark.parametrize("feedback_aware", [True, False])
async def test_revision_turns_act_on_the_reviewers_feedback(
    scripted_server: ScriptedModelServer, incident: Incident, feedback_aware: bool
) -> None:
    scripts = sample_incident_script()
    scripts["code agent"] += revision_turns(feedback_aware=feedback_aware)
    scripted_server.load(scripts)
    code_tree = incident.worktrees["code"]
    first = await run("code", code_goal(SAMPLE_TICKET, []), incident, scripted_server)
    fixed = diff(code_tree)

    revise = revise_goal(SAMPLE_TICKET, REVISION_FEEDBACK, fixed)
    revised = await run("code", revise, incident, scripted_server)

    assert first.ok and revised.ok
    after = diff(code_tree)
    assert FIXED_LINE in after
    documented = "+        Completing is idempotent: a todo that is already done stays done." in after
    assert documented is feedback_aware
    assert (after == fixed) is not feedback_aware
    suite = pytest_in(code_tree, incident)
    assert suite.startswith("exit=0") and "11 passed" in suite


def test_the_cli_prints_the_scripts_the_model_server_loads() -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "client.scripted.incident", *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=Path(__file__).resolve().parents[1],
        )

    plain, wrong, revised = cli(), cli("--wrong-fix"), cli("--revision")
    assert SCRIPTS.validate_json(plain.stdout) == sample_incident_script()
    assert SCRIPTS.validate_json(wrong.stdout) == sample_incident_script(wrong_fix=True)
    code_turns = SCRIPTS.validate_json(revised.stdout)["code agent"]
    assert code_turns == sample_incident_script()["code agent"] + revision_turns()
    refused = cli("--wrong-fix", "--revision")
    assert refused.returncode == 2 and "cannot be combined" in refused.stderr
