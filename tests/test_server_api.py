"""The operator API of the real server (uvicorn on 127.0.0.1): runs, decisions, events, auth, bad input."""

import gc
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from client.scripted import ScriptedModelServer
from client.scripted.threaded import ThreadedServer
from config import Settings
from demo.incident import DECLINED, sample_incident_script
from main import create_app
from tests.server_fixtures import (
    LiveServer,
    all_delivered,
    declined_revision_server,
    second_revision,
    server_settings,
    start_server,
)

pytest_plugins = ["tests.model_fixtures"]

NEW_RUN = {"title": "Completing a todo twice reopens it", "description": "Mark done twice: it reopens."}


@pytest.fixture
def live(tmp_path: Path, scripted_server: ScriptedModelServer) -> Iterator[LiveServer]:
    settings, playground = server_settings(tmp_path, scripted_server, server={"max_description_chars": 500})
    server = start_server(settings, playground, sample_incident_script(), scripted_server)
    yield server
    server.server.stop()


def test_health_names_the_model_and_each_integration(live: LiveServer) -> None:
    with live.client(token=None) as client:
        health = client.get("/health").json()
    assert health["status"] == "ok"
    assert health["model"].startswith("scripted-pipeline at http://127.0.0.1")
    assert {name: entry["mode"] for name, entry in health["integrations"].items()} == {
        "slack": "local",
        "github": "local",
        "jira": "local",
        "sentry": "local",
        "pagerduty": "local",
    }
    assert health["integrations"]["github"]["webhook"] == "off (GitHub is local)"
    assert health["integrations"]["sentry"]["webhook"] == "off (no SENTRY_CLIENT_SECRET)"
    assert health["sandbox"]["sandboxed"] is True
    assert health["sandbox"]["description"].startswith("bubblewrap 0.")


def test_a_server_that_is_its_whole_process_leaves_its_start_up_out_of_garbage_collection(
    tmp_path: Path, scripted_server: ScriptedModelServer
) -> None:
    """A full collection that walked the modules, routes and schemas held every request for 100-150 ms
    (server/running.py); ``nightshift serve`` and ``uvicorn main:app`` freeze them once the server is
    up, and give them back when it stops."""
    settings, _ = server_settings(tmp_path, scripted_server)
    server = ThreadedServer(create_app(settings, whole_process=True), name="nightshift server", lifespan=True)
    settings.server.port, settings.server.public_url = server.port, server.url
    server.start()
    try:
        assert httpx.get(f"{server.url}/health").status_code == 200
        frozen = gc.get_freeze_count()
    finally:
        server.stop()
    assert frozen > 50_000, f"only {frozen} objects frozen while the server ran"
    assert gc.get_freeze_count() == 0


def test_an_unsandboxed_server_says_so_in_its_banner_and_health(
    tmp_path: Path, scripted_server: ScriptedModelServer, capsys: pytest.CaptureFixture[str]
) -> None:
    settings, playground = server_settings(tmp_path, scripted_server, safety={"sandbox": "none"})
    server = start_server(settings, playground, sample_incident_script(), scripted_server)
    try:
        with server.client(token=None) as client:
            health = client.get("/health").json()
    finally:
        server.server.stop()
    assert health["sandbox"] == {
        "sandboxed": False,
        "description": 'UNSANDBOXED: commands run as the bot ([safety] sandbox = "none")',
    }
    assert "sandbox: UNSANDBOXED" in capsys.readouterr().err


def event_ids(stream: str) -> list[int]:
    return [int(line[4:]) for line in stream.splitlines() if line.startswith("id: ")]


