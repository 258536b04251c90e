"""The ASGI app: ``create_app`` puts the routers (``server.routers``), the error handlers
(``server.errors``) and the running server's parts (``server.running``) together.

Only the ``server`` package imports the web framework.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from config import VERSION, Settings, load_settings
from documents.web import STATIC_DIR, STATIC_ROOT
from server import errors
from server.openapi import TAGS, configure_document
from server.routers import ROUTERS
from server.running import frozen_start_up, running_server


def create_app(settings: Settings | None = None, *, whole_process: bool = False) -> FastAPI:
    """The ASGI app. Settings are read at start-up (``uvicorn main:app`` reads them from the env).
    ``whole_process``: the server is what the process is for (``nightshift serve``, ``uvicorn
    main:app``), so what it made while starting is left out of garbage collection once it is up
    (``server.running.frozen_start_up``).

    The OpenAPI document FastAPI builds from the routes is finished for this server's configuration
    (API token, webhook signatures, limits) when it is first asked for.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running_server(settings or load_settings()) as edge:
            app.state.edge = edge
            with frozen_start_up() if whole_process else nullcontext():
                yield

    app = FastAPI(
        title="Nightshift",
        version=VERSION,
        description='An autonomous on-call engineer. Every error answer is `{"error": "<reason>"}`.',
        openapi_tags=TAGS,
        lifespan=lifespan,
        redoc_url=None,
    )
    for router in ROUTERS:
        app.include_router(router)
    app.mount(STATIC_ROOT, StaticFiles(directory=STATIC_DIR), name="static")  # the pages' CSS and JS
    errors.install(app)
    plain_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            served_with = settings if settings is not None else app.state.edge.settings
            app.openapi_schema = configure_document(plain_openapi(), served_with)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
