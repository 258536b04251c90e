"""web_fetch against real HTTP servers on loopback; web_search failing fast at the network edge."""

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from config import SafetySettings
from tests.tools_fixtures import make_context, tool_ctx_fixture, workspace_fixture  # noqa: F401 (fixtures)
from tools import ToolContext, ToolOutcome, builtin_registry

PAGE = """<!doctype html>
<html><head><title>Release notes</title>
<style>body { color: red; }</style>
<script>alert("tracking")</script></head>
<body><h1>Version   2.0</h1>
<p>Fixes the <b>overflow</b> in
   <code>parse()</code> &amp; more.</p>
<ul><li>first</li><li>second</li></ul>
</body></html>"""


@dataclass
class Server:
    base: str
    hits: list[str] = field(default_factory=list)


def _serve(host: str, routes: dict[str, tuple[int, dict[str, str], bytes]]) -> Iterator[Server]:
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            status, headers, body = routes.get(self.path, (404, {"Content-Type": "text/plain"}, b"not found"))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield Server(f"http://{host}:{server.server_address[1]}", hits)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def other_host() -> Iterator[Server]:
    """A server on another loopback address (127.0.0.2) that is not allowlisted."""
    yield from _serve("127.0.0.2", {"/secret": (200, {"Content-Type": "text/plain"}, b"internal data")})


@pytest.fixture
def site(other_host: Server) -> Iterator[Server]:
    routes = {
        "/page": (200, {"Content-Type": "text/html; charset=utf-8"}, PAGE.encode()),
        "/data.json": (200, {"Content-Type": "application/json"}, b'{"ok": true}'),
        "/big": (200, {"Content-Type": "text/plain"}, b"x" * 50_000),
        "/logo.png": (200, {"Content-Type": "image/png"}, b"\x89PNG\r\n\x1a\n" + b"\0" * 100),
        "/moved": (302, {"Location": "/page"}, b""),
        "/escape": (302, {"Location": f"{other_host.base}/secret"}, b""),
        "/loop": (302, {"Location": "/loop"}, b""),
    }
    yield from _serve("127.0.0.1", routes)


def allowing_loopback(workspace: Path, tmp_path: Path, **tool_settings: Any) -> ToolContext:
    safety = SafetySettings(allow_hosts=["127.0.0.1"])
    return make_context(workspace, tmp_path / "state", safety=safety, **tool_settings)


async def fetch(ctx: ToolContext, url: str) -> ToolOutcome:
    return await builtin_registry().select(["web_fetch"])[0].invoke(ctx, {"url": url})


async def test_html_becomes_readable_text(site: Server, workspace: Path, tmp_path: Path) -> None:
    outcome = await fetch(allowing_loopback(workspace, tmp_path), f"{site.base}/page")
    assert not outcome.is_error, outcome.text
    header, text = outcome.text.split("\n\n", 1)
    assert header.startswith(f"{site.base}/page (text/html,")
    assert text == "Release notes\n\nVersion 2.0\n\nFixes the overflow in parse() & more.\n\nfirst\n\nsecond"
    json_doc = await fetch(allowing_loopback(workspace, tmp_path), f"{site.base}/data.json")
    assert json_doc.text.endswith('\n\n{"ok": true}')


async def test_loopback_is_refused_unless_allowlisted(site: Server, tool_ctx: ToolContext) -> None:
    outcome = await fetch(tool_ctx, f"{site.base}/page")
    assert outcome.is_error and "loopback" in outcome.text
    assert site.hits == [], "the request must be refused before it is sent"


async def test_every_redirect_hop_is_checked(
    site: Server, other_host: Server, workspace: Path, tmp_path: Path
) -> None:
    ctx = allowing_loopback(workspace, tmp_path)
    followed = await fetch(ctx, f"{site.base}/moved")
    assert not followed.is_error and "Version 2.0" in followed.text
    escaped = await fetch(ctx, f"{site.base}/escape")
    assert escaped.is_error and "127.0.0.2" in escaped.text and "loopback" in escaped.text
    assert other_host.hits == []
    looping = await fetch(ctx, f"{site.base}/loop")
    assert looping.is_error and "redirects" in looping.text
    assert site.hits.count("/loop") == 6


async def test_size_cap_and_binary_refusal(site: Server, workspace: Path, tmp_path: Path) -> None:
    ctx = allowing_loopback(workspace, tmp_path, web_max_bytes=1000)
    big = await fetch(ctx, f"{site.base}/big")
    assert not big.is_error
    header, text = big.text.split("\n\n", 1)
    assert header.endswith("1000 bytes, cut at 1000 bytes)") and text == "x" * 1000
    image = await fetch(ctx, f"{site.base}/logo.png")
    assert image.is_error and "image/png" in image.text
    missing = await fetch(ctx, f"{site.base}/nowhere")
    assert missing.is_error and "HTTP 404" in missing.text


async def test_web_search_fails_clearly_without_a_reachable_service(
    tool_ctx: ToolContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:  # a port nobody listens on: connections are refused at once
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    monkeypatch.setenv("DDGS_PROXY", f"http://127.0.0.1:{closed_port}")
    outcome = await builtin_registry().select(["web_search"])[0].invoke(tool_ctx, {"query": "pytest timeout"})
    assert outcome.is_error
    assert outcome.text.startswith("web search failed: ")
    assert outcome.text.endswith("; the search service could not be reached")
    assert "no answer within" not in outcome.text, "the failure must come from the refused connection"
