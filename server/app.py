"""The HTTP edge: the FastAPI app (``create_app``), its routes and their error answers.

The routes read raw bodies and hand them with the headers to ``server.service`` (operator API, pages)
and ``server.webhooks`` (Slack, Jira, GitHub), and turn their replies and errors into responses.
Only the ``server`` package imports the web framework.
"""


import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi import Path as PathParameter
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route

from config import VERSION, Settings, load_settings
from server import models as api
from server.running import Server, running_server
from server.service import ApiError, Reply
from workflow.engine import DecisionKind

# -- HTTP adapter: verify, parse, hand over to server.service; nothing else happens here ------------

OPERATOR, WEBHOOKS, PAGES = "operator API", "webhooks", "web pages"
TAGS = [
    {"name": OPERATOR, "description": "Runs and decisions. Changes need `Authorization: Bearer <token>`."},
    {"name": WEBHOOKS, "description": "Called by Slack, Jira and GitHub; each checks its signature."},
    {"name": PAGES, "description": "HTML for people; their forms post url-encoded fields."},
]
MARKDOWN = "text/markdown"
RUN_ID: dict[str, Any] = {"description": "A run id, or `latest` for the newest run.", "examples": ["latest"]}
SLACK_HEADERS = api.header_parameters(
    {
        "X-Slack-Signature": "v0=<HMAC-SHA256 of v0:<timestamp>:<body> with SLACK_SIGNING_SECRET>",
        "X-Slack-Request-Timestamp": "Unix seconds; more than 5 minutes off, or seen before: 401.",
    }
)
EVENT_TAKEN = api.answer(
    "A run started, or the event starts none (and why).", api.WebhookRun, api.WebhookIgnored
)
EVENT_ERRORS = api.errors(400, 401, 404, 413, 415, 429, webhook=True)
"""Jira's and GitHub's events: JSON that may start a run, so a full queue answers 429 too."""
DECIDED: dict[int | str, dict[str, Any]] = {
    202: api.answer("Accepted: the decision is on its way to the run.", api.DecisionAccepted),
    200: api.answer("Already approved (approve only): `pr_url` once the PR is open.", api.AlreadyApproved),
}


