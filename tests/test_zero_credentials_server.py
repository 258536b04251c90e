"""One `nightshift serve` with no credentials at all plays the sample incident for every run it is given,
and a request-changes round too (issue 18 §3): the scripted model is the server's own default
(``client.scripted.local.model_for``), not a model server the test loads."""

from pathlib import Path

from client.scripted import ScriptedModelServer
from demo.incident import REVISION_FEEDBACK
from tests.server_fixtures import all_delivered, briefed, server_settings, start_server

pytest_plugins = ["tests.model_fixtures"]

TITLE = "Completing a todo twice reopens it"


def test_the_default_model_plays_every_incident_and_its_revision(
    tmp_path: Path, scripted_server: ScriptedModelServer
) -> None:
    settings, playground = server_settings(tmp_path, scripted_server)
    settings.model.base_url = None  # no OPENAI_BASE_URL and no OPENAI_API_KEY: the scripted default
    live = start_server(settings, playground, None, scripted_server)
    try:
        with live.client() as client:
            for attempt in (1, 2):
                run_id = client.post("/runs", json={"title": TITLE}).json()["run_id"]
                run = live.wait_for_run(run_id, briefed)
                assert run["verification"]["verdict"] == "verified", (attempt, run["agents"])
                if attempt == 2:
                    sent = client.post(
                        f"/runs/{run_id}/request-changes", json={"feedback": REVISION_FEEDBACK}
                    )
                    assert sent.status_code == 202, sent.text
                    run = live.wait_for_run(run_id, lambda r: briefed(r) and r["revision"] == 2)
                    assert run["verification"]["verdict"] == "verified", run["agents"]
                approved = client.post(f"/runs/{run_id}/approve")
                assert approved.status_code == 202, approved.text
                live.wait_for_run(run_id, all_delivered)
        assert scripted_server.requests == [], "the runs were played by the server's own scripted model"
    finally:
        live.server.stop()
