"""PagerDuty: an ``incident.triggered`` event of a V3 webhook subscription starts a run.

``PagerDutyRoute`` checks ``X-PagerDuty-Signature`` over the raw body first: one of its ``v1``
signatures must match one of PAGERDUTY_WEBHOOK_SECRETS (404 when none is set).
``integrations.pagerduty.parse_pagerduty_webhook`` decides which events start runs; the ``AlertIntake``
keeps one run per open incident, and a redelivery (the same ``event.id``) changes nothing. PagerDuty
waits five seconds for the answer; the incident's alerts are read, and its note added, by the run.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse

from integrations.base import SignatureError
from integrations.pagerduty import (
    SIGNATURE_HEADER,
    parse_pagerduty_webhook,
    verify_pagerduty_signature,
    webhook_secrets,
)
from server.alert_intake import AlertIntake
from server.deps import Service, settings
from server.errors import ApiError
from server.models import PagerDutyEvent, WebhookIgnored, WebhookRun
from server.openapi import EVENT_ERRORS, EVENT_TAKEN, WEBHOOKS
from server.routing import SignedRoute, answer


class PagerDutyRoute(SignedRoute):
    payload = "PagerDuty webhook"

    async def verify(self, request: Request, body: bytes) -> None:
        secrets = webhook_secrets(settings(request).secrets.get("PAGERDUTY_WEBHOOK_SECRETS"))
        if not secrets:
            raise ApiError(
                404,
                "the PagerDuty webhook is off: set PAGERDUTY_WEBHOOK_SECRETS (the webhook subscription's "
                "secret; comma-separated while one rotates) to verify its deliveries",
            )
        try:
            verify_pagerduty_signature(secrets, body, request.headers.get(SIGNATURE_HEADER))
        except SignatureError as exc:
            raise ApiError(401, f"PagerDuty signature check failed: {exc}") from None


async def signed_by_pagerduty(
    signature: Annotated[
        str,
        Header(
            alias="X-PagerDuty-Signature",
            description="v1=<HMAC-SHA256 of the body>, one per secret of the subscription, "
            "comma-separated; one must match a secret of PAGERDUTY_WEBHOOK_SECRETS",
        ),
    ],
) -> None:
    """The header ``PagerDutyRoute`` checks over the raw body before anything parses it, declared here
    so that the document shows it."""


router = APIRouter(prefix="/webhook", tags=[WEBHOOKS], route_class=PagerDutyRoute)


@router.post(
    "/pagerduty",
    status_code=202,
    summary="PagerDuty incident events (V3 webhooks)",
    dependencies=[Depends(signed_by_pagerduty)],
    responses={
        202: EVENT_TAKEN,
        200: {
            "model": WebhookRun,
            "description": "A run already works on the incident, or this event was delivered before.",
        },
        **EVENT_ERRORS,
    },
)
async def pagerduty_webhook(event: PagerDutyEvent, service: Service, request: Request) -> JSONResponse:
    trigger = parse_pagerduty_webhook(event.model_dump(exclude_unset=True), settings(request).pagerduty)
    if isinstance(trigger, str):
        return answer(WebhookIgnored(ignored=trigger), 202)
    taken = await AlertIntake(service).take(
        trigger.ticket,
        subject=f"pagerduty-incident:{trigger.incident_id}",
        delivery=f"pagerduty:{trigger.event_id}" if trigger.event_id else None,
        note=f"PagerDuty triggered incident {trigger.incident_id} again",
    )
    return answer(
        WebhookRun(run_id=taken.facts.run_id, duplicate=not taken.created), 202 if taken.created else 200
    )
