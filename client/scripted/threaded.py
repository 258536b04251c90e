"""An ASGI app served by uvicorn on 127.0.0.1 from a background thread (the scripted model,
the fakes, tests and demo)."""

import socket
import threading
import time
from types import TracebackType
from typing import Any, Self

import uvicorn

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 60.0
"""How long ``stop`` waits for an app with a lifespan to shut down: its engine stops, and the work its
threads still do (a forge call retrying, say) ends before the fakes it talks to are closed."""


class ThreadedServer:
    """``with ThreadedServer(app, name=...) as server: server.url``; ``port=0`` picks a free port;
    ``certificate`` (a PEM file holding the key and the certificate chain) serves HTTPS."""

    def __init__(
        self,
        app: Any,
        *,
        name: str,
        host: str = "127.0.0.1",
        port: int = 0,
        lifespan: bool = False,
        certificate: str | None = None,
    ) -> None:
        self.name = name
        self.scheme = "https" if certificate else "http"
        self._socket = socket.create_server((host, port))
        self.host, self.port = self._socket.getsockname()[:2]
        self._lifespan = lifespan
        config = uvicorn.Config(
            app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="on" if lifespan else "off",
            timeout_graceful_shutdown=5,
            ssl_certfile=certificate,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https`` with a certificate; no trailing slash)."""
        return f"{self.scheme}://{self.host}:{self.port}"

    def start(self) -> Self:
        """Serve from a background thread; return once the server accepts connections."""
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name=self.name, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"the {self.name} on {self.url} failed to start (see the log)")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the {self.name} on {self.url} did not start in {START_TIMEOUT_S}s")
            time.sleep(0.01)
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (Ctrl-C)."""
        self._server.run(sockets=[self._socket])

    def stop(self) -> None:
        """Stop. Without a lifespan at once (responses in flight are cancelled); with one, gracefully, so
        the app's shutdown runs (open streams get at most 5 seconds)."""
        self._server.should_exit = True
        self._server.force_exit = not self._lifespan
        if self._thread is not None:
            self._thread.join(timeout=STOP_TIMEOUT_S if self._lifespan else START_TIMEOUT_S)
            self._thread = None
        self._socket.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
