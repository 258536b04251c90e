"""kill -9 of a real `nightshift serve` while its deliveries hang (each one's request reached the service,
its answer did not come back), then a restart: the briefing and the pull request each land exactly once."""

import asyncio
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from client.scripted import ScriptedModelServer
from demo.fake_slack import CHANNEL_ID, SIGNING_SECRET, FakeSlack
from demo.fake_slack import TOKEN as SLACK_TOKEN
from demo.incident import sample_incident_script
from demo.playground import create_playground, environment_toml
from demo.serving import serving
from store.runs import Store, database_url
from tests.fakes.github import FakeGitHub
from tests.fakes.outage import Outage
from tests.server_fixtures import all_delivered, wait_for_run

pytest_plugins = ["tests.model_fixtures"]

GITHUB_TOKEN = "ghp_restart0123456789"


def until(condition: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.05)


def test_kill_9_while_deliveries_hang_then_a_restart_gives_each_one_effect(
    tmp_path: Path, scripted_server: ScriptedModelServer
) -> None:
    playground = create_playground(tmp_path / "playground")
    config = tmp_path / "nightshift.toml"
    config.write_text(
        f"{environment_toml()}\n[workflow]\ndelivery_attempt_timeout_s = 1.0\n"
        "delivery_backoff_s = 0.1\ndelivery_backoff_max_s = 0.4\n"
    )
    scripted_server.load(sample_incident_script())
    github = FakeGitHub(token=GITHUB_TOKEN)
    with (
        FakeSlack() as slack,
        github.serve() as github_server,
        Outage(slack.url, hang_s=5) as slack_proxy,
        Outage(github_server.url, hang_s=5) as github_proxy,
    ):
        env = {
            "OPENAI_BASE_URL": scripted_server.base_url,
            "NIGHTSHIFT_MODEL": "scripted-restart",
            "NIGHTSHIFT_REPO": str(playground.repo),
            "NIGHTSHIFT_DATA_DIR": str(tmp_path / "state"),
            "NIGHTSHIFT_CONFIG": str(config),
            "SLACK_BOT_TOKEN": SLACK_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_CHANNEL": CHANNEL_ID,
            "SLACK_API_URL": f"{slack_proxy.url}/api/",
            "GITHUB_TOKEN": GITHUB_TOKEN,
            "GITHUB_REPO": github.full_name,
            "GITHUB_API_URL": github_proxy.url,
        }
        slack_proxy.fail("hang")  # the briefing is posted, but Slack's answer never comes back
        (tmp_path / "first").mkdir()
        with (
            serving(env, tmp_path / "first") as first,
            httpx.Client(base_url=first.url, timeout=10) as client,
        ):
            run_id = client.post("/runs", json={"title": "Completing a todo twice reopens it"}).json()[
                "run_id"
            ]
            wait_for_run(client, run_id, lambda run: run["status"] == "awaiting_decision")
            until(lambda: len(slack.posted_briefings()) == 1, "the briefing reached Slack")
            github_proxy.fail("hang", only="POST /pulls")  # the pull request is opened, the answer is lost
            assert client.post(f"/runs/{run_id}/approve").status_code == 202
            until(lambda: len(github.pulls) == 1, "the pull request reached GitHub")
            os.kill(first.pid, signal.SIGKILL)
        store = Store(database_url(tmp_path / "state", None))
        try:
            killed = asyncio.run(store.get(run_id))
        finally:
            store.close()
        assert killed is not None and (killed.message_ref, killed.pr_url) == (None, None)  # both unknown

        slack_proxy.restore()
        github_proxy.restore()
        (tmp_path / "second").mkdir()
        with (
            serving(env, tmp_path / "second") as second,
            httpx.Client(base_url=second.url, timeout=10) as client,
        ):
            run = wait_for_run(client, run_id, all_delivered, timeout_s=60)

        assert len(github.pulls) == 1 and run["pr_url"].endswith(f"/pull/{github.pulls[0]['number']}")
        assert len(github.calls_to(f"POST /repos/{github.full_name}/pulls")) == 1  # found, not created again
        assert len(slack.posted_briefings()) == 1  # found again by its metadata, updated in place
        message = slack.message(run["message_ref"])
        assert run["pr_url"] in str(message["blocks"]) and "actions" not in str(message["blocks"])
