"""``GET /health``: is the server up; which model, integrations and sandbox (``server.health``)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from server.deps import edge
from server.health import HealthReport
from server.models import Health
from server.routing import EdgeRoute

router = APIRouter(route_class=EdgeRoute)


async def health_report(request: Request) -> HealthReport:
    return edge(request).health


@router.get(
    "/health",
    summary="Is the server up; which model and integrations",
    responses={200: {"description": "The server is up."}},
    response_model_exclude_unset=True,
)
async def health(report: Annotated[HealthReport, Depends(health_report)]) -> Health:
    return await report.health()
