"""Who may be a worker: one per state directory, one per SQLite database, one per executor id on
PostgreSQL; and a worker on PostgreSQL needs an origin every other worker can fetch the run's branch from."""

from pathlib import Path

import pytest

from client import ModelClient
from client.scripted import ScriptedModelServer
from demo.incident import sample_incident_script
from demo.playground import create_playground
from tests.git_fixtures import git
from tests.pipeline_fixtures import Pipeline, pipeline_settings, start_pipeline
from tests.postgres_fixtures import PG_TEST_TIMEOUT_S
from workflow.engine import Engine
from workflow.errors import EngineBusy, WorkflowError
from workflow.executors import ExecutorPresence

pytest_plugins = ["tests.model_fixtures", "tests.pipeline_fixtures", "tests.postgres_fixtures"]


def second_engine(pipeline: Pipeline, data_dir: Path) -> Engine:
    settings = pipeline.engine.settings.model_copy(update={"data_dir": data_dir})
    return Engine(settings, model=ModelClient(settings.model, api_key=None))


async def test_a_second_worker_on_one_state_directory_is_refused_naming_postgres(
    tmp_path: Path, scripted_server: ScriptedModelServer, pipelines: list[Pipeline]
) -> None:
    pipelines.append(await start_pipeline(tmp_path, scripted_server, sample_incident_script()))
    second = second_engine(pipelines[0], pipelines[0].engine.data_dir)

    with pytest.raises(EngineBusy) as refused:
        await second.start()

    message = str(refused.value)
    assert f"already running from {pipelines[0].engine.data_dir}" in message
    assert "its own state directory" in message and "NIGHTSHIFT_DATABASE_URL=postgresql://" in message
    assert second.runtime is None


async def test_a_second_worker_on_one_sqlite_database_is_refused_naming_postgres(
    tmp_path: Path, scripted_server: ScriptedModelServer
) -> None:
    shared = tmp_path / "shared" / "runs.sqlite"
    shared.parent.mkdir()
    playground = create_playground(tmp_path / "playground")
    settings = pipeline_settings(playground.repo, tmp_path / "state", scripted_server.base_url)
    settings.database_url = f"sqlite:///{shared}"
    first = Engine(settings, model=ModelClient(settings.model, api_key=None))
    await first.start()
    try:
        other = settings.model_copy(update={"data_dir": tmp_path / "other-state"})
        with pytest.raises(EngineBusy) as refused:
            await Engine(other, model=ModelClient(other.model, api_key=None)).start()
    finally:
        await first.stop()

    assert f"already uses the SQLite database {shared}" in str(refused.value)
    assert "SQLite serves one worker" in str(refused.value) and "PostgreSQL" in str(refused.value)


@pytest.mark.timeout(PG_TEST_TIMEOUT_S)
async def test_two_workers_with_one_executor_id_are_refused(postgres_url: str) -> None:
    first = ExecutorPresence(postgres_url, "worker-a", recovery_s=8)
    await first.claim()
    try:
        with pytest.raises(EngineBusy, match=r"executor id .worker-a.*DBOS__VMID"):
            await ExecutorPresence(postgres_url, "worker-a", recovery_s=8).claim()
        other = ExecutorPresence(postgres_url, "worker-b", recovery_s=8)
        await other.claim()
        await other.close()
    finally:
        await first.close()
    again = ExecutorPresence(postgres_url, "worker-a", recovery_s=8)
    await again.claim()  # the first let go: its id is free (as after a restart)
    await again.close()


@pytest.mark.timeout(PG_TEST_TIMEOUT_S)
async def test_a_worker_on_postgres_needs_an_origin(tmp_path: Path, postgres_url: str) -> None:
    playground = create_playground(tmp_path / "playground")
    git(playground.repo, "remote", "remove", "origin")
    settings = pipeline_settings(playground.repo, tmp_path / "state", "http://127.0.0.1:9/v1")
    settings.database_url = postgres_url
    engine = Engine(settings, model=ModelClient(settings.model, api_key=None))

    with pytest.raises(WorkflowError, match="has no remote 'origin': with PostgreSQL any worker"):
        await engine.start()
    assert engine.runtime is None
