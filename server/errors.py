"""Every error answer is ``{"error": "<reason>"}`` with a 4xx: the edge's own (``ApiError``), the run
service's refusals (``server.outcomes``), FastAPI's validation errors, unknown paths and methods.

``install(app)`` registers the handlers; nothing else in the server builds an error response.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from server.models import ApiErrorBody
from server.outcomes import DescriptionTooLong, NoReportYet
from store.runs import QueueFull
from workflow.errors import DecisionRefused, RunNotFound

QUEUE_RETRY_AFTER_S = 30
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class ApiError(Exception):
    """A request the edge refuses before the service sees it (a signature, the token, the body's size
    or type, a payload of the wrong kind): the status (4xx) and a reason for the caller."""

    def __init__(self, status: int, reason: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status, self.reason, self.headers = status, reason, dict(headers or {})


def error(status: int, reason: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(ApiErrorBody(error=reason).model_dump(), status_code=status, headers=headers)


def problems(errors: Sequence[Any]) -> str:
    """FastAPI's validation errors in one line: ``field: what is wrong; ...`` (``body`` for the whole)."""
    return "; ".join(
        f"{'.'.join(str(part) for part in e['loc'][1:]) or e['loc'][0]}: {e['msg']}" for e in errors
    )


def invalid(exc: RequestValidationError) -> ApiError:
    """400 for a body that is not JSON at all, 422 for one whose fields are wrong."""
    broken = next((e for e in exc.errors() if e["type"] == "json_invalid"), None)
    if broken is not None:
        where = broken["loc"][-1]
        return ApiError(400, f"the body is not valid JSON: {broken['ctx']['error']} at position {where}")
    return ApiError(422, f"invalid request: {problems(exc.errors())}")


def install(app: FastAPI) -> None:
    """Register the handlers that turn every refusal into ``ApiErrorBody``."""

    @app.exception_handler(ApiError)
    async def refused_at_the_edge(request: Request, exc: ApiError) -> JSONResponse:
        return error(exc.status, exc.reason, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def not_valid(request: Request, exc: RequestValidationError) -> JSONResponse:
        refusal = invalid(exc)
        return error(refusal.status, refusal.reason)

    @app.exception_handler(RunNotFound)
    @app.exception_handler(NoReportYet)
    async def not_found(request: Request, exc: Exception) -> JSONResponse:
        return error(404, str(exc))

    @app.exception_handler(DecisionRefused)
    async def senseless(request: Request, exc: DecisionRefused) -> JSONResponse:
        return error(422, str(exc))

    @app.exception_handler(DescriptionTooLong)
    async def too_long(request: Request, exc: DescriptionTooLong) -> JSONResponse:
        return error(413, str(exc))

    @app.exception_handler(QueueFull)
    async def queue_full(request: Request, exc: QueueFull) -> JSONResponse:
        return error(429, f"{exc}; try again later", {"Retry-After": str(QUEUE_RETRY_AFTER_S)})

    @app.exception_handler(HTTPException)
    async def not_served(request: Request, exc: HTTPException) -> JSONResponse:
        """Unknown paths and methods get the one error shape. A 405's Allow lists every method served
        on the path (Starlette's names only those of the first route whose path matched): each method
        is tried on the routes, included routers and all."""
        if exc.status_code != 405:
            return error(exc.status_code, f"{exc.detail}: {request.method} {request.url.path}", exc.headers)
        allowed = ", ".join(
            method
            for method in sorted(METHODS)
            if any(
                route.matches({**request.scope, "method": method})[0] == Match.FULL
                for route in request.app.router.routes
            )
        )
        reason = f"{request.method} is not served on {request.url.path}; use {allowed}"
        return error(405, reason, {"Allow": allowed})
