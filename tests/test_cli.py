"""The nightshift command as a user runs it: real processes, real kill -9, the scripted model over HTTP."""

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from client.scripted import ScriptedModelServer
from demo.incident import (
    CODE_REVISION,
    DECLINED,
    REVISION_FEEDBACK,
    declined_revision_turns,
    sample_incident_script,
)
from demo.playground import create_playground, environment_toml
from demo.serving import free_port, serving
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


def without_a_model(env: dict[str, str]) -> dict[str, str]:
    """``env`` with no model configured: Nightshift plays its scripted default (the sample incident)."""
    return {k: v for k, v in env.items() if k not in ("OPENAI_BASE_URL", "NIGHTSHIFT_MODEL")}


def test_readmes_request_changes_then_approve_works_without_a_key(cli_env: dict[str, str]) -> None:
    done = run_cli(
        without_a_model(cli_env),
        "run", "Completing a todo twice reopens it", "--key", "TODO-42",
        "--request-changes", REVISION_FEEDBACK, "--approve",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    shown = " ".join(done.stderr.replace("│", " ").split())  # the briefing panel, unwrapped
    assert "scripted demo model" in shown and "Revision 2 changes todo/service.py" in shown
    assert "Pull request opened: local://pull-requests/1" in done.stderr


def test_two_incidents_through_one_server_with_the_scripted_model_both_ship(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    with serving(without_a_model(cli_env), tmp_path) as server:
        assert server.health["model"].startswith("scripted demo model")
        with httpx.Client(base_url=server.url, timeout=30) as client:
            run_ids = [
                client.post("/runs", json={"title": f"Completing a todo twice reopens it ({n})"}).json()[
                    "run_id"
                ]
                for n in (1, 2)
            ]
            for run_id in run_ids:
                run = poll(client, run_id, lambda r: r["status"] == "awaiting_decision")
                assert run["verification"]["verdict"] == "verified", run["agents"]
                assert client.post(f"/runs/{run_id}/approve").status_code == 202
            shipped = [poll(client, run_id, lambda r: bool(r["pr_url"])) for run_id in run_ids]
    assert sorted(run["pr_url"] for run in shipped) == ["local://pull-requests/1", "local://pull-requests/2"]


def poll(client: httpx.Client, run_id: str, until: Any, deadline_s: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + deadline_s
    while True:
        run: dict[str, Any] = client.get(f"/runs/{run_id}").json()
        if until(run) or run["status"] in ("failed", "cancelled", "expired"):
            return run
        assert time.monotonic() < deadline, f"run {run_id} is still {run['status']}"
        time.sleep(0.2)


def test_the_terminal_offers_no_approve_for_a_revision_that_changed_nothing(
    cli_env: dict[str, str], scripted_server: ScriptedModelServer
) -> None:
    scripts = sample_incident_script(revisions=True)
    scripts[CODE_REVISION] = declined_revision_turns()
    scripted_server.load(scripts)
    answers = f"r\n{REVISION_FEEDBACK}\na\nq\n"  # "a" is not offered for revision 2: asked again
    asked = subprocess.run(
        nightshift("run", "Completing a todo twice reopens it", "--key", "TODO-42"),
        env=cli_env, input=answers, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert asked.returncode == 1, asked.stderr
    first = "[a]pprove / [r]equest changes / [c]ancel / [q]uit: "
    assert asked.stderr.count(first) == 1
    second = re.search(r"\[s\]hip revision 1 as briefed at \d\d:\d\d UTC / \[r\]equest changes / "
                       r"\[c\]ancel / \[q\]uit: ", asked.stderr)  # fmt: skip
    assert second is not None and asked.stderr.count(second[0]) == 2  # "a" is refused by asking again
    assert "did not act on the feedback" in asked.stderr and DECLINED[:40] in asked.stderr
    assert "Pull request" not in asked.stderr

    refused = run_cli(cli_env, "approve", "latest")
    assert refused.returncode == 2 and "changed nothing since revision 1" in refused.stderr
    chosen = run_cli(cli_env, "approve", "latest", "--revision", "1")
    assert chosen.returncode == 0, chosen.stderr
    assert "Pull request opened: local://pull-requests/1" in chosen.stderr


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