def create_app(settings: Settings | None = None) -> FastAPI:
    """The ASGI app. Settings are read at start-up (``uvicorn main:app`` reads them from the env).

    The routes read raw bodies and leave the parsing to ``workflow``; each declares its body, answers
    and headers with ``server.models``, and the OpenAPI document is finished for this server's
    configuration (API token, webhook signatures, limits) when it is first asked for.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running_server(settings or load_settings()) as server:
            app.state.server = server
            yield

    app = FastAPI(
        title="Nightshift",
        version=VERSION,
        description='An autonomous on-call engineer. Every error answer is `{"error": "<reason>"}`.',
        openapi_tags=TAGS,
        lifespan=lifespan,
        redoc_url=None,
    )

    def server(request: Request) -> Server:
        return request.app.state.server

    def openapi() -> dict[str, Any]:
        """The document FastAPI builds from the routes, finished for the settings this app serves with
        (given, or read at start-up)."""
        if app.openapi_schema is None:
            described = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            served_with = settings if settings is not None else app.state.server.service.settings
            app.openapi_schema = api.configure_document(described, served_with)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    def error(status: int, reason: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
        return JSONResponse(api.ApiErrorBody(error=reason).model_dump(), status_code=status, headers=headers)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error(exc.status, exc.reason, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error(422, f"invalid request: {exc.errors()}")

    @app.exception_handler(StarletteHTTPException)
    async def not_served(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """Unknown paths and methods get the one error shape. A 405's Allow lists every method served
        on the path: Starlette's names only those of the first route whose path matched."""
        if exc.status_code != 405:
            return error(exc.status_code, f"{exc.detail}: {request.method} {request.url.path}", exc.headers)
        methods: set[str] = set()
        for route in request.app.router.routes:
            if isinstance(route, Route) and route.matches(request.scope)[0] != Match.NONE:
                methods |= route.methods or set()
        allowed = ", ".join(sorted(methods))
        return error(
            405, f"{request.method} is not served on {request.url.path}; use {allowed}", {"Allow": allowed}
        )

    async def body_of(request: Request) -> bytes:
        limit = server(request).service.settings.server.max_body_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise ApiError(413, f"the body is larger than {limit} bytes (server.max_body_bytes)")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError(413, f"the body is larger than {limit} bytes (server.max_body_bytes)")
            chunks.append(chunk)
        return b"".join(chunks)

    def reply(result: Reply) -> Response:
        return JSONResponse(result.body, status_code=result.status, headers=result.headers)

    def authorize(request: Request, run_id: str | None = None) -> None:
        client = request.client.host if request.client else None
        server(request).service.authorize(request.headers.get("authorization"), client, run_id=run_id)

    @app.get(
        "/health",
        summary="Is the server up; which model and integrations",
        responses={200: api.answer("The server is up.", api.Health)},
    )
    async def health(request: Request) -> Response:
        return reply(await server(request).service.health())

    @app.post(
        "/webhook/slack/command",
        tags=[WEBHOOKS],
        summary="Slack slash command (/oncall)",
        responses={
            200: api.answer(
                "A message only its sender sees: run started, status or usage.", api.SlackMessage
            ),
            **api.errors(400, 401, 404, 413, 415, webhook=True),
        },
        openapi_extra={**api.body(api.SlackCommand, api.FORM), **SLACK_HEADERS},
    )
    async def slack_command(request: Request) -> Response:
        return reply(await server(request).webhooks.slack_command(await body_of(request), request.headers))

    @app.post(
        "/webhook/slack/actions",
        tags=[WEBHOOKS],
        summary="Slack buttons and modal submissions",
        responses={
            200: api.answer(
                "Acknowledged, with an empty body (the work goes on in the background); a modal submission "
                "that cannot be taken gets its errors.",
                api.SlackModalErrors,
            ),
            **api.errors(400, 401, 404, 413, 415, webhook=True),
        },
        openapi_extra={**api.body(api.SlackInteraction, api.FORM), **SLACK_HEADERS},
    )
    async def slack_actions(request: Request) -> Response:
        result = await server(request).webhooks.slack_action(await body_of(request), request.headers)
        return Response(status_code=200) if not result.body else reply(result)

    @app.post(
        "/webhook/jira",
        tags=[WEBHOOKS],
        status_code=202,
        summary="Jira issue events",
        responses={
            202: EVENT_TAKEN,
            200: api.answer(
                "A run already works on the issue, or this delivery was seen before.",
                api.WebhookRun,
                api.WebhookIgnored,
            ),
            **EVENT_ERRORS,
        },
        openapi_extra={
            **api.body(api.JiraEvent),
            **api.header_parameters(
                {
                    "X-Hub-Signature": "sha256=<HMAC-SHA256 of the body with JIRA_WEBHOOK_SECRET>; "
                    "checked when that secret is set.",
                    "X-Atlassian-Webhook-Identifier": "The delivery's id: a redelivery starts nothing.",
                }
            ),
        },
    )
    async def jira(request: Request) -> Response:
        return reply(await server(request).webhooks.jira_webhook(await body_of(request), request.headers))

    @app.post(
        "/webhook/github",
        tags=[WEBHOOKS],
        status_code=202,
        summary="GitHub workflow_run events",
        responses={
            202: EVENT_TAKEN,
            200: api.answer(
                "This failure (its head commit) already has a run; or the answer to a ping.",
                api.WebhookRun,
                api.Pong,
            ),
            **EVENT_ERRORS,
        },
        openapi_extra={
            **api.body(api.GitHubEvent),
            **api.header_parameters(
                {
                    "X-Hub-Signature-256": "sha256=<HMAC-SHA256 of the body with GITHUB_WEBHOOK_SECRET>",
                    "X-GitHub-Event": "The event's name: workflow_run starts runs, ping answers pong.",
                }
            ),
        },
    )
    async def github(request: Request) -> Response:
        return reply(await server(request).webhooks.github_webhook(await body_of(request), request.headers))

    @app.post(
        "/runs",
        tags=[OPERATOR],
        status_code=202,
        summary="Start a run",
        responses={
            202: api.answer("Accepted: the run is recorded and queued.", api.RunAccepted),
            **api.errors(400, 401, 413, 415, 422, 429),
        },
        openapi_extra={**api.body(api.NewRun), **api.bearer_auth()},
    )
    async def create_run(request: Request) -> Response:
        authorize(request)
        body = await body_of(request)
        return reply(await server(request).service.create_run(body, request.headers.get("content-type")))

    @app.get(
        "/runs",
        tags=[OPERATOR],
        summary="The latest runs, newest first",
        responses={200: api.answer("The latest 100 runs.", api.RunList)},
    )
    async def runs(request: Request) -> Response:
        return reply(await server(request).service.list_runs())

    @app.get(
        "/runs/{run_id}",
        tags=[OPERATOR],
        summary="One run: ticket, agents, fix, tests, verification, decisions",
        responses={200: api.answer("The run.", api.RunDetail), **api.errors(404)},
    )
    async def run(request: Request, run_id: Annotated[str, PathParameter(**RUN_ID)]) -> Response:
        return reply(await server(request).service.get_run(run_id))

    @app.post(
        "/runs/{run_id}/approve",
        tags=[OPERATOR],
        status_code=202,
        summary="Approve: open the pull request",
        responses={**DECIDED, **api.errors(401, 404, 409, 422)},
        openapi_extra=api.bearer_auth(),
    )
    async def approve(
        request: Request,
        run_id: Annotated[str, PathParameter(**RUN_ID)],
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
        authorize(request, run_id)
        service = server(request).service
        return reply(await service.decide(run_id, "approve", by="api", ship_revision=revision))

    @app.post(
        "/runs/{run_id}/request-changes",
        tags=[OPERATOR],
        status_code=202,
        summary="Send the fix back to the code agent with feedback",
        responses={
            202: DECIDED[202],
            **api.errors(400, 401, 404, 409, 413, 415, 422),
        },
        openapi_extra={**api.body(api.Feedback), **api.bearer_auth()},
    )
    async def request_changes(request: Request, run_id: Annotated[str, PathParameter(**RUN_ID)]) -> Response:
        authorize(request, run_id)
        body = await body_of(request)
        service = server(request).service
        return reply(
            await service.request_changes(run_id, body, request.headers.get("content-type"), by="api")
        )

    @app.post(
        "/runs/{run_id}/cancel",
        tags=[OPERATOR],
        status_code=202,
        summary="Cancel a run that awaits a decision",
        responses={202: DECIDED[202], **api.errors(401, 404, 409)},
        openapi_extra=api.bearer_auth(),
    )
    async def cancel(request: Request, run_id: Annotated[str, PathParameter(**RUN_ID)]) -> Response:
        authorize(request, run_id)
        return reply(await server(request).service.decide(run_id, "cancel", by="api"))

    @app.get(
        "/runs/{run_id}/events",
        tags=[OPERATOR],
        summary="The run's events, live (Server-Sent Events)",
        response_class=Response,
        responses={
            200: api.event_stream("Every event so far, then each new one as it happens.", api.RunEvent),
            **api.errors(404),
        },
    )
    async def events(request: Request, run_id: Annotated[str, PathParameter(**RUN_ID)]) -> Response:
        stream = await server(request).service.events(run_id)
        return StreamingResponse(
            stream,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.get(
        "/runs/{run_id}/report",
        tags=[OPERATOR],
        summary="The incident report (Markdown)",
        response_class=Response,
        responses={200: api.answer("The report.", media_type=MARKDOWN), **api.errors(404)},
    )
    async def report(request: Request, run_id: Annotated[str, PathParameter(**RUN_ID)]) -> Response:
        return PlainTextResponse(await server(request).service.report(run_id), media_type=MARKDOWN)

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

    @app.get(
        "/ui",
        tags=[PAGES],
        summary="The runs",
        response_class=HTMLResponse,
        responses={200: {"description": "The page."}},
    )
    async def ui_runs(request: Request) -> Response:
        nonce = secrets.token_urlsafe(16)
        return page(await server(request).service.runs_page(nonce), nonce)

    @app.get(
        "/ui/runs/{run_id}",
        tags=[PAGES],
        summary="One run, live, with Approve and Request changes",
        response_class=HTMLResponse,
        responses={200: {"description": "The page."}, **api.errors(404)},
    )
    async def ui_run(
        request: Request,
        run_id: Annotated[str, PathParameter(**RUN_ID)],
        sig: Annotated[
            str | None, Query(description="The signed link's signature: lets its holder decide.")
        ] = None,
    ) -> Response:
        nonce = secrets.token_urlsafe(16)
        return page(await server(request).service.run_page(run_id, sig, nonce), nonce)

    async def ui_decide(request: Request, run_id: str, kind: DecisionKind) -> Response:
        client = request.client.host if request.client else None
        result = await server(request).service.decide_from_page(
            run_id,
            kind,
            await body_of(request),
            request.headers.get("content-type"),
            authorization=request.headers.get("authorization"),
            client_host=client,
        )
        if "application/json" in request.headers.get("accept", ""):
            return reply(result)
        return RedirectResponse(request.headers.get("referer") or f"/ui/runs/{run_id}", status_code=303)

    page_form: dict[int | str, dict[str, Any]] = {
        303: {
            "description": "Decided, or refused with 409: back to the page (the Referer, else the run page).",
            "headers": {"Location": {"required": True, "schema": {"type": "string"}}},
        },
        **{
            status: {**answer, "description": f"With Accept: application/json. {answer['description']}"}
            for status, answer in DECIDED.items()
        },
        **api.errors(400, 401, 404, 409, 413, 415, 422),
    }

    @app.post(
        "/ui/runs/{run_id}/approve",
        tags=[PAGES],
        status_code=303,
        response_class=Response,
        summary="The page's Approve form",
        responses=page_form,
        openapi_extra={**api.body(api.DecisionForm, api.FORM), **api.bearer_auth(optional=True)},
    )
    async def ui_approve(request: Request, run_id: Annotated[str, PathParameter(**RUN_ID)]) -> Response:
        return await ui_decide(request, run_id, "approve")

    @app.post(
        "/ui/runs/{run_id}/request-changes",
        tags=[PAGES],
        status_code=303,
        response_class=Response,
        summary="The page's Request changes form",
        responses={status: answer for status, answer in page_form.items() if status != 200},
        openapi_extra={**api.body(api.ChangesForm, api.FORM), **api.bearer_auth(optional=True)},
    )
    async def ui_request_changes(
        request: Request, run_id: Annotated[str, PathParameter(**RUN_ID)]
    ) -> Response:
        return await ui_decide(request, run_id, "request_changes")

    return app

