"""GitHub: a ``workflow_run`` that failed on the default branch starts a run carrying the failing jobs'
log excerpt; one run per failing head commit, so a redelivery starts nothing. On Nightshift's own pull
requests, reviews and comments (``pull_request_review``, ``pull_request_review_comment``,
``issue_comment``) start review rounds and ``pull_request`` (closed) ends the run (``workflow.reviews``);
those are deduplicated on ``X-GitHub-Delivery``.

``GitHubRoute`` checks ``X-Hub-Signature-256`` over the raw body first. GitHub is live for pull requests
and CI logs with ``GITHUB_TOKEN`` and ``GITHUB_REPO`` alone; only this webhook is off (404, saying
why) without ``GITHUB_WEBHOOK_SECRET``.
"""

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse

from documents.facts import Ticket
from integrations.base import SignatureError
from integrations.github import parse_workflow_run, verify_github_signature
from integrations.github_reviews import REVIEW_EVENTS, parse_review_event
from server.alert_intake import DELIVERY_MEMORY_S
from server.deps import Service, edge
from server.errors import ApiError
from server.models import GitHubEvent, Pong, ReviewAnswer, WebhookIgnored, WebhookRun
from server.openapi import EVENT_ERRORS, EVENT_TAKEN, WEBHOOKS
from server.routing import SignedRoute, answer


class GitHubRoute(SignedRoute):
    payload = "GitHub event"

    async def verify(self, request: Request, body: bytes) -> None:
        parts = edge(request)
        secret = parts.settings.secrets.get("GITHUB_WEBHOOK_SECRET")
        if parts.github is None:
            raise ApiError(
                404,
                "the GitHub webhook is off: GitHub is not configured (set GITHUB_TOKEN and GITHUB_REPO, "
                "and GITHUB_WEBHOOK_SECRET for this webhook)",
            )
        if not secret:
            raise ApiError(
                404,
                "the GitHub webhook is off: GITHUB_WEBHOOK_SECRET is not set, so deliveries cannot be "
                "verified (GitHub is live for pull requests and CI logs)",
            )
        try:
            verify_github_signature(secret, body, request.headers.get("x-hub-signature-256"))
        except SignatureError as exc:
            raise ApiError(401, f"GitHub signature check failed: {exc}") from None


async def signed_by_github(
    signature: Annotated[
        str,
        Header(
            alias="X-Hub-Signature-256",
            description="sha256=<HMAC-SHA256 of the body with GITHUB_WEBHOOK_SECRET>",
        ),
    ],
) -> None:
    """The header ``GitHubRoute`` checks over the raw body before anything parses it, declared here so
    that the document shows it."""


router = APIRouter(prefix="/webhook", tags=[WEBHOOKS], route_class=GitHubRoute)


@router.post(
    "/github",
    status_code=202,
    summary="GitHub workflow_run, review and pull request events",
    dependencies=[Depends(signed_by_github)],
    responses={
        202: EVENT_TAKEN,
        200: {
            "model": WebhookRun | ReviewAnswer | Pong,
            "description": "This failure (its head commit) already has a run; a delivery seen before; or "
            "the answer to a ping.",
        },
        **EVENT_ERRORS,
    },
)
async def github_webhook(
    event: GitHubEvent,
    service: Service,
    name: Annotated[
        str,
        Header(
            alias="X-GitHub-Event",
            description="The event's name: workflow_run starts runs; pull_request_review, "
            "pull_request_review_comment and issue_comment steer review rounds on Nightshift's pull "
            "requests; pull_request (closed) ends their runs; ping answers pong.",
        ),
    ] = "",
    delivery: Annotated[
        str, Header(alias="X-GitHub-Delivery", description="The delivery's id (a redelivery repeats it).")
    ] = "",
) -> JSONResponse:
    if name == "ping":
        return answer(Pong(ok="pong"))
    if name in REVIEW_EVENTS:
        said = parse_review_event(name, event.model_dump(exclude_unset=True))
        if isinstance(said, str):
            return answer(WebhookIgnored(ignored=said), 202)
        if delivery and not await service.store.first_sighting(
            f"github:{delivery}", now_s=time.time(), keep_s=DELIVERY_MEMORY_S
        ):
            return answer(ReviewAnswer(answer=f"delivery {delivery} was taken before", duplicate=True))
        return answer(ReviewAnswer(answer=await service.review(said)), 202)
    failure = parse_workflow_run(name, event.model_dump(exclude_unset=True))
    if isinstance(failure, str):
        return answer(WebhookIgnored(ignored=failure), 202)
    title = f"CI failed: {failure.workflow_name} on {failure.head_branch} ({failure.head_sha[:7]})"
    ticket = Ticket(
        key=f"CI-{failure.run_id}",
        title=title[:300],
        description=f"{failure.title}\n\nWorkflow run: {failure.run_url}",
        source="github",
        url=failure.run_url,
        ci_run_id=failure.run_id,
    )
    started = await service.start(ticket, dedupe_key=f"github-sha:{failure.head_sha}")
    return answer(
        WebhookRun(run_id=started.facts.run_id, duplicate=not started.created),
        202 if started.created else 200,
    )
