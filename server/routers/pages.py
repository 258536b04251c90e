"""The web pages: the runs, one run live, and its decision forms (rendered by ``documents.web`` from
its templates; ``server.app`` serves its stylesheet and script from ``documents.web.STATIC_DIR``).

Every page carries a Content-Security-Policy whose nonce is the only way its script and style run. A
form is authorised by the run's signed link (its ``sig`` field), the API token (its ``token`` field or
``Authorization: Bearer``), or loopback when no token is configured; it answers with a redirect back
to the page, or with the decision's JSON when asked for (``Accept: application/json``).
"""

import secrets
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from documents.briefing import build_briefing
from documents.web import run_page, runs_page
from server.access import Access
from server.deps import Authorizer, BearerToken, RunId, Service, client_host
from server.models import ApproveForm, ChangesForm, DecisionForm
from server.openapi import PAGES, errors
from server.routers.runs import DECIDED, decision_answer
from server.routing import EdgeRoute
from server.service import RunService
from workflow.engine import DecisionKind

PAGE: dict[int | str, dict[str, Any]] = {
    200: {"description": "The page.", "content": {"text/html": {"schema": {"type": "string"}}}}
}
FORM_ANSWERS: dict[int | str, dict[str, Any]] = {
    303: {
        "description": "Decided, or refused with 409: back to the page (the Referer, else the run page).",
        "headers": {"Location": {"required": True, "schema": {"type": "string"}}},
    },
    **{
        status: {**answer, "description": f"With Accept: application/json. {answer['description']}"}
        for status, answer in DECIDED.items()
    },
    **errors(400, 401, 404, 409, 413, 415, 422),
}
TOKEN_OR_FORM: dict[str, Any] = {"security": [{}]}
"""Added to the bearer requirement FastAPI documents: a form's ``sig`` or ``token`` field may do instead."""

router = APIRouter(prefix="/ui", tags=[PAGES], route_class=EdgeRoute)


def page(html: str, nonce: str) -> HTMLResponse:
    policy = (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
        "connect-src 'self'; form-action 'self'; img-src 'self' data:; base-uri 'none'; "
        "frame-ancestors 'none'"
    )
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": policy,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


@router.get("", summary="The runs", response_class=Response, responses=PAGE)
async def ui_runs(service: Service) -> Response:
    nonce = secrets.token_urlsafe(16)
    return page(runs_page(await service.runs(), now=datetime.now(UTC), nonce=nonce), nonce)


@router.get(
    "/runs/{run_id}",
    summary="One run, live, with Approve and Request changes",
    response_class=Response,
    responses={**PAGE, **errors(404)},
)
async def ui_run(
    run_id: RunId,
    service: Service,
    authorizer: Authorizer,
    sig: Annotated[
        str | None, Query(description="The signed link's signature: lets its holder decide.")
    ] = None,
) -> Response:
    now = datetime.now(UTC)  # before the facts are read: the page trusts only later events
    facts, deliveries = await service.with_deliveries(run_id)
    signed = authorizer.links.holds(facts.run_id, sig)
    asks_token = bool(authorizer.api_token) and not signed  # without a token, loopback decides
    base = f"/ui/runs/{facts.run_id}"
    nonce = secrets.token_urlsafe(16)
    html = run_page(
        facts,
        build_briefing(facts),
        deliveries=deliveries,
        events_url=f"/runs/{facts.run_id}/events",
        approve_url=f"{base}/approve",
        request_changes_url=f"{base}/request-changes",
        cancel_url=f"{base}/cancel",
        token_field="token" if asks_token else None,
        link_sig=sig if signed else None,
        nonce=nonce,
        now=now,
    )
    return page(html, nonce)


async def decide_from_page(
    request: Request,
    run_id: str,
    kind: DecisionKind,
    form: DecisionForm,
    service: RunService,
    authorizer: Access,
    token: str | None,
) -> Response:
    """A decision posted by a run page's form, authorised by its signed link or the API token."""
    facts = await service.run(run_id)
    authorizer.authorize(form.token or token, client_host(request), run_id=facts.run_id, sig=form.sig)
    feedback = form.feedback.strip() if isinstance(form, ChangesForm) else None
    ship = form.ship_revision if isinstance(form, ApproveForm) else None
    outcome = await service.decide(facts.run_id, kind, feedback=feedback, by="web", ship_revision=ship)
    if "application/json" in request.headers.get("accept", ""):
        return decision_answer(outcome)
    back = request.headers.get("referer") or f"/ui/runs/{facts.run_id}"
    return RedirectResponse(back, status_code=303)


@router.post(
    "/runs/{run_id}/approve",
    status_code=303,
    response_class=Response,
    summary="The page's Approve form (and its Ship revision N form)",
    responses=FORM_ANSWERS,
    openapi_extra=TOKEN_OR_FORM,
)
async def ui_approve(
    request: Request,
    run_id: RunId,
    form: Annotated[ApproveForm, Form()],
    service: Service,
    authorizer: Authorizer,
    token: BearerToken,
) -> Response:
    return await decide_from_page(request, run_id, "approve", form, service, authorizer, token)


@router.post(
    "/runs/{run_id}/request-changes",
    status_code=303,
    response_class=Response,
    summary="The page's Request changes form",
    responses={status: answer for status, answer in FORM_ANSWERS.items() if status != 200},
    openapi_extra=TOKEN_OR_FORM,
)
async def ui_request_changes(
    request: Request,
    run_id: RunId,
    form: Annotated[ChangesForm, Form()],
    service: Service,
    authorizer: Authorizer,
    token: BearerToken,
) -> Response:
    return await decide_from_page(request, run_id, "request_changes", form, service, authorizer, token)


@router.post(
    "/runs/{run_id}/cancel",
    status_code=303,
    response_class=Response,
    summary="The page's Cancel form",
    responses={status: answer for status, answer in FORM_ANSWERS.items() if status != 200},
    openapi_extra=TOKEN_OR_FORM,
)
async def ui_cancel(
    request: Request,
    run_id: RunId,
    form: Annotated[DecisionForm, Form()],
    service: Service,
    authorizer: Authorizer,
    token: BearerToken,
) -> Response:
    return await decide_from_page(request, run_id, "cancel", form, service, authorizer, token)