def test_a_run_through_the_api_from_start_to_pull_request(live: LiveServer) -> None:
    with live.client() as client:
        created = client.post("/runs", json={**NEW_RUN, "key": "TODO-42", "priority": "High"})
        assert created.status_code == 202, created.text
        run_id = created.json()["run_id"]
        assert f"/ui/runs/{run_id}?sig=" in created.json()["url"]
        run = live.wait_for_run(run_id, lambda r: r["status"] == "awaiting_decision")
        assert set(run["agents"]) == {"triage", "code", "test", "pr"}
        for agent in run["agents"].values():
            assert agent["status"] == "submitted" and agent["turns"] > 0 and agent["tokens"] > 0
            started, finished = (datetime.fromisoformat(agent[k]) for k in ("started_at", "finished_at"))
            assert started.tzinfo is not None and finished >= started  # ISO 8601 with a zone
        assert (
            run["verification"]["verdict"] == "verified" and run["fix"]["diff"] and run["tests"]["test_names"]
        )
        assert client.get("/runs").json()["runs"][0]["id"] == run_id
        assert "Incident report" in client.get(f"/runs/{run_id}/report").text

        with client.stream("GET", f"/runs/{run_id}/events") as stream:
            kinds = []
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    kinds.append(json.loads(line[6:])["kind"])
                if "briefing" in kinds:
                    break
        assert kinds[0] == "run_started" and {"turn_started", "tool_started", "verified"} <= set(kinds)

        with ThreadPoolExecutor(1) as pool:  # followed live: the stream ends when the run does
            followed = pool.submit(lambda: live.get_text(f"/runs/{run_id}/events"))
            approved = client.post("/runs/latest/approve")
            assert approved.status_code == 202 and approved.json()["decision"] == "approve"
            streamed = followed.result(timeout=120)
        shipped = live.wait_for_run(run_id, all_delivered)
        assert '"pr_opened"' in streamed and '"shipped"' in streamed, "followed until settled"
        again = client.post(f"/runs/{run_id}/approve")
        assert again.status_code == 200 and again.json()["pr_url"] == shipped["pr_url"]
        cancel = client.post(f"/runs/{run_id}/cancel")
        assert cancel.status_code == 409 and "shipped" in cancel.json()["error"]
        history = live.get_text(f"/runs/{run_id}/events")  # a finished run's: its history, then the end
        followed_ids, history_ids = event_ids(streamed), event_ids(history)
        assert followed_ids == list(range(1, len(followed_ids) + 1)) == history_ids[: len(followed_ids)]


def sse_events(stream: str) -> list[tuple[int, dict[str, object]]]:
    """The (id, data) of each event of a Server-Sent Events stream."""
    found: list[tuple[int, dict[str, object]]] = []
    event_id = None
    for line in stream.splitlines():
        if line.startswith("id: "):
            event_id = int(line[4:])
        elif line.startswith("data: ") and event_id is not None:
            found.append((event_id, json.loads(line[6:])))
    return found


def test_a_follower_that_reconnects_with_last_event_id_gets_only_the_events_after_it(
    live: LiveServer,
) -> None:
    with live.client() as client:
        run_id = client.post("/runs", json=NEW_RUN).json()["run_id"]
        with client.stream("GET", f"/runs/{run_id}/events") as first:  # dropped after five events
            seen = []
            for line in first.iter_lines():
                seen += [int(line[4:])] if line.startswith("id: ") else []
                if len(seen) == 5:
                    break
        path, resume_from = f"/runs/{run_id}/events", {"Last-Event-ID": str(seen[-1])}
        with ThreadPoolExecutor(1) as pool:  # reconnects while the run goes on, follows it to its end
            followed = pool.submit(lambda: live.get_text(path, headers=resume_from))
            live.wait_for_run(run_id, lambda r: r["status"] == "awaiting_decision")
            assert client.post(f"/runs/{run_id}/approve").status_code == 202
            resumed = sse_events(followed.result(timeout=120))
    history = sse_events(live.get_text(path))

    assert seen == [1, 2, 3, 4, 5] and resumed[0][0] == 6
    assert resumed == history[5 : 5 + len(resumed)]
    assert any(data["kind"] == "pr_opened" for _, data in resumed), "followed to the end"
    assert sse_events(live.get_text(path, headers={"Last-Event-ID": str(history[-1][0])})) == []


