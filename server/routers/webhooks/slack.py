"""Slack: the ``/oncall`` slash command, and the buttons and modal of a briefing.

Every request is verified first (``SlackRoute``): the v0 signature over the raw body, Slack's
five-minute window, and a signature accepted before (by any worker: they are kept in the database for
that window) refused as a replay. Slack wants an answer within 3 seconds: a command is acknowledged
with an ephemeral message naming the run (the run itself starts in the background); a click is
acknowledged at once with an empty 200 and acted on after the answer is sent (``slack_clicks``).
"""

import time
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Header, Request
from fastapi.responses import Response

from documents.facts import UNNUMBERED_KEY, Ticket
from integrations.base import SignatureError
from integrations.slack import (
    WINDOW_S,
    FeedbackSubmitted,
    SlackNotifier,
    parse_command,
    parse_interaction,
    verify_slack_request,
)
from server.deps import Service, edge
from server.errors import ApiError
from server.models import SlackCommand, SlackInteraction, SlackMessage, SlackModalErrors
from server.openapi import WEBHOOKS, errors
from server.outcomes import DescriptionTooLong
from server.routers.webhooks.slack_clicks import SlackClicks, in_background
from server.routing import SignedRoute, answer
from server.service import RunService
from store.runs import QueueFull

USAGE = (
    "*Nightshift* — an on-call engineer that fixes bugs while you sleep.\n"
    "• `/oncall <what is broken>`: start a run; the briefing is posted here with Approve / Request changes\n"
    "• `/oncall PROJ-123 [notes]`: start a run for a Jira issue (its status and comments follow the run)\n"
    "• `/oncall status`: the runs in progress\n"
    "• `/oncall help`: this message"
)


class SlackRoute(SignedRoute):
    payload = "Slack request"

    async def verify(self, request: Request, body: bytes) -> None:
        await configured_slack(request)
        parts = edge(request)
        try:
            signature = verify_slack_request(
                parts.settings.secrets.get("SLACK_SIGNING_SECRET") or "", body, request.headers
            )
        except SignatureError as exc:
            raise ApiError(401, f"Slack signature check failed: {exc}") from None
        if not await parts.store.first_sighting(f"slack:{signature}", now_s=time.time(), keep_s=WINDOW_S):
            raise ApiError(
                401, "Slack signature check failed: replayed request: this signature was already accepted"
            )


async def configured_slack(request: Request) -> SlackNotifier:
    """Slack, live; 404 naming what to set when it is not (a webhook nobody can sign is off)."""
    parts = edge(request)
    if parts.slack is None or not parts.settings.secrets.get("SLACK_SIGNING_SECRET"):
        raise ApiError(
            404, "Slack is not configured: set SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET and SLACK_CHANNEL"
        )
    return parts.slack


async def slack_clicks(
    request: Request, slack: Annotated[SlackNotifier, Depends(configured_slack)]
) -> SlackClicks:
    parts = edge(request)
    return SlackClicks(slack, parts.door, parts.service)


async def signed_by_slack(
    signature: Annotated[
        str,
        Header(
            alias="X-Slack-Signature",
            description="v0=<HMAC-SHA256 of v0:<timestamp>:<body> with SLACK_SIGNING_SECRET>",
        ),
    ],
    timestamp: Annotated[
        str,
        Header(
            alias="X-Slack-Request-Timestamp",
            description="Unix seconds; more than 5 minutes off, or seen before: 401.",
        ),
    ],
) -> None:
    """The headers ``SlackRoute`` checks over the raw body before anything parses it, declared here so
    that the document shows them."""


router = APIRouter(
    prefix="/webhook/slack",
    tags=[WEBHOOKS],
    route_class=SlackRoute,
    dependencies=[Depends(signed_by_slack)],
    responses=errors(400, 401, 404, 413, 415, webhook=True),
)


@router.post(
    "/command",
    summary="Slack slash command (/oncall)",
    responses={200: {"description": "A message only its sender sees: run started, status or usage."}},
)
async def slack_command(
    form: Annotated[SlackCommand, Form()],
    service: Service,
    slack: Annotated[SlackNotifier, Depends(configured_slack)],
    request: Request,
) -> SlackMessage:
    try:
        command = parse_command(form.model_dump(exclude_none=True))
    except ValueError as exc:
        raise ApiError(400, f"not a slash command: {exc}") from None
    if command.subcommand == "help":
        return _ephemeral(USAGE)
    if command.subcommand == "status":
        return _ephemeral(await _status(service))
    with_jira = edge(request).jira is not None
    words = command.text.strip()
    title = (words.removeprefix(command.jira_key or "").strip() or words).splitlines()[0][:300]
    ticket = Ticket(
        key=command.jira_key or UNNUMBERED_KEY,
        title=title or "Incident from Slack",
        description=words,
        reporter=command.user_name,
        source="jira" if with_jira and command.jira_key else "slack",
    )
    try:
        facts = (await service.start(ticket)).facts
    except DescriptionTooLong as too_long:
        return _ephemeral(f"Not started: {too_long}")
    except QueueFull as full:
        return _ephemeral(f"Not started: {full}; try again later")
    return _ephemeral(
        f"On it: run `{facts.run_id}` for {facts.ticket.key}. The briefing will be posted in "
        f"<#{slack.channel}> with Approve / Request changes. Follow it live: {facts.web_url}"
    )


async def _status(service: RunService) -> str:
    runs = await service.active(limit=20)
    if not runs:
        return "No runs in progress."
    return "\n".join(f"• `{r.run_id}` {r.ticket.key} — {r.ticket.title[:80]}: *{r.status}*" for r in runs)


def _ephemeral(text: str) -> SlackMessage:
    return SlackMessage(response_type="ephemeral", text=text)


@router.post(
    "/actions",
    summary="Slack buttons and modal submissions",
    response_class=Response,
    responses={
        200: {
            "model": SlackModalErrors,
            "description": "Acknowledged, with an empty body (the work goes on in the background); a modal "
            "submission that cannot be taken gets its errors.",
        }
    },
)
async def slack_actions(
    form: Annotated[SlackInteraction, Form()],
    clicks: Annotated[SlackClicks, Depends(slack_clicks)],
    tasks: BackgroundTasks,
) -> Response:
    try:
        interaction = parse_interaction(form.payload)
    except ValueError as exc:
        raise ApiError(400, f"not a Slack interaction: {exc}") from None
    if not clicks.slack.is_approver(interaction.user_id):
        refusal = (
            f"Only {', '.join(f'<@{u}>' for u in clicks.slack.approvers)} may decide on Nightshift runs."
        )
        if isinstance(interaction, FeedbackSubmitted):
            return answer(SlackModalErrors(response_action="errors", errors={"feedback": refusal}))
        tasks.add_task(in_background, clicks.ephemeral, interaction.channel_id, interaction.user_id, refusal)
    elif isinstance(interaction, FeedbackSubmitted):
        if not interaction.feedback.strip():
            missing = {"feedback": "Say what should change."}
            return answer(SlackModalErrors(response_action="errors", errors=missing))
        tasks.add_task(in_background, clicks.request_changes, interaction)
    elif interaction.kind == "approve":
        tasks.add_task(in_background, clicks.approve, interaction)
    else:
        tasks.add_task(in_background, clicks.open_modal, interaction.trigger_id, interaction.run_id)
    return Response(status_code=200)
