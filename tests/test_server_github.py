"""GitHub end to end: a failed workflow run starts a run carrying the failing jobs' log excerpt; duplicate
deliveries start nothing new; approval opens the PR through the real PyGithub against a fake GitHub."""

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from client.scripted import ScriptedModelServer
from client.scripted.threaded import ThreadedServer
from demo.incident import sample_incident_script
from tests.fakes.github import FakeGitHub, signed_headers, workflow_run_payload
from tests.server_fixtures import LiveServer, all_delivered, server_settings, start_server

pytest_plugins = ["tests.model_fixtures"]

SECRET = "github-webhook-secret-77"
TOKEN = "ghp_faketoken0123456789"
FAILING_LOG = "\n".join(
    [
        *(f"collecting {n}" for n in range(200)),
        "FAILED tests/test_service.py::test_complete",
        "E   assert False is True",
        "1 failed, 10 passed in 0.12s",
    ]
)


@pytest.fixture
def github() -> Iterator[tuple[FakeGitHub, ThreadedServer]]:
    fake = FakeGitHub(token=TOKEN)
    with fake.serve() as server:
        yield fake, server


@pytest.fixture
def live(
    tmp_path: Path, scripted_server: ScriptedModelServer, github: tuple[FakeGitHub, ThreadedServer]
) -> Iterator[LiveServer]:
    fake, server = github
    settings, playground = server_settings(
        tmp_path,
        scripted_server,
        secrets={"GITHUB_TOKEN": TOKEN, "GITHUB_WEBHOOK_SECRET": SECRET},
        github={"repo": fake.full_name, "api_url": server.url},
    )
    live = start_server(settings, playground, sample_incident_script(), scripted_server)
    yield live
    live.server.stop()


def deliver(live: LiveServer, payload: dict[str, object], *, secret: str = SECRET) -> httpx.Response:
    body = json.dumps(payload).encode()
    with live.client(token=None) as client:
        return client.post("/webhook/github", content=body, headers=signed_headers(secret, body))


def test_a_ci_failure_becomes_a_run_with_the_log_excerpt_and_ships_a_pr(
    live: LiveServer, github: tuple[FakeGitHub, ThreadedServer]
) -> None:
    fake, _ = github
    ci_run = fake.add_run(display_title="Keep completed todos completed")
    fake.add_job(ci_run["id"], "lint")
    fake.add_job(ci_run["id"], "tests", conclusion="failure", failed_step="pytest", log=FAILING_LOG)
    payload = workflow_run_payload(repo=fake.full_name, run_id=ci_run["id"], head_sha=ci_run["head_sha"])

    started = deliver(live, payload)
    assert started.status_code == 202, started.text
    redelivered = deliver(live, payload)  # GitHub redelivers, with a new X-GitHub-Delivery
    assert redelivered.json() == {"run_id": started.json()["run_id"], "duplicate": True}
    run_id = started.json()["run_id"]
    run = live.wait_for_run(run_id, lambda r: r["status"] == "awaiting_decision")
    assert run["ticket"]["key"] == f"CI-{ci_run['id']}" and run["ticket"]["source"] == "github"
    excerpt = run["ticket"]["ci_excerpt"]
    assert "FAILED tests/test_service.py::test_complete" in excerpt and "### tests (pytest)" in excerpt

    with live.client() as client:
        assert client.post(f"/runs/{run_id}/approve").status_code == 202
    shipped = live.wait_for_run(run_id, all_delivered)
    assert len(fake.pulls) == 1 and fake.pulls[0]["head"]["ref"] == shipped["branch"]
    assert fake.pulls[0]["draft"] is True
    assert shipped["pr_url"].endswith(f"/{fake.full_name}/pull/{fake.pulls[0]['number']}")
    assert "verified" in fake.pulls[0]["body"]
    assert all(call.authorization is None for call in fake.downloads())  # the token stayed with the API
    assert len(live.get_json("/runs")["runs"]) == 1


def test_successful_and_other_branch_runs_are_ignored(
    live: LiveServer, github: tuple[FakeGitHub, ThreadedServer]
) -> None:
    fake, _ = github
    success = deliver(live, workflow_run_payload(repo=fake.full_name, conclusion="success"))
    branch = deliver(live, workflow_run_payload(repo=fake.full_name, head_branch="feature/x"))
    assert success.status_code == branch.status_code == 202
    assert "ignored" in success.json() and "ignored" in branch.json()
    assert live.get_json("/runs") == {"runs": []}


def test_forged_github_deliveries_get_401(
    live: LiveServer, github: tuple[FakeGitHub, ThreadedServer]
) -> None:
    refused = deliver(live, workflow_run_payload(repo=github[0].full_name), secret="not-the-secret")
    assert refused.status_code == 401 and "signature" in refused.json()["error"]
    assert live.get_json("/runs") == {"runs": []}


def test_without_a_webhook_secret_github_is_live_and_only_its_webhook_is_off(
    tmp_path: Path,
    scripted_server: ScriptedModelServer,
    github: tuple[FakeGitHub, ThreadedServer],
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake, server = github
    settings, playground = server_settings(
        tmp_path,
        scripted_server,
        secrets={"GITHUB_TOKEN": TOKEN},
        github={"repo": fake.full_name, "api_url": server.url},
    )
    live = start_server(settings, playground, sample_incident_script(), scripted_server)
    try:
        banner = capsys.readouterr().err
        assert "github live (ok)" in banner and "/webhook/github off (no GITHUB_WEBHOOK_SECRET" in banner
        github_health = live.get_json("/health")["integrations"]["github"]
        assert (github_health["mode"], github_health["state"]) == ("live", "ok")
        refused = deliver(live, workflow_run_payload(repo=fake.full_name))
        assert refused.status_code == 404 and "GITHUB_WEBHOOK_SECRET is not set" in refused.json()["error"]
        assert live.get_json("/runs") == {"runs": []}
    finally:
        live.server.stop()
