"""What Slack posts to us, parsed into small typed values: the /oncall command and interactions.

Verify the request first (``integrations.slack_verify``); these functions only read the shape. A
payload that is not what Slack sends raises ValueError saying which field is wrong, so the HTTP
adapter can answer 400 with that reason.

- ``parse_command``: the slash command's form -> ``SlashCommand`` (``help``, ``status`` or ``run``).
- ``parse_interaction``: the ``payload`` form field (JSON) -> ``ButtonClick`` (a ``block_actions``
  click on Approve, Ship revision N or Request changes) or ``FeedbackSubmitted`` (the feedback
  modal's ``view_submission``); ``interaction_from`` the same from the decoded payload (Socket Mode).
"""

import html
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from documents.slack_blocks import (
    APPROVE_ACTION_ID,
    FEEDBACK_ACTION_ID,
    FEEDBACK_BLOCK_ID,
    FEEDBACK_CALLBACK_ID,
    REQUEST_CHANGES_ACTION_ID,
    SHIP_REVISION_ACTION_ID,
)

JIRA_KEY = re.compile(r"^[A-Z][A-Z0-9]+-\d+\b")
"""A leading Jira issue key, e.g. ``PAY-42`` in ``/oncall PAY-42 refunds show as charges``."""

Subcommand = Literal["help", "status", "run"]
ButtonKind = Literal["approve", "ship_revision", "request_changes"]

_BUTTONS: dict[str, ButtonKind] = {
    APPROVE_ACTION_ID: "approve",
    SHIP_REVISION_ACTION_ID: "ship_revision",
    REQUEST_CHANGES_ACTION_ID: "request_changes",
}
_SHIP_VALUE = re.compile(r"^(?P<run>[^:\s]+):(?P<revision>[1-9][0-9]{0,3})$")
_MAX_SHOWN = 60


@dataclass(frozen=True, slots=True)
class SlashCommand:
    """``/oncall [help | status [run-id] | [run] <incident text>]``."""

    subcommand: Subcommand
    text: str
    """For ``run``: the incident text (a leading ``run`` word removed); for ``status``: what follows it."""
    jira_key: str | None
    """The Jira key the incident text starts with, if any."""
    user_id: str
    user_name: str
    channel_id: str
    response_url: str
    trigger_id: str


@dataclass(frozen=True, slots=True)
class ButtonClick:
    kind: ButtonKind
    run_id: str
    user_id: str
    user_name: str
    channel_id: str
    message_ts: str
    trigger_id: str
    response_url: str
    revision: int | None = None
    """The revision a Ship revision N click names (its button's value is ``<run id>:<revision>``)."""


@dataclass(frozen=True, slots=True)
class FeedbackSubmitted:
    run_id: str
    """From the modal's ``private_metadata``."""
    user_id: str
    user_name: str
    feedback: str
    """Stripped; may be empty (whitespace only), which the service refuses in the modal."""


Interaction = ButtonClick | FeedbackSubmitted


def _field(form: Mapping[str, str], name: str) -> str:
    value = form.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"slash command form has no {name}")
    return value.strip()


def parse_command(form: Mapping[str, str]) -> SlashCommand:
    """The slash command Slack posted (form fields); ValueError naming a missing field."""
    # Slack sends &, < and > as HTML entities in the command text.
    text = html.unescape(" ".join(form.get("text", "").split()))
    word, _, rest = text.partition(" ")
    subcommand: Subcommand
    if word.lower() in ("", "help"):
        subcommand, text = "help", rest
    elif word.lower() == "status":
        subcommand, text = "status", rest
    else:
        subcommand, text = "run", (rest if word.lower() == "run" else text)
        if not text:
            raise ValueError("'/oncall run' needs the incident: what broke, and where")
    match = JIRA_KEY.match(text) if subcommand == "run" else None
    return SlashCommand(
        subcommand=subcommand,
        text=text,
        jira_key=match.group(0) if match else None,
        user_id=_field(form, "user_id"),
        user_name=form.get("user_name", "").strip() or _field(form, "user_id"),
        channel_id=_field(form, "channel_id"),
        response_url=_field(form, "response_url"),
        trigger_id=_field(form, "trigger_id"),
    )


def _lookup(data: Any, path: str) -> Any:
    for key in path.split("."):
        data = data.get(key) if isinstance(data, dict) else None
    return data


def _get(data: Any, *paths: str) -> str:
    """The first non-empty string found at one of the dotted ``paths``; ValueError naming the first."""
    for path in paths:
        value = _lookup(data, path)
        if isinstance(value, str) and value:
            return value
    raise ValueError(f"interaction payload has no {paths[0]}")


def _user(data: Any) -> tuple[str, str]:
    user_id = _get(data, "user.id")
    return user_id, _get(data, "user.username", "user.name", "user.id")


def _button_click(data: dict[str, Any]) -> ButtonClick:
    actions = data.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        raise ValueError("block_actions payload has no actions")
    action = actions[0]
    action_id = _get(action, "action_id")
    kind = _BUTTONS.get(action_id)
    if kind is None:
        raise ValueError(f"unknown action {action_id[:_MAX_SHOWN]!r}")
    user_id, user_name = _user(data)
    value, revision = _get(action, "value"), None
    if kind == "ship_revision":
        match = _SHIP_VALUE.match(value)
        if match is None:
            raise ValueError(f"a ship-revision value is '<run id>:<revision>', not {value[:_MAX_SHOWN]!r}")
        value, revision = match["run"], int(match["revision"])
    return ButtonClick(
        kind=kind,
        run_id=value,
        revision=revision,
        user_id=user_id,
        user_name=user_name,
        channel_id=_get(data, "container.channel_id", "channel.id"),
        message_ts=_get(data, "container.message_ts", "message.ts"),
        trigger_id=_get(data, "trigger_id"),
        response_url=_get(data, "response_url"),
    )


def _feedback(data: dict[str, Any]) -> FeedbackSubmitted:
    callback_id = _get(data, "view.callback_id")
    if callback_id != FEEDBACK_CALLBACK_ID:
        raise ValueError(f"unknown view {callback_id[:_MAX_SHOWN]!r}")
    field = f"view.state.values.{FEEDBACK_BLOCK_ID}.{FEEDBACK_ACTION_ID}"
    state = _lookup(data, field)
    if not isinstance(state, dict):
        raise ValueError(f"view_submission payload has no {field}: not the feedback modal")
    value = state.get("value")  # null when the person typed nothing
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{field}.value is not text")
    user_id, user_name = _user(data)
    return FeedbackSubmitted(
        run_id=_get(data, "view.private_metadata"),
        user_id=user_id,
        user_name=user_name,
        feedback=(value or "").strip(),
    )


def parse_interaction(form_payload: str) -> Interaction:
    """The ``payload`` form field of an interactivity request; ValueError with the reason otherwise."""
    try:
        data = json.loads(form_payload)
    except json.JSONDecodeError as exc:
        raise ValueError(f"interaction payload is not JSON: {exc.msg} at position {exc.pos}") from None
    return interaction_from(data)


def interaction_from(data: Any) -> Interaction:
    """An interaction payload already decoded (Socket Mode sends it as JSON in the envelope)."""
    if not isinstance(data, dict):
        raise ValueError("interaction payload is not a JSON object")
    kind = data.get("type")
    if kind == "block_actions":
        return _button_click(data)
    if kind == "view_submission":
        return _feedback(data)
    raise ValueError(f"unsupported interaction type {str(kind)[:_MAX_SHOWN]!r}")
