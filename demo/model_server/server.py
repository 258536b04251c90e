"""Run the scripted model server on 127.0.0.1: in a background thread (tests, demo) or in the foreground."""

import socket
import threading
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Self

import uvicorn

from demo.model_server.app import RecordedRequest, ScriptBook, create_app, hide_scripted_drops
from demo.model_server.script import Turn

_START_TIMEOUT_S = 10.0


class ScriptedModelServer:
    """An OpenAI-compatible endpoint that replays scripted turns and records every request.

    Use as a context manager (``with ScriptedModelServer(scripts) as server: server.base_url``);
    ``port=0`` picks a free port.
    """

    def __init__(
        self,
        scripts: Mapping[str, Sequence[Turn | Mapping[str, Any]]] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.book = ScriptBook(scripts or {})
        self._socket = socket.create_server((host, port))
        self._host, self._port = self._socket.getsockname()[:2]
        config = uvicorn.Config(
            create_app(self.book), log_config=None, log_level="warning", access_log=False, lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        hide_scripted_drops()

    @property
    def base_url(self) -> str:
        """The endpoint to give an OpenAI client, e.g. ``http://127.0.0.1:PORT/v1``."""
        return f"http://{self._host}:{self._port}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received since the last ``load``, in arrival order."""
        return self.book.requests

    def load(self, scripts: Mapping[str, Sequence[Turn | Mapping[str, Any]]]) -> None:
        """Replace the scripts (every pointer back to turn 0) and clear the request log."""
        self.book.load(scripts)

    def start(self) -> Self:
        """Serve from a background thread; return once the server accepts connections."""
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name="scripted-model-server",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(
                    f"the scripted model server on {self.base_url} failed to start (see the log)"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"the scripted model server on {self.base_url} did not start in {_START_TIMEOUT_S}s"
                )
            time.sleep(0.01)
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (Ctrl-C)."""
        self._server.run(sockets=[self._socket])

    def stop(self) -> None:
        """Stop at once: streams still in flight (a scripted stall) are cancelled, not awaited."""
        self._server.should_exit = True
        self._server.force_exit = True
        if self._thread is not None:
            self._thread.join(timeout=_START_TIMEOUT_S)
            self._thread = None
        self._socket.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
