"""The /oncall command and interaction payloads, parsed from the bodies Slack posts."""

import json
from typing import Any
from urllib.parse import parse_qsl

import pytest

from demo.fake_slack import (
    block_actions_body,
    block_actions_payload,
    slash_command_body,
    slash_command_form,
    view_submission_body,
    view_submission_payload,
)
from documents.slack_blocks import REQUEST_CHANGES_ACTION_ID
from integrations.slack import ButtonClick, FeedbackSubmitted, SlashCommand, parse_command, parse_interaction


def command(text: str) -> SlashCommand:
    """Parse ``/oncall <text>`` from the raw body, as the HTTP adapter does."""
    return parse_command(dict(parse_qsl(slash_command_body(text).decode(), keep_blank_values=True)))


def payload_of(body: bytes) -> str:
    return dict(parse_qsl(body.decode()))["payload"]


def reason(payload: Any) -> str:
    with pytest.raises(ValueError) as caught:
        parse_interaction(payload if isinstance(payload, str) else json.dumps(payload))
    return str(caught.value)


@pytest.mark.parametrize("text", ["", "   ", "help", "HELP"])
def test_no_text_or_help_asks_for_help(text: str) -> None:
    assert command(text).subcommand == "help"


def test_status_with_and_without_a_run_id() -> None:
    assert (command("status").subcommand, command("status").text) == ("status", "")
    assert (command("status run-7f3a").subcommand, command("status run-7f3a").text) == ("status", "run-7f3a")


def test_free_text_starts_a_run_with_who_and_where_it_came_from() -> None:
    parsed = command("checkout returns 500 when the cart has <3 items & a coupon")

    assert parsed == SlashCommand(
        subcommand="run",
        text="checkout returns 500 when the cart has <3 items & a coupon",
        jira_key=None,
        user_id="U0ALICE",
        user_name="alice",
        channel_id="C0ONCALL",
        response_url="https://hooks.slack.com/commands/T0NIGHTS/1/abc",
        trigger_id="13345224609.738474920.8088930838d88f008e0",
    )


def test_a_leading_run_word_is_dropped_and_a_bare_run_is_refused() -> None:
    assert command("run   the nightly export is empty").text == "the nightly export is empty"
    with pytest.raises(ValueError, match="needs the incident"):
        command("run")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("PAY-42", "PAY-42"),
        ("PAY-42 refunds show as charges", "PAY-42"),
        ("run OPS2-7: disk full", "OPS2-7"),
        ("pay-42 lower case is not a key", None),
        ("PAY-42x is not a key", None),
        ("see PAY-42 (not leading)", None),
        ("P-1 one letter project", None),
    ],
)
def test_a_leading_jira_key_is_detected(text: str, key: str | None) -> None:
    assert command(text).jira_key == key


def test_a_command_without_user_or_channel_is_refused_with_the_field() -> None:
    form = slash_command_form("deploy")
    del form["user_id"]
    with pytest.raises(ValueError, match="slash command form has no user_id"):
        parse_command(form)
    with pytest.raises(ValueError, match="slash command form has no channel_id"):
        parse_command({**slash_command_form("deploy"), "channel_id": ""})


def test_an_approve_click_is_parsed_from_the_form_body() -> None:
    click = parse_interaction(payload_of(block_actions_body("run-7f3a")))

    assert click == ButtonClick(
        kind="approve",
        run_id="run-7f3a",
        user_id="U0ALICE",
        user_name="alice",
        channel_id="C0ONCALL",
        message_ts="1700000000.000100",
        trigger_id="13345224609.738474920.8088930838d88f008e1",
        response_url="https://hooks.slack.com/actions/T0NIGHTS/2/def",
    )


def test_a_request_changes_click_is_parsed() -> None:
    click = parse_interaction(json.dumps(block_actions_payload("run-1", action_id=REQUEST_CHANGES_ACTION_ID)))

    assert isinstance(click, ButtonClick) and (click.kind, click.run_id) == ("request_changes", "run-1")


def test_a_feedback_submission_carries_the_run_from_private_metadata() -> None:
    submitted = parse_interaction(payload_of(view_submission_body("run-7f3a", "  Also handle '+' signs.\n")))

    assert submitted == FeedbackSubmitted(
        run_id="run-7f3a", user_id="U0ALICE", user_name="alice", feedback="Also handle '+' signs."
    )
    empty = parse_interaction(json.dumps(view_submission_payload("run-7f3a", None)))
    assert isinstance(empty, FeedbackSubmitted) and empty.feedback == ""


def test_malformed_payloads_are_refused_with_a_reason() -> None:
    click = block_actions_payload("run-1")
    view = view_submission_payload("run-1", "x")

    assert reason("payload=not json").startswith("interaction payload is not JSON")
    assert reason([click]) == "interaction payload is not a JSON object"
    assert reason({**click, "type": "message_action"}) == "unsupported interaction type 'message_action'"
    assert reason({**click, "actions": []}) == "block_actions payload has no actions"
    assert reason({**click, "actions": [{**click["actions"][0], "action_id": "other_app"}]}) == (
        "unknown action 'other_app'"
    )
    assert reason({**click, "actions": [{**click["actions"][0], "value": ""}]}) == (
        "interaction payload has no value"
    )
    assert reason({**click, "user": {"name": "alice"}}) == "interaction payload has no user.id"
    assert reason({**click, "container": {}, "channel": None}) == (
        "interaction payload has no container.channel_id"
    )
    assert reason({**view, "view": {**view["view"], "callback_id": "other"}}) == "unknown view 'other'"
    assert reason({**view, "view": {**view["view"], "private_metadata": ""}}) == (
        "interaction payload has no view.private_metadata"
    )
    assert reason({**view, "view": {**view["view"], "state": {"values": {}}}}).startswith(
        "view_submission payload has no view.state.values.feedback.text"
    )
