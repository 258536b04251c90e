"""The nightshift command as a user runs it: real processes, real kill -9, the scripted model over HTTP."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from client.scripted import ScriptedModelServer
from client.scripted.incident import sample_incident_script
from demo.playground import create_playground, environment_toml
from demo.serving import free_port
from store.runs import Store, database_url

pytest_plugins = ["tests.model_fixtures"]

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def cli_env(tmp_path: Path, scripted_server: ScriptedModelServer) -> dict[str, str]:
    playground = create_playground(tmp_path / "playground")
    config = tmp_path / "nightshift.toml"
    config.write_text(f"{environment_toml()}\n[model.pricing.scripted-cli]\ninput = 1.0\noutput = 4.0\n")
    scripted_server.load(sample_incident_script())
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "OPENAI_BASE_URL": scripted_server.base_url,
        "NIGHTSHIFT_MODEL": "scripted-cli",
        "NIGHTSHIFT_REPO": str(playground.repo),
        "NIGHTSHIFT_DATA_DIR": str(tmp_path / "state"),
        "NIGHTSHIFT_CONFIG": str(config),
    }


def nightshift(*args: str) -> list[str]:
    return [sys.executable, str(ROOT / "main.py"), *args]


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        nightshift(*args), env=env, capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL
    )


def store_of(env: dict[str, str]) -> Store:
    return Store(database_url(Path(env["NIGHTSHIFT_DATA_DIR"]), None))


def wait_for_status(store: Store, status: str, deadline_s: float = 120) -> str:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        runs = asyncio.run(store.list_runs(limit=1))
        if runs and runs[0].status == status:
            return runs[0].run_id
        time.sleep(0.2)
    raise AssertionError(f"no run reached {status!r} in {deadline_s}s: {runs and runs[0].status}")


def test_run_with_approve_opens_a_pull_request(cli_env: dict[str, str]) -> None:
    done = run_cli(cli_env, "run", "Completing a todo twice reopens it", "--key", "TODO-42", "--approve")
    assert done.returncode == 0, done.stderr
    assert "Pull request opened: local://pull-requests/1" in done.stderr
    assert "verified" in done.stderr


def test_kill_9_while_awaiting_a_decision_then_approve_gives_one_pr(
    cli_env: dict[str, str], scripted_server: ScriptedModelServer
) -> None:
    process = subprocess.Popen(
        nightshift("run", "Completing a todo twice reopens it"),
        env=cli_env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    store = store_of(cli_env)
    try:
        run_id = wait_for_status(store, "awaiting_decision")
        requests_before = len(scripted_server.requests)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        assert process.returncode == -signal.SIGKILL

        approved = run_cli(cli_env, "approve", "latest")
        assert approved.returncode == 0, approved.stderr
        assert "Pull request opened" in approved.stderr
        assert len(scripted_server.requests) == requests_before  # no agent ran again
        again = run_cli(cli_env, "approve", run_id)
        assert again.returncode == 0 and "already" in again.stderr
        prs = asyncio.run(store.pull_requests())
        assert [pr.run_id for pr in prs] == [run_id]
    finally:
        if process.poll() is None:
            process.kill()
        store.close()


def test_missing_repository_is_a_clear_error(cli_env: dict[str, str]) -> None:
    env = {k: v for k, v in cli_env.items() if k != "NIGHTSHIFT_REPO"}
    done = run_cli(env, "run", "something broke")
    assert done.returncode == 2
    assert "NIGHTSHIFT_REPO" in done.stderr


def test_unknown_run_is_a_clear_error(cli_env: dict[str, str]) -> None:
    done = run_cli(cli_env, "approve", "deadbeef")
    assert done.returncode == 2
    assert "no run with id 'deadbeef'" in done.stderr


def test_bad_config_names_the_key_and_file(cli_env: dict[str, str]) -> None:
    Path(cli_env["NIGHTSHIFT_CONFIG"]).write_text("[workflow]\nmax_revisons = 2\n")
    done = run_cli(cli_env, "runs")
    assert done.returncode == 2
    assert "workflow.max_revisons" in done.stderr and cli_env["NIGHTSHIFT_CONFIG"] in done.stderr


def test_uvicorn_main_app_reads_its_settings_from_the_environment(cli_env: dict[str, str]) -> None:
    port = free_port()
    env = {**cli_env, "NIGHTSHIFT_API_TOKEN": "cli-token-123456"}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "main:app", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).json()
                break
            except httpx.HTTPError:
                assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        assert health["status"] == "ok" and health["model"].startswith("scripted-cli at http://127.0.0.1")
        assert {name: entry["mode"] for name, entry in health["integrations"].items()} == {
            "slack": "local",
            "github": "local",
            "jira": "local",
            "sentry": "local",
            "pagerduty": "local",
        }
    finally:
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=60)[0].decode()
    assert "Nightshift on http://" in output  # the start-up banner names the model and the integrations


def test_a_half_configured_integration_stops_start_up(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "SLACK_BOT_TOKEN": "xoxb-1234567"}
    done = subprocess.run(
        [sys.executable, "-m", "uvicorn", "main:app", "--port", str(free_port())],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "SLACK_SIGNING_SECRET" in done.stderr + done.stdout
