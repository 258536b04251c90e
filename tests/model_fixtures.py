"""Fixtures for tests that need a model: the scripted server on 127.0.0.1 and clients pointing at it.

Use from a test module with ``pytest_plugins = ["tests.model_fixtures"]``, then take the
``scripted_server`` fixture, ``.load({...})`` scripts into it and build a client with
``scripted_client(server)``. One server runs per test session; ``scripted_server`` clears its scripts
and request log before each test; the clients a test built are closed after it.

PYTEST_DONT_REWRITE: test modules import helpers from here before pytest loads it as a plugin, and this
module has no assertions to rewrite.
"""

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from client import ModelClient
from client.scripted import ScriptedModelServer
from config import ModelSettings


class SleepRecorder:
    """A stand-in for ``asyncio.sleep`` that returns at once and remembers each delay asked for."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def scripted_client(
    server: ScriptedModelServer, *, sleep: SleepRecorder | None = None, **settings: Any
) -> ModelClient:
    """A ``ModelClient`` for ``server``: backoff sleeps recorded, not slept; jitter fixed at its maximum.

    ``settings`` are ``ModelSettings`` fields (``name``, ``fallback``, ``max_attempts``, ``pricing``, ...).
    """
    client = ModelClient(
        ModelSettings(base_url=server.base_url, **settings),
        api_key=None,
        sleep=sleep if sleep is not None else SleepRecorder(),
        jitter=lambda: 1.0,
    )
    _built.append(client)
    return client


_built: list[ModelClient] = []


@pytest.fixture(autouse=True)
async def _close_scripted_clients() -> AsyncIterator[None]:
    """Close the clients ``scripted_client`` built during the test (each holds its HTTP connections)."""
    yield
    while _built:
        await _built.pop().aclose()


@pytest.fixture(scope="session")
def _model_server_session() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer() as server:
        yield server


@pytest.fixture
def scripted_server(_model_server_session: ScriptedModelServer) -> ScriptedModelServer:
    """The session's scripted model server, with no scripts and an empty request log."""
    _model_server_session.load({})
    return _model_server_session
