"""The whole pipeline on a repository where a test already fails on the base commit (it needs DNS, and
the sandbox has no network), in the very file the test agent adds its regression tests to: the right fix
is verified, the old failure is reported as the base commit's, and the code agent is not sent back to
fix what it did not break. A later run on the same commit tells its agents, in their first message,
which tests fail there (from the base suite the first run's verification kept)."""

import shutil
from pathlib import Path

from client.scripted import RecordedRequest, ScriptedCall, ScriptedModelServer, Turn
from demo.incident import REGRESSION_TESTS, SAMPLE_TICKET, sample_incident_script
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


OFFLINE = f"{REGRESSION_TESTS}::test_the_reminder_service_resolves"


def scripts() -> dict[str, list[Turn]]:
    scripts = sample_incident_script()
    scripts["test agent"] = scripted_test_agent()
    return scripts


async def offline_pipeline(
    tmp_path: Path, server: ScriptedModelServer, pipelines: list[Pipeline]
) -> Pipeline:
    """The pipeline on the sample repository whose test file holds a test that fails offline."""
    source = tmp_path / "sample"
    shutil.copytree(SAMPLE_REPO, source, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    (source / REGRESSION_TESTS).write_text(OFFLINE_TEST)
    playground = create_playground(tmp_path / "playground", source=source)
    pipeline = await start_pipeline(tmp_path, server, scripts(), playground=playground)
    pipelines.append(pipeline)
    return pipeline


def first_messages(requests: list[RecordedRequest], script: str) -> list[str]:
    """The first user message of each conversation the model server had with ``script``."""
    return [
        request.body["messages"][1]["content"]
        for request in requests
        if request.script == script and len(request.body["messages"]) == 2
    ]


async def test_a_failure_the_base_commit_already_has_is_reported_and_never_retried(
    tmp_path: Path, scripted_server: ScriptedModelServer, pipelines: list[Pipeline]
) -> None:
    pipeline = await offline_pipeline(tmp_path, scripted_server, pipelines)

    run = await pipeline.submit(SAMPLE_TICKET)
    facts = await pipeline.briefed(run.run_id)

    verification = facts.verification
    assert verification is not None and verification.verdict == "verified", verification
    assert verification.already_failing.names == [OFFLINE]
    assert verification.new_tests.names == [
        f"{REGRESSION_TESTS}::test_completing_twice_keeps_the_todo_completed"
    ]
    assert verification.fix_attempts == 1
    started = [entry.text for entry in facts.timeline if entry.text.startswith("verification")]
    assert started == ["verification 1.0 started", "verification: verified"], "no retry was made"
    assert pipeline.requests_for("code agent") == len(scripts()["code agent"])


async def test_a_later_run_on_the_same_commit_tells_its_agents_which_tests_already_fail(
    tmp_path: Path, scripted_server: ScriptedModelServer, pipelines: list[Pipeline]
) -> None:
    pipeline = await offline_pipeline(tmp_path, scripted_server, pipelines)
    first = await pipeline.briefed((await pipeline.submit(SAMPLE_TICKET)).run_id)
    before = scripted_server.requests
    scripted_server.load(scripts())  # the log starts again

    second = await pipeline.briefed((await pipeline.submit(SAMPLE_TICKET)).run_id)

    assert first.base_commit == second.base_commit
    not_known = "Which tests fail on the base commit, before any change: not known yet."
    for script in ("code agent", "test agent"):
        assert [not_known in text for text in first_messages(before, script)] == [True], script
        (message,) = first_messages(scripted_server.requests, script)
        assert not_known not in message
        assert "1 test fails on the base commit before any change" in message, message
        assert f"\n- {OFFLINE}\n" in message
    assert second.verification is not None and second.verification.verdict == "verified"
    assert first.verification is not None and not first.verification.phase_times["base_suite"].cached
    reused = second.verification.phase_times["base_suite"]
    assert reused.cached and reused.started_s is None, "the second verification took the base suite kept"
    assert second.verification.base_suite == first.verification.base_suite
    assert second.verification.already_failing.names == [OFFLINE]
