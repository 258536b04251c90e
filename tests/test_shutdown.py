"""A server stopped with SIGTERM while its agents work: the run is neither failed nor lost, and the next
server finishes it. Real `nightshift serve` processes on one state directory, the scripted model over HTTP."""

from pathlib import Path

import httpx

from client.scripted import ScriptedModelServer
from demo.incident import sample_incident_script
from demo.playground import create_playground, environment_toml
from demo.serving import serving
from tests.server_fixtures import wait_for_run

pytest_plugins = ["tests.model_fixtures"]


def test_sigterm_while_agents_work_leaves_the_run_to_the_next_server(
    tmp_path: Path, scripted_server: ScriptedModelServer
) -> None:
    playground = create_playground(tmp_path / "playground")
    config = tmp_path / "nightshift.toml"
    config.write_text(environment_toml())
    env = {
        "OPENAI_BASE_URL": scripted_server.base_url,
        "NIGHTSHIFT_MODEL": "scripted-shutdown",
        "NIGHTSHIFT_REPO": str(playground.repo),
        "NIGHTSHIFT_DATA_DIR": str(tmp_path / "state"),
        "NIGHTSHIFT_CONFIG": str(config),
    }
    slow = {
        name: [turn.model_copy(update={"ttft_s": 1.0}) for turn in turns]
        for name, turns in sample_incident_script().items()
    }
    scripted_server.load(slow)
    (tmp_path / "first").mkdir()
    with serving(env, tmp_path / "first") as first, httpx.Client(base_url=first.url, timeout=10) as client:
        run_id = client.post("/runs", json={"title": "Completing a todo twice reopens it"}).json()["run_id"]
        wait_for_run(client, run_id, lambda run: run["agents"].get("code", {}).get("turns", 0) >= 2)
    # serving() sent SIGTERM and waited for the server to exit

    log = (tmp_path / "first" / "server.log").read_text()
    assert "Traceback" not in log and "crashed" not in log, log[-3000:]

    scripted_server.load(sample_incident_script())  # the interrupted agents start over
    (tmp_path / "second").mkdir()
    with serving(env, tmp_path / "second") as second, httpx.Client(base_url=second.url, timeout=10) as client:
        interrupted = client.get(f"/runs/{run_id}").json()
        assert interrupted["status"] not in ("failed", "cancelled"), interrupted
        assert all(agent["status"] != "failed" for agent in interrupted["agents"].values()), interrupted
        run = wait_for_run(client, run_id, lambda run: run["status"] == "awaiting_decision")
    assert run["verification"]["verdict"] == "verified", run["verification"]
    assert {name: agent["status"] for name, agent in run["agents"].items()} == {
        "triage": "submitted",
        "code": "submitted",
        "test": "submitted",
        "pr": "submitted",
    }
