"""``GET /metrics``: Prometheus's text format (``telemetry.metrics``), behind the API token unless
``[server] public_metrics = true``."""

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from prometheus_client.exposition import choose_encoder

from server.deps import Authorizer, BearerToken, client_host, edge
from server.openapi import OPERATOR, errors
from server.routing import EdgeRoute

router = APIRouter(route_class=EdgeRoute, tags=[OPERATOR])


async def scraper(request: Request, authorizer: Authorizer, token: BearerToken) -> None:
    """Who may read the metrics: anyone with ``public_metrics``, else as for the API's changes."""
    if not edge(request).settings.server.public_metrics:
        authorizer.authorize(token, client_host(request))


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {
            "description": "The metrics in Prometheus's text format, or OpenMetrics when the Accept header "
            "asks for it (docs/operations.md lists them).",
            "content": {
                "text/plain": {"schema": {"type": "string"}},
                "application/openmetrics-text": {"schema": {"type": "string"}},
            },
        },
        **errors(401),
    },
)
async def metrics(request: Request, _allowed: Annotated[None, Depends(scraper)]) -> Response:
    """The format the scraper asks for (Prometheus's text format, or OpenMetrics), read in a thread:
    the database's figures are read at each scrape."""
    encode, media_type = choose_encoder(request.headers.get("accept", ""))
    exposition = await asyncio.to_thread(encode, edge(request).metrics)
    return Response(exposition, media_type=media_type)
