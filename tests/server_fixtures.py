"""The real Nightshift server (uvicorn on 127.0.0.1, in a thread) on a playground repository.

PYTEST_DONT_REWRITE
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from client.scripted import ScriptedModelServer, Turn
from client.scripted.threaded import ThreadedServer
from config import Secrets, Settings
from demo.incident import CODE_REVISION, REVISION_FEEDBACK, declined_revision_turns, sample_incident_script
from demo.playground import Playground, create_playground
from main import create_app
from tests.pipeline_fixtures import pipeline_settings

API_TOKEN = "nightshift-test-token-4242"


def all_delivered(run: dict[str, Any]) -> bool:
    """The run is shipped and everything it sends is out: the pull request, the ticket, the messages."""
    return run["status"] == "shipped" and all(d["state"] == "delivered" for d in run["deliveries"])


def briefed(run: dict[str, Any]) -> bool:
    """The run awaits a decision and everything it sent so far is out: the briefing, the ticket's move.
    (The status changes a moment before the briefing's delivery is recorded: wait for that too.)"""
    deliveries = run["deliveries"]
    return (
        run["status"] == "awaiting_decision"
        and any(d["kind"] == "briefing" for d in deliveries)
        and all(d["state"] == "delivered" for d in deliveries)
    )


def wait_for_run(
    client: httpx.Client, run_id: str, predicate: Callable[[dict[str, Any]], bool], timeout_s: float = 120
) -> dict[str, Any]:
    """Poll ``GET /runs/{run_id}`` on ``client`` (its base URL set) until ``predicate`` holds."""
    deadline = time.monotonic() + timeout_s
    while True:
        run: dict[str, Any] = client.get(f"/runs/{run_id}").json()
        if predicate(run):
            return run
        if time.monotonic() > deadline:
            raise AssertionError(
                f"run {run_id} is {run.get('status')} after {timeout_s}s: {run.get('agents')}"
            )
        time.sleep(0.1)


@dataclass
class LiveServer:
    url: str
    playground: Playground
    settings: Settings
    server: ThreadedServer

    def client(self, *, token: str | None = API_TOKEN) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def get_json(self, path: str) -> Any:
        """GET ``path`` with the API token on a client of its own, closed at once; the JSON body."""
        with self.client() as client:
            return client.get(path).json()

    def get_text(self, path: str, headers: dict[str, str] | None = None) -> str:
        """GET ``path`` to its end (a stream until it closes) with the API token; the body."""
        with self.client() as client:
            return client.get(path, headers=headers, timeout=httpx.Timeout(10, read=120)).text

    def wait_for_run(
        self, run_id: str, predicate: Callable[[dict[str, Any]], bool], timeout_s: float = 120
    ) -> dict[str, Any]:
        with self.client() as client:
            return wait_for_run(client, run_id, predicate, timeout_s)


def server_settings(
    tmp_path: Path,
    model: ScriptedModelServer,
    *,
    secrets: dict[str, str] | None = None,
    playground: Playground | None = None,
    **overrides: Any,
) -> tuple[Settings, Playground]:
    playground = playground or create_playground(tmp_path / "playground")
    settings = pipeline_settings(playground.repo, tmp_path / "state", model.base_url)
    values = {"NIGHTSHIFT_API_TOKEN": API_TOKEN, **(secrets or {})}
    settings.secrets = Secrets(values={k: SecretStr(v) for k, v in values.items()})
    for section, fields in overrides.items():
        for name, value in fields.items():
            setattr(getattr(settings, section), name, value)
    return settings, playground


def start_server(
    settings: Settings,
    playground: Playground,
    scripts: dict[str, list[Turn]] | None,
    model: ScriptedModelServer,
) -> LiveServer:
    if scripts is not None:
        model.load(scripts)
    threaded = ThreadedServer(create_app(settings), name="nightshift server", lifespan=True)
    settings.server.port = threaded.port
    settings.server.public_url = threaded.url
    threaded.start()
    return LiveServer(threaded.url, playground, settings, threaded)


def declined_revision_server(
    tmp_path: Path, model: ScriptedModelServer, *, api_token: bool = True
) -> LiveServer:
    """A server whose scripted code agent declines the reviewer's request (``declined_revision_turns``);
    without ``api_token``, none is configured (changes are accepted from loopback only)."""
    scripts = sample_incident_script(revisions=True)
    scripts[CODE_REVISION] = declined_revision_turns()
    settings, playground = server_settings(tmp_path, model)
    if not api_token:
        settings.secrets = Secrets()
    return start_server(settings, playground, scripts, model)


def second_revision(live: LiveServer) -> dict[str, Any]:
    """A run started and sent back with ``REVISION_FEEDBACK`` through the API; revision 2, briefed."""
    with live.client() as client:
        created = client.post("/runs", json={"title": "Completing a todo twice reopens it"}).json()
        run_id = created["run_id"]
        wait_for_run(client, run_id, briefed)
        sent = client.post(f"/runs/{run_id}/request-changes", json={"feedback": REVISION_FEEDBACK})
        assert sent.status_code == 202, sent.text
        run = wait_for_run(client, run_id, lambda r: briefed(r) and r["revision"] == 2)
    return {**run, "url": created["url"]}
