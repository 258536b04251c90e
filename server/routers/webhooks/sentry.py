"""Sentry: an issue alert (``event_alert``) or a new issue (``issue``/``created``) starts a run, through
an internal integration's webhook.

``SentryRoute`` checks ``Sentry-Hook-Signature`` over the raw body first (404 when SENTRY_CLIENT_SECRET
is not set). ``integrations.sentry.parse_sentry_webhook`` decides which deliveries start runs; the
``AlertIntake`` keeps one run per open Sentry issue: a redelivery (the same ``Request-ID``) changes
nothing, and another alert for an issue whose run is still open goes on that run's timeline. Sentry
waits one second for the answer: nothing here talks to Sentry (the stack of an ``issue`` webhook is
fetched by the run itself).
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse

from integrations.base import SignatureError
from integrations.sentry import SIGNATURE_HEADER, parse_sentry_webhook, verify_sentry_signature
from server.alert_intake import AlertIntake
from server.deps import Service, settings
from server.errors import ApiError
from server.models import SentryEvent, WebhookIgnored, WebhookRun
from server.openapi import EVENT_ERRORS, EVENT_TAKEN, WEBHOOKS
from server.routing import SignedRoute, answer


class SentryRoute(SignedRoute):
    payload = "Sentry webhook"

    async def verify(self, request: Request, body: bytes) -> None:
        secret = settings(request).secrets.get("SENTRY_CLIENT_SECRET")
        if not secret:
            raise ApiError(
                404,
                "the Sentry webhook is off: set SENTRY_CLIENT_SECRET (the internal integration's client "
                "secret) to verify its deliveries",
            )
        try:
            verify_sentry_signature(secret, body, request.headers.get(SIGNATURE_HEADER))
        except SignatureError as exc:
            raise ApiError(401, f"Sentry signature check failed: {exc}") from None


async def signed_by_sentry(
    signature: Annotated[
        str,
        Header(
            alias="Sentry-Hook-Signature",
            description="hex HMAC-SHA256 of the body keyed with SENTRY_CLIENT_SECRET",
        ),
    ],
) -> None:
    """The header ``SentryRoute`` checks over the raw body before anything parses it, declared here so
    that the document shows it."""


router = APIRouter(prefix="/webhook", tags=[WEBHOOKS], route_class=SentryRoute)


@router.post(
    "/sentry",
    status_code=202,
    summary="Sentry issue alerts and new issues",
    dependencies=[Depends(signed_by_sentry)],
    responses={
        202: EVENT_TAKEN,
        200: {
            "model": WebhookRun,
            "description": "A run already works on the Sentry issue (this alert went on its timeline), "
            "or this delivery was seen before.",
        },
        **EVENT_ERRORS,
    },
)
async def sentry_webhook(
    event: SentryEvent,
    service: Service,
    request: Request,
    resource: Annotated[
        str,
        Header(
            alias="Sentry-Hook-Resource",
            description="What the delivery is about: event_alert and issue (created) start runs.",
        ),
    ] = "",
    delivery: Annotated[
        str | None,
        Header(alias="Request-ID", description="The delivery's id: a redelivery changes nothing."),
    ] = None,
) -> JSONResponse:
    trigger = parse_sentry_webhook(resource, event.model_dump(exclude_unset=True), settings(request).sentry)
    if isinstance(trigger, str):
        return answer(WebhookIgnored(ignored=trigger), 202)
    alert = trigger.ticket.alert
    assert alert is not None
    seen = f"event {alert.event_id}" if alert.event_id else f"{trigger.resource} webhook"
    taken = await AlertIntake(service).take(
        trigger.ticket,
        subject=f"sentry-issue:{trigger.issue_id}",
        delivery=f"sentry:{delivery}" if delivery else None,
        note=f"Sentry alerted again on issue {trigger.issue_id} ({seen})",
    )
    return answer(
        WebhookRun(run_id=taken.facts.run_id, duplicate=not taken.created), 202 if taken.created else 200
    )
