"""Jira: an issue event may start a run (``integrations.jira_webhook.parse_jira_webhook`` says which do).

With JIRA_WEBHOOK_SECRET set, ``JiraRoute`` checks ``X-Hub-Signature`` over the raw body first. A
redelivery (the same ``X-Atlassian-Webhook-Identifier``) and an event on an issue a run already works
on start nothing new; nor do events our own account caused.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse

from integrations.base import SignatureError
from integrations.jira import JiraClient
from integrations.jira_webhook import parse_jira_webhook, verify_jira_signature
from server.deps import Service, edge, settings
from server.errors import ApiError
from server.models import JiraEvent, WebhookIgnored, WebhookRun
from server.openapi import EVENT_ERRORS, EVENT_TAKEN, WEBHOOKS
from server.routing import SignedRoute, answer


class JiraRoute(SignedRoute):
    payload = "Jira event"

    async def verify(self, request: Request, body: bytes) -> None:
        secret = settings(request).secrets.get("JIRA_WEBHOOK_SECRET")
        if secret:
            try:
                verify_jira_signature(secret, body, request.headers.get("x-hub-signature"))
            except SignatureError as exc:
                raise ApiError(401, f"Jira signature check failed: {exc}") from None
        await configured_jira(request)


async def configured_jira(request: Request) -> JiraClient:
    jira = edge(request).jira
    if jira is None:
        raise ApiError(404, "Jira is not configured: set JIRA_BASE_URL, JIRA_EMAIL and JIRA_API_TOKEN")
    return jira


async def signed_by_jira(
    signature: Annotated[
        str | None,
        Header(
            alias="X-Hub-Signature",
            description="sha256=<HMAC-SHA256 of the body with JIRA_WEBHOOK_SECRET>; "
            "checked when that secret is set.",
        ),
    ] = None,
) -> None:
    """The header ``JiraRoute`` checks over the raw body before anything parses it, declared here so
    that the document shows it."""


router = APIRouter(prefix="/webhook", tags=[WEBHOOKS], route_class=JiraRoute)


@router.post(
    "/jira",
    status_code=202,
    summary="Jira issue events",
    dependencies=[Depends(signed_by_jira)],
    responses={
        202: EVENT_TAKEN,
        200: {
            "model": WebhookRun | WebhookIgnored,
            "description": "A run already works on the issue, or this delivery was seen before.",
        },
        **EVENT_ERRORS,
    },
)
async def jira_webhook(
    event: JiraEvent,
    service: Service,
    jira: Annotated[JiraClient, Depends(configured_jira)],
    request: Request,
    delivery: Annotated[
        str | None,
        Header(
            alias="X-Atlassian-Webhook-Identifier",
            description="The delivery's id: a redelivery starts nothing.",
        ),
    ] = None,
) -> JSONResponse:
    jira_settings = settings(request).jira
    trigger = parse_jira_webhook(
        event.model_dump(exclude_unset=True),
        jira_settings,
        base_url=jira_settings.base_url or "",
        own_account_id=await jira.myself(),
    )
    if isinstance(trigger, str):
        return answer(WebhookIgnored(ignored=trigger), 202)
    active = next(
        (run.run_id for run in await service.active(limit=200) if run.ticket.key == trigger.key), None
    )
    if active:
        return answer(
            WebhookIgnored(ignored=f"run {active} is already working on {trigger.key}", run_id=active)
        )
    started = await service.start(trigger.ticket, dedupe_key=f"jira:{delivery}" if delivery else None)
    return answer(
        WebhookRun(run_id=started.facts.run_id, duplicate=not started.created),
        202 if started.created else 200,
    )
