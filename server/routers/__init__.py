"""The server's routes, one router per resource: ``health``, ``metrics``, ``runs`` (the operator API),
``pages`` (the web pages) and ``webhooks`` (one module per sender)."""

from fastapi import APIRouter

from server.routers import health, metrics, pages, runs
from server.routers.webhooks import ROUTERS as WEBHOOKS

ROUTERS: tuple[APIRouter, ...] = (health.router, metrics.router, *WEBHOOKS, runs.router, pages.router)