def test_mutations_need_the_api_token(live: LiveServer) -> None:
    with live.client(token=None) as anonymous, live.client(token="wrong-token-000") as wrong:
        for client in (anonymous, wrong):
            refused = client.post("/runs", json=NEW_RUN)
            assert refused.status_code == 401 and "NIGHTSHIFT_API_TOKEN" in refused.json()["error"]
            assert client.post("/runs/latest/approve").status_code == 401
        assert anonymous.get("/runs").json() == {"runs": []}  # reading is open; nothing was started


@pytest.mark.parametrize(
    ("send", "status", "reason"),
    [
        ({"content": b"title=x", "headers": {"content-type": "text/plain"}}, 415, "application/json"),
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, "not valid JSON"),
        ({"json": {"description": "no title"}}, 422, "title"),
        ({"json": {"title": "x", "surprise": 1}}, 422, "surprise"),
        ({"json": {"title": "x", "key": "not a key"}}, 422, "key"),
        ({"json": {"title": "x", "description": "y" * 501}}, 413, "max_description_chars"),
        ({"json": {"title": "x", "description": "y" * 2_000_000}}, 413, "max_body_bytes"),
        ({"json": ["a", "list"]}, 422, "body"),
    ],
    ids=[
        "wrong-content-type",
        "malformed-json",
        "missing-title",
        "unknown-field",
        "bad-key",
        "too-long",
        "oversized-body",
        "not-an-object",
    ],
)
def test_bad_input_gets_a_4xx_with_a_reason_and_starts_nothing(
    live: LiveServer, send: dict[str, object], status: int, reason: str
) -> None:
    with live.client() as client:
        response = client.post("/runs", **send)  # type: ignore[arg-type]
        assert response.status_code == status, response.text
        assert reason in response.json()["error"]
        assert client.get("/runs").json() == {"runs": []}


def test_unknown_runs_and_bad_decisions(live: LiveServer) -> None:
    with live.client() as client:
        assert client.get("/runs/nope").status_code == 404
        assert client.post("/runs/nope/approve").json()["error"] == "no run with id 'nope'"
        assert client.post("/runs/latest/approve").status_code == 404
        run_id = client.post("/runs", json=NEW_RUN).json()["run_id"]
        early = client.post(f"/runs/{run_id}/approve")
        assert early.status_code == 409 and "not awaiting a decision" in early.json()["error"]
        live.wait_for_run(run_id, lambda r: r["status"] == "awaiting_decision")
        empty = client.post(f"/runs/{run_id}/request-changes", json={"feedback": ""})
        assert empty.status_code == 422 and "feedback" in empty.json()["error"]
        wrong_type = client.post(
            f"/runs/{run_id}/request-changes", content=b"x", headers={"content-type": "text/x"}
        )
        assert wrong_type.status_code == 415
        assert client.post(f"/runs/{run_id}/cancel").status_code == 202
        live.wait_for_run(run_id, lambda r: r["status"] == "cancelled")


def test_a_method_a_path_does_not_serve_gets_405_naming_those_it_does(live: LiveServer) -> None:
    with live.client() as client:
        refused = client.delete("/runs")
        unknown = client.get("/nowhere")
    assert refused.status_code == 405 and refused.headers["allow"] == "GET, POST"
    assert refused.json()["error"] == "DELETE is not served on /runs; use GET, POST"
    assert unknown.status_code == 404 and "GET /nowhere" in unknown.json()["error"]


def test_too_many_queued_runs_get_429_with_retry_after(
    tmp_path: Path, scripted_server: ScriptedModelServer
) -> None:
    settings, playground = server_settings(
        tmp_path, scripted_server, server={"max_queued_runs": 1}, workflow={"max_concurrent_runs": 1}
    )
    slow = {
        name: [t.model_copy(update={"ttft_s": 0.5}) for t in turns] * 2
        for name, turns in sample_incident_script().items()
    }
    live = start_server(settings, playground, slow, scripted_server)
    try:
        with live.client() as client:
            first = client.post("/runs", json=NEW_RUN).json()["run_id"]
            live.wait_for_run(first, lambda r: r["status"] == "running")
            second = client.post("/runs", json=NEW_RUN).json()["run_id"]  # waits for the only slot
            refused = client.post("/runs", json=NEW_RUN)
            assert refused.status_code == 429 and refused.headers["retry-after"] == "30"
            assert "already waiting" in refused.json()["error"]
            for run_id in (first, second):
                live.wait_for_run(run_id, lambda r: r["status"] == "awaiting_decision")
            assert len(client.get("/runs").json()["runs"]) == 2
    finally:
        live.server.stop()


