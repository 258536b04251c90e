"""Slack over Socket Mode, end to end: the real server with SLACK_APP_TOKEN and no public URL, slack_sdk's
own Socket Mode client, and a fake Slack that speaks the envelope protocol (demo/fake_slack_socket.py).
A command, an approval and a Request changes modal behave as over HTTP; a dropped connection comes back
and nothing is lost or done twice."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from client.scripted import ScriptedModelServer
from demo.fake_slack import CHANNEL_ID, TOKEN, FakeSlack, block_actions_payload, view_submission_payload
from demo.fake_slack_socket import APP_TOKEN, FakeSocketMode
from demo.incident import REVISION_FEEDBACK, sample_incident_script
from documents.slack_blocks import REQUEST_CHANGES_ACTION_ID
from tests.server_fixtures import LiveServer, all_delivered, briefed, server_settings, start_server
from tests.test_server_slack import buttons
from tests.waiting import wait_until

pytest_plugins = ["tests.model_fixtures"]


@pytest.fixture
def socket() -> FakeSocketMode:
    return FakeSocketMode()


@pytest.fixture
def slack(socket: FakeSocketMode) -> Iterator[FakeSlack]:
    with FakeSlack(socket=socket) as fake:
        yield fake


def socket_server(
    tmp_path: Path, model: ScriptedModelServer, slack: FakeSlack, **slack_settings: Any
) -> LiveServer:
    settings, playground = server_settings(
        tmp_path,
        model,
        secrets={"SLACK_BOT_TOKEN": TOKEN, "SLACK_APP_TOKEN": APP_TOKEN},  # no signing secret: no HTTP
        slack={"channel": CHANNEL_ID, "api_url": slack.api_url, **slack_settings},
    )
    return start_server(settings, playground, sample_incident_script(revisions=True), model)


@pytest.fixture
def live(tmp_path: Path, scripted_server: ScriptedModelServer, slack: FakeSlack) -> Iterator[LiveServer]:
    server = socket_server(tmp_path, scripted_server, slack)
    yield server
    server.server.stop()


def socket_health(live: LiveServer) -> dict[str, Any]:
    health: dict[str, Any] = live.get_json("/health")["integrations"]["slack"]["socket_mode"]
    return health


def start_over_socket(live: LiveServer, socket: FakeSocketMode) -> str:
    envelope = socket.command("Completing a todo twice reopens it")
    ack = socket.wait_for_ack(envelope)
    assert not ack.late, ack
    assert ack.payload is not None and ack.payload["response_type"] == "ephemeral"
    run_id = live.get_json("/runs")["runs"][0]["id"]
    assert f"`{run_id}`" in ack.payload["text"]  # the acknowledgement names the run, as over HTTP
    return run_id


def test_a_command_and_an_approval_over_socket_mode_behave_as_over_http(
    live: LiveServer, slack: FakeSlack, socket: FakeSocketMode
) -> None:
    socket.wait_for_hellos(1)
    wait_until(lambda: socket_health(live)["state"] == "connected", "/health shows the connection")
    http = live.client(token=None).post("/webhook/slack/command", content=b"text=x")
    assert http.status_code == 404 and "Socket Mode" in http.json()["error"]  # no public URL needed

    run_id = start_over_socket(live, socket)
    run = live.wait_for_run(run_id, briefed)
    ref = run["message_ref"]
    assert buttons(slack.message(ref)) == ["nightshift_approve", "nightshift_request_changes"]

    click = socket.wait_for_ack(socket.interaction(block_actions_payload(run_id)))
    assert click.payload is None and not click.late
    shipped = live.wait_for_run(run_id, all_delivered)
    wait_until(lambda: shipped["pr_url"] in str(slack.message(ref)["blocks"]), "the message shows the PR")
    assert buttons(slack.message(ref)) == []
    assert len(slack.calls_to("chat.postMessage")) == 1
    assert [d["kind"] for d in shipped["decisions"]] == ["approve"]
    assert sum("Approving" in str(c.body) for c in slack.calls_to("chat.update")) == 1
    assert len(live.get_json("/runs")["runs"]) == 1


def test_request_changes_over_socket_mode_opens_the_modal_and_its_submission_starts_the_revision(
    live: LiveServer, slack: FakeSlack, socket: FakeSocketMode
) -> None:
    socket.wait_for_hellos(1)
    run_id = start_over_socket(live, socket)
    run = live.wait_for_run(run_id, briefed)

    clicked = socket.interaction(block_actions_payload(run_id, action_id=REQUEST_CHANGES_ACTION_ID))
    assert not socket.wait_for_ack(clicked).late
    wait_until(lambda: bool(slack.calls_to("views.open")), "views.open")
    assert slack.calls_to("views.open")[0].body["view"]["private_metadata"] == run_id

    empty = socket.wait_for_ack(socket.interaction(view_submission_payload(run_id, "  ")))
    assert empty.payload is not None and empty.payload["response_action"] == "errors"
    submitted = socket.wait_for_ack(socket.interaction(view_submission_payload(run_id, REVISION_FEEDBACK)))
    assert not submitted.late and (submitted.payload or {}).get("response_action") != "errors"
    second = live.wait_for_run(run_id, lambda r: briefed(r) and r["revision"] == 2)
    assert [(d["kind"], d["feedback"]) for d in second["decisions"]] == [
        ("request_changes", REVISION_FEEDBACK)
    ]
    assert second["message_ref"] == run["message_ref"]
    assert any("Changes requested" in str(c.body) for c in slack.calls_to("chat.update"))
    assert len(slack.calls_to("chat.postMessage")) == 1 and len(live.get_json("/runs")["runs"]) == 1


def test_a_dropped_connection_reconnects_and_nothing_is_lost_or_done_twice(
    live: LiveServer, slack: FakeSlack, socket: FakeSocketMode
) -> None:
    socket.wait_for_hellos(1)
    run_id = start_over_socket(live, socket)
    live.wait_for_run(run_id, lambda run: run["status"] in ("running", "verifying"))
    socket.drop()  # mid-run
    status = socket.command("status")  # sent while the connection is down, or as it comes back
    socket.wait_for_hellos(2)
    assert "`" + run_id + "`" in str(socket.wait_for_ack(status).payload)
    run = live.wait_for_run(run_id, briefed)

    # The approval goes out and its connection closes before the acknowledgement can arrive: Slack
    # sends it again on the next connection, with the same envelope id.
    click = socket.interaction(block_actions_payload(run_id), drop_after=True)
    socket.wait_for_hellos(3)
    assert not socket.wait_for_ack(click).late
    assert socket.copies(click) == 2
    shipped = live.wait_for_run(run_id, all_delivered)
    assert [d["kind"] for d in shipped["decisions"]] == ["approve"]
    assert sum("Approving" in str(c.body) for c in slack.calls_to("chat.update")) == 1
    assert len(slack.calls_to("chat.postMessage")) == 1
    assert len(live.get_json("/runs")["runs"]) == 1
    assert shipped["message_ref"] == run["message_ref"] and shipped["pr_url"]
    wait_until(lambda: socket_health(live)["state"] == "connected", "connected again")
    assert socket_health(live)["reconnects"] == 2


def test_only_approvers_decide_over_socket_mode_and_a_modal_gets_its_errors_in_the_ack(
    tmp_path: Path, scripted_server: ScriptedModelServer, slack: FakeSlack, socket: FakeSocketMode
) -> None:
    live = socket_server(tmp_path, scripted_server, slack, approvers=["U0BOSS"])
    try:
        socket.wait_for_hellos(1)
        run_id = start_over_socket(live, socket)
        run = live.wait_for_run(run_id, briefed)
        assert socket.wait_for_ack(socket.interaction(block_actions_payload(run_id))).payload is None
        wait_until(lambda: bool(slack.calls_to("chat.postEphemeral")), "an ephemeral refusal")
        assert "U0BOSS" in str(slack.calls_to("chat.postEphemeral")[0].body)
        submitted = socket.wait_for_ack(socket.interaction(view_submission_payload(run_id, "do better")))
        assert submitted.payload is not None and submitted.payload["response_action"] == "errors"
        assert "U0BOSS" in submitted.payload["errors"]["feedback"]
        assert live.get_json(f"/runs/{run_id}")["status"] == "awaiting_decision"
        assert buttons(slack.message(run["message_ref"])) != []
    finally:
        live.server.stop()


def test_a_refused_app_token_leaves_the_server_up_and_health_says_why(
    tmp_path: Path, scripted_server: ScriptedModelServer
) -> None:
    with FakeSlack(socket=FakeSocketMode(app_token="xapp-1-A0NIGHTAPP-another-app")) as slack:
        live = socket_server(tmp_path, scripted_server, slack)
        try:
            wait_until(lambda: socket_health(live).get("last_error") is not None, "the refusal is shown")
            health = socket_health(live)
            assert health["state"] == "connecting" and health["connected_since"] is None
            assert "invalid_auth" in health["last_error"] and "SLACK_APP_TOKEN" in health["last_error"]
            assert APP_TOKEN not in str(live.get_json("/health"))
        finally:
            live.server.stop()
