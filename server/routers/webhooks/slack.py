"""Slack over HTTP: the ``/oncall`` slash command, and the buttons and modal of a briefing.

Every request is verified first (``SlackRoute``): the v0 signature over the raw body, Slack's
five-minute window, and a signature accepted before (by any worker: they are kept in the database for
that window) refused as a replay. The verified payload goes to ``server.slack.inbound``, where Socket
Mode (``server.slack.socket_mode``) hands its envelopes as well. Slack wants an answer within 3
seconds: a command is acknowledged with an ephemeral message naming the run (the run itself starts in
the background); a click is acknowledged at once with an empty 200 and acted on after the answer is
sent (``server.slack.clicks``).
"""

import time
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Header, Request
from fastapi.responses import JSONResponse, Response

from integrations.base import SignatureError
from integrations.slack import WINDOW_S, verify_slack_request
from server.deps import edge
from server.errors import ApiError
from server.models import SlackCommand, SlackInteraction, SlackMessage, SlackModalErrors
from server.openapi import WEBHOOKS, errors
from server.routing import SignedRoute, answer
from server.slack.clicks import in_background
from server.slack.inbound import NotASlackPayload, SlackInbound


class SlackRoute(SignedRoute):
    payload = "Slack request"

    async def verify(self, request: Request, body: bytes) -> None:
        await slack_inbound(request)
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


async def slack_inbound(request: Request) -> SlackInbound:
    """Slack's handlers; 404 naming what to set when the HTTP webhook is off (nobody can sign for it)."""
    parts = edge(request)
    if parts.slack_inbound is None:
        raise ApiError(
            404, "Slack is not configured: set SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET and SLACK_CHANNEL"
        )
    if not parts.settings.secrets.get("SLACK_SIGNING_SECRET"):
        raise ApiError(
            404,
            "Slack's HTTP webhook is off: Slack reaches Nightshift over Socket Mode (SLACK_APP_TOKEN); "
            "set SLACK_SIGNING_SECRET to take requests over HTTP too",
        )
    return parts.slack_inbound


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


Inbound = Annotated[SlackInbound, Depends(slack_inbound)]


@router.post(
    "/command",
    summary="Slack slash command (/oncall)",
    response_model=SlackMessage,
    responses={200: {"description": "A message only its sender sees: run started, status or usage."}},
)
async def slack_command(form: Annotated[SlackCommand, Form()], inbound: Inbound) -> JSONResponse:
    try:
        message = await inbound.command(form.model_dump(exclude_none=True))
    except NotASlackPayload as exc:
        raise ApiError(400, str(exc)) from None
    return answer(message)  # built by us already: FastAPI need not validate and encode it again


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
    form: Annotated[SlackInteraction, Form()], inbound: Inbound, tasks: BackgroundTasks
) -> Response:
    try:
        acknowledged = await inbound.interaction(form.payload)
    except NotASlackPayload as exc:
        raise ApiError(400, str(exc)) from None
    if acknowledged.then is not None:
        tasks.add_task(in_background, acknowledged.then)
    if acknowledged.answer is not None:
        return answer(acknowledged.answer)
    return Response(status_code=200)

