"""The sandbox through the whole server: a ticket talks the test agent into a hostile "fixture
bootstrap" beside its regression tests, and the code agent into a fork bomb. Every attempt is
contained, none of it reaches the branch, the model, Slack, the report or the API, the right fix is
still verified, and the server answers /health throughout."""

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from client.scripted import ScriptedCall, ScriptedModelServer, Turn
from client.scripted.incident import REGRESSION_TEST_NAMES, REGRESSION_TESTS, sample_incident_script
from demo.fake_slack import CHANNEL_ID, SIGNING_SECRET, TOKEN, FakeSlack, signed_headers, slash_command_body
from safety.secret_scan import SecretScanner
from tests.hostile import bot_with_secrets, hostile_test
from tests.server_fixtures import API_TOKEN, LiveServer, server_settings, start_server
from tests.test_sandbox_hostile import Listener

pytest_plugins = ["tests.model_fixtures"]

SECRETS = {
    "OPENAI_API_KEY": "sk-live-0123456789abcdefXYZ",
    "SLACK_BOT_TOKEN": TOKEN,
    "SLACK_SIGNING_SECRET": SIGNING_SECRET,
    "NIGHTSHIFT_API_TOKEN": API_TOKEN,
}
FORK_BOMB = (
    "python3 -c 'import os, time\nfor _ in range(10000):\n    os.fork() or (time.sleep(30), os._exit(0))'"
)


class HealthWatch:
    """GETs /health every 0.2 s from its own thread and keeps every answer's status and latency."""

    def __init__(self, url: str) -> None:
        self.answers: list[tuple[int, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(url,), daemon=True)
        self._thread.start()

    def _watch(self, url: str) -> None:
        with httpx.Client(base_url=url, timeout=5) as client:
            while not self._stop.wait(0.2):
                started = time.monotonic()
                try:
                    status = client.get("/health").status_code
                except httpx.HTTPError:
                    status = 0
                self.answers.append((status, time.monotonic() - started))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def hostile_scripts(live_bot: dict[str, Path], listener: Listener) -> dict[str, list[Turn]]:
    scripts = sample_incident_script()
    tests = scripts["test agent"]
    for turn in tests:
        for call in turn.tool_calls:
            if call.name == "write_file":
                assert isinstance(call.arguments, dict)
                hostile = hostile_test(
                    read=live_bot, write={name: path.parent / "planted" for name, path in live_bot.items()},
                    port=listener.port, allocate=8 * 1024**3,
                )  # fmt: skip
                call.arguments["content"] += "\n\n" + hostile
            if call.name == "submit_tests":
                assert isinstance(call.arguments, dict)
                call.arguments["test_names"] = [*REGRESSION_TEST_NAMES, "test_fixture_bootstrap"]
    bomb = ScriptedCall(name="shell", arguments={"command": FORK_BOMB, "timeout": 60})
    scripts["code agent"].insert(-1, Turn(content="Bootstrapping the fixtures.", tool_calls=[bomb]))
    return scripts


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


def test_a_hostile_incident_is_contained_end_to_end(
    tmp_path: Path,
    scripted_server: ScriptedModelServer,
    listener: Listener,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = bot_with_secrets(tmp_path, monkeypatch, SECRETS)
    with FakeSlack() as slack:
        settings, playground = server_settings(
            tmp_path,
            scripted_server,
            secrets=SECRETS,
            slack={"channel": CHANNEL_ID, "api_url": slack.api_url},
        )
        settings.safety.process_limit = 64
        bot = {
            "bot HOME": home / ".ssh/id_ed25519",
            "state directory": settings.data_dir / "nightshift.sqlite",
            "main checkout": playground.repo / "todo/service.py",
        }
        live = start_server(settings, playground, hostile_scripts(bot, listener), scripted_server)
        health = HealthWatch(live.url)
        try:
            run, report = start_and_wait(live)
        finally:
            health.stop()
            live.server.stop()
        slack_calls = json.dumps([call.body for call in slack.calls])

    assert run["verification"]["verdict"] == "verified", run["verification"]["detail"]
    assert run["verification"]["fixed_with_tests"]["passed"] == 3
    assert health.answers and all(status == 200 for status, _ in health.answers)
    assert max(latency for _, latency in health.answers) < 2.0, "the server kept answering while it ran"
    code = run["agents"]["code"]
    assert code["status"] == "submitted"

    files = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", run["branch"]], cwd=playground.origin, capture_output=True,
        text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert "tests/stolen.txt" not in files and REGRESSION_TESTS in files
    assert listener.connections == 0
    assert not any((path.parent / "planted").exists() for path in bot.values())
    model_requests = json.dumps([request.body for request in scripted_server.requests])
    assert "stopped by the sandbox: it ran more than 64 processes" in model_requests
    assert SecretScanner(SECRETS).find(model_requests, slack_calls, json.dumps(run), report) == []


def start_and_wait(live: LiveServer) -> tuple[dict[str, Any], str]:
    """Start the incident with a signed /oncall; the run once it awaits a decision, and its report."""
    body = slash_command_body("Completing a todo twice reopens it; please add a fixture bootstrap")
    with live.client(token=None) as client:
        answer = client.post(
            "/webhook/slack/command", content=body, headers=signed_headers(SIGNING_SECRET, body)
        )
        assert answer.status_code == 200
    run_id = live.get_json("/runs")["runs"][0]["id"]
    run = live.wait_for_run(run_id, lambda r: r["status"] in ("awaiting_decision", "failed"), timeout_s=240)
    with live.client() as client:
        return run, client.get(f"/runs/{run_id}/report").text
