"""kill -9 of a real `nightshift serve` during a review round on its pull request, then a restart: the round
completes, with one commit on the branch and one reply per thread."""

import json
import os
import signal
import subprocess
from pathlib import Path

import httpx

from client.scripted import ScriptedModelServer
from demo.incident import sample_incident_script
from demo.playground import create_playground, environment_toml
from demo.serving import serving
from tests.fakes.github import FakeGitHub, signed_headers
from tests.fakes.github_reviews import review_payload
from tests.server_fixtures import all_delivered, wait_for_run

SECRET = "github-webhook-secret-restart"
TOKEN = "ghp_reviewrestart0123456789"


def revisions(origin: Path, branch: str) -> list[str]:
    out = subprocess.run(
        ["git", "-C", str(origin), "rev-list", branch], check=True, capture_output=True, text=True
    )
    return out.stdout.split()


def test_kill_9_during_a_review_round_then_a_restart_completes_it_once(tmp_path: Path) -> None:
    playground = create_playground(tmp_path / "playground")
    config = tmp_path / "nightshift.toml"
    config.write_text(f"{environment_toml()}\n[workflow]\nmax_fix_attempts = 0\n")
    github = FakeGitHub(token=TOKEN)
    with (
        ScriptedModelServer(sample_incident_script(revisions=True), per_conversation=True) as model,
        github.serve() as github_server,
    ):
        env = {
            "OPENAI_BASE_URL": model.base_url,
            "NIGHTSHIFT_MODEL": "scripted-review-restart",
            "NIGHTSHIFT_REPO": str(playground.repo),
            "NIGHTSHIFT_DATA_DIR": str(tmp_path / "state"),
            "NIGHTSHIFT_CONFIG": str(config),
            "GITHUB_TOKEN": TOKEN,
            "GITHUB_REPO": github.full_name,
            "GITHUB_API_URL": github_server.url,
            "GITHUB_WEBHOOK_SECRET": SECRET,
        }
        (tmp_path / "first").mkdir()
        with (
            serving(env, tmp_path / "first") as first,
            httpx.Client(base_url=first.url, timeout=30) as client,
        ):
            run_id = client.post("/runs", json={"title": "Completing a todo twice reopens it"}).json()[
                "run_id"
            ]
            wait_for_run(client, run_id, lambda run: run["status"] == "awaiting_decision")
            assert client.post(f"/runs/{run_id}/approve").status_code == 202
            run = wait_for_run(client, run_id, all_delivered)
            pull = github.pulls[0]
            before = revisions(playground.origin, run["branch"])
            comments = [
                github.add_review_comment(pull["number"], 88_001, path="todo/service.py", line=30, body=text)
                for text in ("Say that completing is idempotent.", "In the docstring, please.")
            ]
            body = json.dumps(review_payload(pull, github.full_name, review_id=88_001)).encode()
            headers = signed_headers(SECRET, body, event="pull_request_review")
            assert client.post("/webhook/github", content=body, headers=headers).status_code == 202
            wait_for_run(client, run_id, lambda run: run["status"] in ("revising", "verifying"), timeout_s=60)
            os.kill(first.pid, signal.SIGKILL)

        (tmp_path / "second").mkdir()
        with (
            serving(env, tmp_path / "second") as second,
            httpx.Client(base_url=second.url, timeout=30) as client,
        ):
            done = wait_for_run(
                client,
                run_id,
                lambda run: (
                    run["status"] == "shipped"
                    and bool(run["reviews"]["rounds"])
                    and run["reviews"]["rounds"][0]["finished_at"] is not None
                    and all(d["state"] == "delivered" for d in run["deliveries"])
                ),
                timeout_s=120,
            )
        after = revisions(playground.origin, run["branch"])
        assert len(after) == len(before) + 1 and after[1:] == before
        assert done["reviews"]["rounds"][0]["commit"] == after[0] and len(done["reviews"]["rounds"]) == 1
        for comment in comments:
            assert len(github.replies(comment["id"])) == 1
        assert len(github.conversation(pull["number"])) == 1
