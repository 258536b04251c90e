"""The whole pipeline on a repository where a test already fails on the base commit (it needs DNS, and
the sandbox has no network), in the very file the test agent adds its regression tests to: the right fix
is verified, the old failure is reported as the base commit's, and the code agent is not sent back to
fix what it did not break."""

import shutil
from pathlib import Path

from client.scripted import ScriptedCall, ScriptedModelServer, Turn
from client.scripted.incident import REGRESSION_TESTS, SAMPLE_TICKET, sample_incident_script
from demo.playground import SAMPLE_REPO, create_playground
from tests.pipeline_fixtures import Pipeline, start_pipeline

pytest_plugins = ["tests.model_fixtures", "tests.pipeline_fixtures"]

OFFLINE_TEST = '''\
"""Completion: the reminder service must be reachable for completed todos to be announced."""

import socket


def test_the_reminder_service_resolves():
    socket.getaddrinfo("reminders.todo.example", 443)
'''
NEW_TESTS = """

from todo import TodoService


def test_completing_twice_keeps_the_todo_completed():
    service = TodoService()
    todo = service.add("water the plants")
    service.complete(todo.id)
    service.complete(todo.id)
    assert service.get(todo.id).completed is True
"""


def scripted_test_agent() -> list[Turn]:
    """The test agent adds its test beside the old one, in the existing file."""
    write = ScriptedCall(
        name="write_file", arguments={"path": REGRESSION_TESTS, "content": OFFLINE_TEST + NEW_TESTS}
    )
    submit = ScriptedCall(
        name="submit_tests",
        arguments={
            "test_files": [REGRESSION_TESTS],
            "test_names": [f"{REGRESSION_TESTS}::test_completing_twice_keeps_the_todo_completed"],
            "notes": "Completing twice must leave the todo completed.",
        },
    )
    return [
        Turn(content="Adding a regression test beside the existing one.", tool_calls=[write]),
        Turn(content="Submitting it.", tool_calls=[submit]),
    ]


async def test_a_failure_the_base_commit_already_has_is_reported_and_never_retried(
    tmp_path: Path, scripted_server: ScriptedModelServer, pipelines: list[Pipeline]
) -> None:
    source = tmp_path / "sample"
    shutil.copytree(SAMPLE_REPO, source, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    (source / REGRESSION_TESTS).write_text(OFFLINE_TEST)
    playground = create_playground(tmp_path / "playground", source=source)
    scripts = sample_incident_script()
    scripts["test agent"] = scripted_test_agent()
    pipeline = await start_pipeline(tmp_path, scripted_server, scripts, playground=playground)
    pipelines.append(pipeline)

    run = await pipeline.submit(SAMPLE_TICKET)
    facts = await pipeline.briefed(run.run_id)

    verification = facts.verification
    assert verification is not None and verification.verdict == "verified", verification
    offline = f"{REGRESSION_TESTS}::test_the_reminder_service_resolves"
    assert verification.already_failing.names == [offline]
    assert verification.new_tests.names == [
        f"{REGRESSION_TESTS}::test_completing_twice_keeps_the_todo_completed"
    ]
    assert verification.fix_attempts == 1
    started = [entry.text for entry in facts.timeline if entry.text.startswith("verification")]
    assert started == ["verification 1.0 started", "verification: verified"], "no retry was made"
    assert pipeline.requests_for("code agent") == len(scripts["code agent"])