def test_without_a_token_only_loopback_may_change_things(
    tmp_path: Path, scripted_server: ScriptedModelServer
) -> None:
    from server.access import Access, RunLinks
    from server.errors import ApiError

    settings, _ = server_settings(tmp_path, scripted_server)
    settings.secrets = type(settings.secrets)(values={})
    access = Access(settings.secrets.get("NIGHTSHIFT_API_TOKEN"), RunLinks("http://x", b"k" * 32))
    access.authorize(None, "127.0.0.1")
    access.authorize(None, "::1")
    with pytest.raises(ApiError) as refused:
        access.authorize(None, "10.1.2.3")
    assert refused.value.status == 401 and "only from this machine" in refused.value.reason
    access.authorize(None, "10.1.2.3", run_id="abc", sig=access.links.signature("abc"))  # a signed link
    with pytest.raises(ApiError):
        access.authorize(None, "10.1.2.3", run_id="abd", sig=access.links.signature("abc"))


async def test_signed_links_survive_a_restart_and_an_upgrade(tmp_path: Path) -> None:
    from server.access import shared_link_key

    fresh = Settings(data_dir=tmp_path / "fresh")
    assert await shared_link_key(fresh) == await shared_link_key(fresh)  # kept in the database
    older = Settings(data_dir=tmp_path / "older")
    older.data_dir.mkdir()
    (older.data_dir / "link.key").write_text("ab" * 32)  # where an older version kept it

    assert await shared_link_key(older) == bytes.fromhex("ab" * 32)


def test_a_concurrent_double_approval_opens_one_pull_request(live: LiveServer) -> None:
    with live.client() as client:
        run_id = client.post("/runs", json=NEW_RUN).json()["run_id"]
    live.wait_for_run(run_id, lambda r: r["status"] == "awaiting_decision")
    barrier = threading.Barrier(2)

    def click() -> int:
        with live.client() as client:
            barrier.wait()
            return client.post(f"/runs/{run_id}/approve").status_code

    with ThreadPoolExecutor(2) as pool:
        statuses = sorted(pool.map(lambda _: click(), range(2)))
    assert statuses[0] == 202 and statuses[1] in (200, 202)
    shipped = live.wait_for_run(run_id, all_delivered)
    assert [d["kind"] for d in shipped["decisions"]] == ["approve"]
    assert shipped["pr_url"] == "local://pull-requests/1"
    with live.client() as client:
        assert client.post(f"/runs/{run_id}/approve").json()["pr_url"] == shipped["pr_url"]


def test_approving_a_revision_that_changed_nothing_is_a_409_and_an_earlier_one_ships_only_by_name(
    tmp_path: Path, scripted_server: ScriptedModelServer
) -> None:
    live = declined_revision_server(tmp_path, scripted_server)
    try:
        run = second_revision(live)
        assert run["revisions"][1]["commit"] is None and run["branch"]
        with live.client() as client:
            refused = client.post(f"/runs/{run['id']}/approve")
            assert refused.status_code == 409, refused.text
            assert "changed nothing since revision 1" in refused.json()["error"]
            assert DECLINED in refused.json()["error"]
            unknown = client.post(f"/runs/{run['id']}/approve", params={"revision": 3})
            assert unknown.status_code == 409 and "no revision 3" in unknown.json()["error"]
            chosen = client.post(f"/runs/{run['id']}/approve", params={"revision": 1})
            assert chosen.status_code == 202, chosen.text
        shipped = live.wait_for_run(run["id"], all_delivered)
        assert shipped["shipped_revision"] == 1 and shipped["pr_url"] == "local://pull-requests/1"
        assert [d["ship_revision"] for d in shipped["decisions"]] == [None, 1]
    finally:
        live.server.stop()
