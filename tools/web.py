"""Web tools: web_fetch (one URL as readable text) and web_search (DuckDuckGo and friends via ddgs).

web_fetch never lets httpx follow a redirect: every hop is checked by ``safety.network.check_url``
first, so a public page cannot bounce the fetch to a loopback, private or link-local address.
"""

import asyncio
import math
import re
from html.parser import HTMLParser
from typing import Any

import httpx
from ddgs import DDGS

from safety.network import check_url
from tools.context import ToolContext
from tools.errors import ToolError
from tools.text import looks_binary

MAX_REDIRECTS = 5
MAX_SEARCH_RESULTS = 8
_TEXT_TYPES = ("application/json", "application/xml", "application/javascript", "application/x-yaml")
_HTML_TYPES = ("text/html", "application/xhtml+xml")


async def web_fetch(ctx: ToolContext, url: str) -> str:
    """Fetch a web page or text document (HTML is turned into readable text).

    Args:
        url: An http:// or https:// URL.
    """
    timeout = ctx.settings.web_timeout_s
    try:
        async with asyncio.timeout(timeout):
            return await _fetch(ctx, url)
    except TimeoutError:
        raise ToolError(f"fetching {url} took longer than {timeout:g} s") from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise ToolError(f"could not fetch {url}: {type(exc).__name__}: {exc}") from None


async def _fetch(ctx: ToolContext, url: str) -> str:
    async with httpx.AsyncClient(
        follow_redirects=False, timeout=ctx.settings.web_timeout_s, trust_env=False
    ) as client:
        for _ in range(MAX_REDIRECTS + 1):
            await check_url(url, allow_hosts=ctx.safety.allow_hosts)
            async with client.stream("GET", url) as response:
                if response.is_redirect:
                    url = str(response.url.join(response.headers["location"]))
                    continue
                return await _read(response, ctx.settings.web_max_bytes)
    raise ToolError(f"gave up after {MAX_REDIRECTS} redirects; the last one pointed to {url}")


async def _read(response: httpx.Response, max_bytes: int) -> str:
    url = str(response.url)
    if response.status_code >= 400:
        raise ToolError(f"{url} answered HTTP {response.status_code} {response.reason_phrase}")
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    textual = (
        content_type.startswith("text/")
        or content_type in _TEXT_TYPES
        or content_type.endswith(("+json", "+xml"))
    )
    if content_type and not textual and content_type not in _HTML_TYPES:
        raise ToolError(f"{url} is {content_type}, not text; web_fetch reads only HTML, text and JSON")
    body = bytearray()
    truncated = False
    async for chunk in response.aiter_bytes():
        body.extend(chunk)
        if len(body) > max_bytes:
            del body[max_bytes:]
            truncated = True
            break
    if not content_type and looks_binary(bytes(body)):
        raise ToolError(f"{url} returned binary content; web_fetch reads only HTML, text and JSON")
    text = _decode(bytes(body), response.encoding)
    if content_type in _HTML_TYPES:
        text = html_to_text(text)
    note = f", cut at {max_bytes} bytes" if truncated else ""
    return f"{url} ({content_type or 'no content type'}, {len(body)} bytes{note})\n\n{text}"


def _decode(body: bytes, encoding: str | None) -> str:
    try:
        return body.decode(encoding or "utf-8", errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


_SKIP = {"script", "style", "noscript", "template", "svg", "iframe"}
_BLOCK = {
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption", "footer",
    "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre",
    "section", "table", "td", "th", "title", "tr", "ul",
}  # fmt: skip


class _Readable(HTMLParser):
    """Collects the visible text of a page; block elements start new lines, other whitespace is one space."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skipping += 1
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    """Visible text of an HTML page: no scripts, styles or tags; whitespace collapsed."""
    parser = _Readable()
    parser.feed(html)
    parser.close()
    lines = (line.strip() for line in "".join(parser.parts).split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


async def web_search(ctx: ToolContext, query: str) -> str:
    """Search the web; returns numbered results with title, URL and snippet.

    Args:
        query: What to search for.
    """
    timeout = ctx.settings.web_timeout_s
    try:
        async with asyncio.timeout(timeout):  # not wait_for: on 3.11 it can swallow a cancellation
            results = await asyncio.to_thread(_search, query, timeout)
    except TimeoutError:
        reason = f"no answer within {timeout:g} s"
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
    else:
        if not results:
            return f"no results for {query!r}"
        return "\n\n".join(
            f"{number}. {item.get('title', '')}\n   {item.get('href', '')}\n   {item.get('body', '')}"
            for number, item in enumerate(results, start=1)
        )
    raise ToolError(f"web search failed: {reason}; the search service could not be reached")


def _search(query: str, timeout: float) -> list[dict[str, Any]]:
    """One blocking ddgs text search (ddgs honours the ``DDGS_PROXY`` environment variable)."""
    with DDGS(timeout=math.ceil(timeout)) as ddgs:
        return ddgs.text(query, max_results=MAX_SEARCH_RESULTS)
