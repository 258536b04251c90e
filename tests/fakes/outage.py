"""A proxy in front of a fake service, as real Slack, GitHub and Jira sit behind load balancers, with the
outages such a proxy shows. Nightshift is pointed at the proxy; the fake behind it records what landed.

    with Outage(fake.url) as proxy:          # proxy.url instead of fake.url
        proxy.fail("html")                   # answer every request with an HTML 502 or 503 page
        proxy.fail("refuse")                 # stop listening: every connection is refused
        proxy.fail("hang", only="POST /pulls")  # pass the request on (it takes effect), hold the answer
        proxy.restore()                      # pass everything through again
        proxy.failed                         # requests answered with an error page or held so far

While ``fail`` is on, every request (or those matching ``only``: a method and a path substring) fails in
that way. A held request is answered, with nothing useful, after ``hang_s``, long after any client of
Nightshift gave up. Requests keep their ``Host`` header, so the URLs a fake puts in its answers point
back at the proxy.

PYTEST_DONT_REWRITE
"""

import threading
from types import TracebackType
from typing import Literal, Self

import anyio
import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from client.scripted.threaded import ThreadedServer

Fault = Literal["html", "refuse", "hang"]
PAGE = (
    "<html><head><title>{status} {reason}</title></head><body><center><h1>{status} {reason}</h1></center>"
    "<hr><center>nginx</center></body></html>"
)
_REASONS = {502: "Bad Gateway", 503: "Service Temporarily Unavailable"}


class Outage:
    def __init__(self, target: str, *, hang_s: float = 5.0) -> None:
        self.target = target.rstrip("/")
        self.hang_s = hang_s
        self.failed = 0
        self._fault: Fault | None = None
        self._only: tuple[str, str] | None = None
        self._lock = threading.Lock()
        self._app = Starlette(
            routes=[Route("/{path:path}", self._handle, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])]
        )
        self._server: ThreadedServer | None = ThreadedServer(self._app, name="outage proxy")
        self.port = self._server.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail(self, fault: Fault, *, only: str | None = None) -> None:
        """From now on, fail the matching requests: ``html`` pages, ``refuse`` connections, or ``hang``."""
        with self._lock:
            self._fault = fault
            self._only = tuple(only.split(" ", 1)) if only else None  # type: ignore[assignment]
        if fault == "refuse" and self._server is not None:
            self._server.stop()
            self._server = None

    def restore(self) -> None:
        """Pass every request through again (listening again after ``refuse``)."""
        with self._lock:
            self._fault, self._only = None, None
        if self._server is None:
            self._server = ThreadedServer(self._app, name="outage proxy", port=self.port).start()

    def __enter__(self) -> Self:
        assert self._server is not None
        self._server.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.stop()

    def _failing(self, request: Request) -> Fault | None:
        with self._lock:
            fault, only = self._fault, self._only
        if fault is None or (
            only is not None and (request.method != only[0] or only[1] not in request.url.path)
        ):
            return None
        with self._lock:
            self.failed += 1
        return fault

    async def _handle(self, request: Request) -> Response:
        fault = self._failing(request)
        if fault == "html":
            status = 502 if self.failed % 2 else 503
            return HTMLResponse(PAGE.format(status=status, reason=_REASONS[status]), status_code=status)
        answer = await self._forward(request)
        if fault == "hang":
            await anyio.sleep(self.hang_s)
            return Response(status_code=504)
        return answer

    async def _forward(self, request: Request) -> Response:
        url = f"{self.target}{request.url.path}" + (f"?{request.url.query}" if request.url.query else "")
        headers = [
            (k, v) for k, v in request.headers.items() if k.lower() not in ("content-length", "connection")
        ]
        async with httpx.AsyncClient(timeout=30, follow_redirects=False) as client:
            answer = await client.request(request.method, url, content=await request.body(), headers=headers)
        passed = {
            k: v
            for k, v in answer.headers.items()
            if k.lower() not in ("content-length", "content-encoding", "transfer-encoding", "connection")
        }
        return Response(answer.content, status_code=answer.status_code, headers=passed)
