"""Slack end to end through the real server, the real slack_sdk client and a fake Slack Web API:
/oncall, the ack, the briefing, Approve, the PR, the message updated in place; Request changes."""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from client.scripted import ScriptedModelServer
from demo.fake_slack import (
    CHANNEL_ID,
    SIGNING_SECRET,
    TOKEN,
    FakeSlack,
    block_actions_body,
    signed_headers,
    slash_command_body,
    view_submission_body,
)
from demo.incident import (
    CODE_REVISION,
    DECLINED,
    REVISION_FEEDBACK,
    declined_revision_turns,
    sample_incident_script,
)
from documents.slack_blocks import REQUEST_CHANGES_ACTION_ID, SHIP_REVISION_ACTION_ID
from tests.server_fixtures import LiveServer, all_delivered, briefed, server_settings, start_server
from tests.waiting import wait_until

pytest_plugins = ["tests.model_fixtures"]


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def slack_server(
    tmp_path: Path,
    model: ScriptedModelServer,
    slack: FakeSlack,
    scripts: dict[str, Any] | None = None,
    **slack_settings: Any,
) -> LiveServer:
    scripts = scripts or sample_incident_script(revisions=True)
    settings, playground = server_settings(
        tmp_path,
        model,
        secrets={"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET},
        slack={"channel": CHANNEL_ID, "api_url": slack.api_url, **slack_settings},
    )
    return start_server(settings, playground, scripts, model)


@pytest.fixture
def live(tmp_path: Path, scripted_server: ScriptedModelServer, slack: FakeSlack) -> Iterator[LiveServer]:
    server = slack_server(tmp_path, scripted_server, slack)
    yield server
    server.server.stop()


def post(live: LiveServer, path: str, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    with live.client(token=None) as client:
        return client.post(path, content=body, headers=headers or signed_headers(SIGNING_SECRET, body))


def buttons(message: dict[str, Any]) -> list[str]:
    return [
        e["action_id"] for b in message.get("blocks", []) if b["type"] == "actions" for e in b["elements"]
    ]


def start_from_slack(live: LiveServer) -> tuple[str, dict[str, Any]]:
    ack = post(live, "/webhook/slack/command", slash_command_body("Completing a todo twice reopens it"))
    assert ack.status_code == 200, ack.text
    assert ack.json()["response_type"] == "ephemeral"
    run_id = live.get_json("/runs")["runs"][0]["id"]
    assert f"`{run_id}`" in ack.json()["text"]  # the ack names the run
    return run_id, live.wait_for_run(run_id, briefed)


def test_oncall_to_briefing_to_approve_to_pr_with_the_message_updated_in_place(
    live: LiveServer, slack: FakeSlack
) -> None:
    run_id, run = start_from_slack(live)
    ref = run["message_ref"]
    assert ref == f"{CHANNEL_ID}:1700000000.000100"
    briefing = slack.message(ref)
    assert buttons(briefing) == ["nightshift_approve", "nightshift_request_changes"]
    assert "verified" in str(briefing["blocks"]).lower()
    assert slack.calls_to("chat.postMessage")[0].token == TOKEN

    clicked = post(live, "/webhook/slack/actions", block_actions_body(run_id))
    assert clicked.status_code == 200 and clicked.content == b""
    shipped = live.wait_for_run(run_id, all_delivered)
    wait_until(lambda: shipped["pr_url"] in str(slack.message(ref)["blocks"]), "the message shows the PR")
    assert buttons(slack.message(ref)) == []
    assert len(slack.calls_to("chat.postMessage")) == 1  # updated in place, never reposted
    updates = [c.body for c in slack.calls_to("chat.update")]
    assert any("Approving" in str(u) for u in updates) and all(
        u["ts"] == "1700000000.000100" for u in updates
    )

    late_click = block_actions_body(run_id, trigger_id="13345224609.738474920.second")  # a late second click
    second = post(live, "/webhook/slack/actions", late_click)
    assert second.status_code == 200
    wait_until(lambda: bool(slack.calls_to("chat.postEphemeral")), "the second click is answered")
    runs = live.get_json("/runs")["runs"]
    assert len(runs) == 1 and runs[0]["pr_url"] == shipped["pr_url"]


def test_request_changes_opens_a_modal_and_sends_the_feedback_to_the_code_agent(
    live: LiveServer, slack: FakeSlack
) -> None:
    run_id, run = start_from_slack(live)
    clicked = post(
        live, "/webhook/slack/actions", block_actions_body(run_id, action_id=REQUEST_CHANGES_ACTION_ID)
    )
    assert clicked.status_code == 200
    wait_until(lambda: bool(slack.calls_to("views.open")), "views.open")
    opened = slack.calls_to("views.open")[0].body
    assert opened["trigger_id"] and opened["view"]["private_metadata"] == run_id

    empty = post(live, "/webhook/slack/actions", view_submission_body(run_id, "  "))
    assert empty.json()["response_action"] == "errors"
    submitted = post(live, "/webhook/slack/actions", view_submission_body(run_id, REVISION_FEEDBACK))
    assert submitted.status_code == 200
    second = live.wait_for_run(run_id, lambda r: r["status"] == "awaiting_decision" and r["revision"] == 2)
    assert second["decisions"][0]["feedback"] == REVISION_FEEDBACK
    assert second["message_ref"] == run["message_ref"]
    assert any("Changes requested" in str(c.body) for c in slack.calls_to("chat.update"))
    wait_until(lambda: buttons(slack.message(run["message_ref"])) != [], "revision 2 is briefed in place")


def request_changes_from_slack(live: LiveServer, run_id: str) -> dict[str, Any]:
    """Request changes through the modal, as a reviewer would; revision 2 once briefed."""
    post(live, "/webhook/slack/actions", block_actions_body(run_id, action_id=REQUEST_CHANGES_ACTION_ID))
    submitted = post(live, "/webhook/slack/actions", view_submission_body(run_id, REVISION_FEEDBACK))
    assert submitted.status_code == 200
    return live.wait_for_run(run_id, lambda r: briefed(r) and r["revision"] == 2)


def test_a_revision_that_changed_nothing_offers_no_approve_and_ships_revision_1_only_when_chosen(
    tmp_path: Path, scripted_server: ScriptedModelServer, slack: FakeSlack
) -> None:
    scripts = sample_incident_script(revisions=True)
    scripts[CODE_REVISION] = declined_revision_turns()
    live = slack_server(tmp_path, scripted_server, slack, scripts)
    try:
        run_id, run = start_from_slack(live)
        second = request_changes_from_slack(live, run_id)
        ref = run["message_ref"]
        wait_until(lambda: "did not act on the feedback" in str(slack.message(ref)), "revision 2 briefed")
        message = slack.message(ref)
        assert buttons(message) == [SHIP_REVISION_ACTION_ID, "nightshift_request_changes"]
        ship = next(e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"])
        assert (
            ship["text"]["text"].startswith("Ship revision 1 as briefed at")
            and ship["value"] == f"{run_id}:1"
        )
        assert DECLINED.replace("'", "&#x27;")[:40] in str(message) or DECLINED[:40] in str(message)

        stale = post(live, "/webhook/slack/actions", block_actions_body(run_id))  # an old Approve button
        assert stale.status_code == 200
        wait_until(lambda: bool(slack.calls_to("chat.postEphemeral")), "the refusal")
        refusal = str(slack.calls_to("chat.postEphemeral")[0].body)
        assert "changed nothing since revision 1" in refusal
        assert live.get_json(f"/runs/{run_id}")["status"] == "awaiting_decision"

        chosen = post(
            live,
            "/webhook/slack/actions",
            block_actions_body(f"{run_id}:1", action_id=SHIP_REVISION_ACTION_ID),
        )
        assert chosen.status_code == 200
        shipped = live.wait_for_run(run_id, all_delivered)
        assert shipped["shipped_revision"] == 1 and shipped["revision"] == second["revision"] == 2
        wait_until(lambda: "It has shipped revision 1 as briefed at" in str(slack.message(ref)), "shipped")
        assert any("Shipping revision 1" in str(c.body) for c in slack.calls_to("chat.update"))
    finally:
        live.server.stop()


def test_an_approver_not_on_the_list_is_refused_and_nothing_changes(
    tmp_path: Path, scripted_server: ScriptedModelServer, slack: FakeSlack
) -> None:
    live = slack_server(tmp_path, scripted_server, slack, approvers=["U0BOSS"])
    try:
        run_id, run = start_from_slack(live)
        refused = post(live, "/webhook/slack/actions", block_actions_body(run_id))
        assert refused.status_code == 200
        wait_until(lambda: bool(slack.calls_to("chat.postEphemeral")), "an ephemeral refusal")
        assert "U0BOSS" in str(slack.calls_to("chat.postEphemeral")[0].body)
        assert live.get_json(f"/runs/{run_id}")["status"] == "awaiting_decision"
        assert buttons(slack.message(run["message_ref"])) != []
    finally:
        live.server.stop()


@pytest.mark.parametrize("forgery", ["unsigned", "wrong-secret", "stale", "replayed"])
def test_forged_unsigned_stale_and_replayed_commands_get_401_and_start_nothing(
    live: LiveServer, forgery: str
) -> None:
    body = slash_command_body("rm -rf / please")
    headers = {
        "unsigned": {"Content-Type": "application/x-www-form-urlencoded"},
        "wrong-secret": signed_headers("0" * 32, body),
        "stale": signed_headers(SIGNING_SECRET, body, ts=int(time.time()) - 360),
        "replayed": signed_headers(SIGNING_SECRET, body),
    }[forgery]
    if forgery == "replayed":
        assert post(live, "/webhook/slack/command", body, headers).status_code == 200
        baseline = len(live.get_json("/runs")["runs"])
    else:
        baseline = 0
    refused = post(live, "/webhook/slack/command", body, headers)
    assert refused.status_code == 401 and "signature" in refused.json()["error"].lower()
    assert len(live.get_json("/runs")["runs"]) == baseline


def test_help_status_and_bad_input(live: LiveServer) -> None:
    assert "/oncall status" in post(live, "/webhook/slack/command", slash_command_body("")).json()["text"]
    assert "/oncall" in post(live, "/webhook/slack/command", slash_command_body("help")).json()["text"]
    assert (
        post(live, "/webhook/slack/command", slash_command_body("status")).json()["text"]
        == "No runs in progress."
    )
    body = b'{"text": "json is not what Slack sends"}'
    wrong = post(
        live,
        "/webhook/slack/command",
        body,
        {**signed_headers(SIGNING_SECRET, body), "Content-Type": "application/json"},
    )
    assert wrong.status_code == 415
    missing = post(live, "/webhook/slack/actions", b"nopayload=1")
    assert missing.status_code == 400 and "payload" in missing.json()["error"]
    assert live.get_json("/runs") == {"runs": []}
