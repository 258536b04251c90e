"""The operator API: start runs, read them, decide on them, follow their events, read their reports.

Changes need the operator (``server.deps.operator``: the API token, or loopback without one); reading
is open. The run service answers in domain outcomes; this router alone turns them into status codes.
"""

import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from documents.facts import UNNUMBERED_KEY, Ticket
from server.deps import Operator, RunId, Service
from server.models import (
    AlreadyApproved,
    DecisionAccepted,
    DecisionConflict,
    Feedback,
    NewRun,
    RunAccepted,
    RunDetail,
    RunEvent,
    RunList,
)
from server.openapi import OPERATOR, errors, event_stream
from server.outcomes import Accepted, AlreadyDecided, DecisionOutcome
from server.routing import EdgeRoute, answer
from store.records import StoredEvent

MARKDOWN = "text/markdown"
DECIDED: dict[int | str, dict[str, Any]] = {
    202: {"model": DecisionAccepted, "description": "Accepted: the decision is on its way to the run."},
    200: {
        "model": AlreadyApproved,
        "description": "Already approved (approve only): `pr_url` once the PR is open.",
    },
}

router = APIRouter(prefix="/runs", tags=[OPERATOR], route_class=EdgeRoute)


def decision_answer(outcome: DecisionOutcome) -> JSONResponse:
    """202 accepted, 200 already approved (with the PR once it is open), 409 refused (and why)."""
    facts = outcome.facts
    run: dict[str, Any] = {"run_id": facts.run_id, "status": facts.status, "pr_url": facts.pr_url}
    said: DecisionAccepted | AlreadyApproved | DecisionConflict
    if isinstance(outcome, Accepted):
        status, said = 202, DecisionAccepted(**run, decision=outcome.decision)
    elif isinstance(outcome, AlreadyDecided):
        status, said = 200, AlreadyApproved(**run, detail=outcome.reason)
    else:  # Refused: NotAwaiting, NothingToShip, NoRevisionsLeft; the reason says which
        status, said = 409, DecisionConflict(**run, error=outcome.reason)
    return answer(said, status)


@router.post(
    "",
    status_code=202,
    summary="Start a run",
    responses={
        202: {"description": "Accepted: the run is recorded and queued."},
        **errors(400, 401, 413, 415, 422, 429),
    },
    dependencies=[Operator],
)
async def create_run(new: NewRun, service: Service) -> RunAccepted:
    ticket = Ticket(
        key=new.key or UNNUMBERED_KEY,
        title=new.title,
        description=new.description,
        priority=new.priority,
        source="api",
    )
    facts = (await service.start(ticket)).facts
    return RunAccepted(run_id=facts.run_id, status=facts.status, url=facts.web_url)


@router.get(
    "",
    summary="The latest runs, newest first",
    response_model=RunList,
    responses={200: {"description": "The latest 100 runs."}},
)
async def runs(service: Service) -> dict[str, Any]:
    return {"runs": await service.runs()}


@router.get(
    "/{run_id}",
    summary="One run: ticket, agents, fix, tests, verification, decisions",
    response_model=RunDetail,
    responses={200: {"description": "The run."}, **errors(404)},
)
async def run(run_id: RunId, service: Service) -> dict[str, Any]:
    return await service.detail(run_id)


@router.post(
    "/{run_id}/approve",
    status_code=202,
    summary="Approve: open the pull request",
    responses={**DECIDED, **errors(401, 404, 409, 422)},
    dependencies=[Operator],
)
async def approve(
    run_id: RunId,
    service: Service,
    revision: Annotated[
        int | None,
        Query(
            ge=1,
            le=9999,
            description="Ship this earlier revision as it was briefed, instead of the latest "
            "(an explicit choice; 409 when it has nothing to ship).",
        ),
    ] = None,
) -> Response:
    return decision_answer(await service.decide(run_id, "approve", by="api", ship_revision=revision))


@router.post(
    "/{run_id}/request-changes",
    status_code=202,
    summary="Send the fix back to the code agent with feedback",
    responses={202: DECIDED[202], **errors(400, 401, 404, 409, 413, 415, 422)},
    dependencies=[Operator],
)
async def request_changes(run_id: RunId, feedback: Feedback, service: Service) -> Response:
    outcome = await service.decide(run_id, "request_changes", feedback=feedback.feedback, by="api")
    return decision_answer(outcome)


@router.post(
    "/{run_id}/cancel",
    status_code=202,
    summary="Cancel a run that awaits a decision",
    responses={202: DECIDED[202], **errors(401, 404, 409)},
    dependencies=[Operator],
)
async def cancel(run_id: RunId, service: Service) -> Response:
    return decision_answer(await service.decide(run_id, "cancel", by="api"))


@router.get(
    "/{run_id}/events",
    summary="The run's events, live (Server-Sent Events)",
    response_class=Response,
    responses={
        200: event_stream(
            "Every event so far (or after `Last-Event-ID`), then each new one as it happens.", RunEvent
        ),
        **errors(404, 422),
    },
)
async def events(
    run_id: RunId,
    service: Service,
    last_event_id: Annotated[
        int,
        Header(
            alias="Last-Event-ID",
            ge=0,
            description="The `id` of the last event received: a follower reconnecting gets the later ones.",
        ),
    ] = 0,
) -> EventSourceResponse:
    stream = await service.events(run_id, after=last_event_id)
    return EventSourceResponse(_as_sent(stream))


async def _as_sent(events: AsyncGenerator[StoredEvent, None]) -> AsyncIterator[ServerSentEvent]:
    """Each event as a Server-Sent Event whose ``id`` a reconnecting follower sends back."""
    async with contextlib.aclosing(events):
        async for event in events:
            yield ServerSentEvent(json.dumps(event.as_dict(), default=str), id=str(event.id))


@router.get(
    "/{run_id}/report",
    summary="The incident report (Markdown)",
    response_class=Response,
    responses={
        200: {"description": "The report.", "content": {MARKDOWN: {"schema": {"type": "string"}}}},
        **errors(404),
    },
)
async def report(run_id: RunId, service: Service) -> Response:
    return PlainTextResponse(await service.report(run_id), media_type=MARKDOWN)
