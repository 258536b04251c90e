"""The web pages: pure-function checks of the HTML, then the real pages in a real headless Chromium.

The browser tests serve the pages from ``FakeAdapter``, a small Starlette app that behaves like the
HTTP adapter: the pages with the strict Content-Security-Policy and a fresh nonce per request, an SSE
stream that replays the run's events and then follows the ones the test pushes, and decision endpoints
that check the token or link signature and record the form.
"""

import asyncio
import json
import secrets
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from playwright.sync_api import Page, ViewportSize, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from client.scripted.threaded import ThreadedServer
from documents.briefing import build_briefing
from documents.facts import AgentFacts, DeliveryFacts, RunFacts, Ticket
from documents.web import MAX_DIFF_LINES, REFRESH_S, STATIC_DIR, STATIC_ROOT, run_page, runs_page
from tests.browser_fixtures import BROWSER_TEST_TIMEOUT_S, Chromium, PageLog, browser_fixture  # noqa: F401
from tests.documents_fixtures import T0, agent, verified_run

CSP = (
    "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; connect-src 'self'; "
    "form-action 'self'; img-src 'self' data:"
)
TOKEN = "s3cret-token"
SIG = 'sig-"&<abc>'
PR_URL = "https://github.example/acme/payments/pull/7"
HOSTILE_TITLE = "<script>alert(1)</script>"
HOSTILE_DESCRIPTION = '"><img src=x onerror=alert(2)> and </pre><b>bold</b>'
HOSTILE_DELTA = "<img src=x onerror=alert(3)>"
URLS = {
    "cancel_url": "/runs/run-1/cancel",
    "events_url": "/runs/run-1/events",
    "approve_url": "/runs/run-1/approve",
    "request_changes_url": "/runs/run-1/request-changes",
}
PHONE: ViewportSize = {"width": 375, "height": 740}
"""A phone's viewport: the pages fit its width (wide tables scroll inside their own box)."""
browser_test = pytest.mark.timeout(BROWSER_TEST_TIMEOUT_S)


# -- pure functions ------------------------------------------------------------------------------------


@dataclass
class Element:
    tag: str
    attrs: dict[str, str | None]


class Elements(HTMLParser):
    """Every start tag of a document, with its attributes as the browser would read them."""

    def __init__(self, document: str) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[Element] = []
        self.feed(document)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append(Element(tag, dict(attrs)))

    def by_id(self, ident: str) -> Element | None:
        return next((e for e in self.found if e.attrs.get("id") == ident), None)

    def tags(self, tag: str) -> list[Element]:
        return [e for e in self.found if e.tag == tag]


def page_of(facts: RunFacts, *, token_field: str | None = "token", link_sig: str | None = None) -> str:
    return run_page(
        facts,
        build_briefing(facts),
        token_field=token_field,
        link_sig=link_sig,
        nonce="n0nce",
        now=T0,
        **URLS,
    )


def running_run(title: str = "Refunds show up as charges", description: str = "") -> RunFacts:
    return RunFacts(
        run_id="run-1",
        ticket=Ticket(key="PAY-42", title=title, description=description, source="slack"),
        status="running",
    )


def awaiting_run(**changes: Any) -> RunFacts:
    return verified_run().model_copy(update={"run_id": "run-1", "revision": 1, "decisions": [], **changes})


def test_hostile_text_is_escaped_and_only_our_nonced_script_runs() -> None:
    facts = awaiting_run(
        ticket=Ticket(
            key="PAY-42",
            title=HOSTILE_TITLE,
            description=HOSTILE_DESCRIPTION,
            reporter="<b>mallory</b>",
            labels=["<i>x</i>"],
        )
    )
    assert facts.fix is not None
    facts.fix = facts.fix.model_copy(update={"diff": "+<script>alert(4)</script>\n-</pre><img src=y>"})
    facts.agents["code"] = agent("code", status="failed", message='crashed: <svg onload="alert(5)">')
    document = page_of(facts)
    elements = Elements(document)

    assert [e.tag for e in elements.found].count("script") == 1
    stylesheets = [e for e in elements.tags("link") if e.attrs.get("rel") == "stylesheet"]
    assert len(stylesheets) == 1 and not elements.tags("style")
    assert all(e.attrs.get("nonce") == "n0nce" for e in elements.tags("script") + stylesheets)
    assert not elements.tags("img") and not elements.tags("svg") and not elements.tags("i")
    assert not [e for e in elements.found if any(name.startswith("on") for name in e.attrs)]
    assert not [e for e in elements.found if "style" in e.attrs]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in document
    assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in document
    assert '<span class="d-add">+&lt;script&gt;alert(4)&lt;/script&gt;</span>' in document
    status = elements.by_id("agent-code-status")
    assert status is not None and status.attrs["title"] == 'failed (crashed: <svg onload="alert(5)">)'


def test_decision_forms_only_while_the_run_awaits_a_decision() -> None:
    awaiting = Elements(page_of(awaiting_run()))
    approve, changes = awaiting.by_id("approve-form"), awaiting.by_id("changes-form")
    assert approve is not None and changes is not None
    assert (approve.attrs["method"], approve.attrs["action"]) == ("post", URLS["approve_url"])
    assert (changes.attrs["method"], changes.attrs["action"]) == ("post", URLS["request_changes_url"])
    feedback = awaiting.by_id("feedback")
    assert feedback is not None and feedback.tag == "textarea" and feedback.attrs["name"] == "feedback"

    for status in ("running", "verifying", "shipped", "cancelled", "failed", "expired"):
        elements = Elements(page_of(awaiting_run(status=status)))
        assert elements.by_id("approve-form") is None and elements.by_id("changes-form") is None, status

    approving = page_of(awaiting_run(status="approving"))
    assert '<p id="decision-status" role="status" aria-live="polite">Approving...</p>' in approving
    assert Elements(approving).by_id("approve-form") is None


def test_forms_carry_the_link_signature_or_the_token_input_and_the_revision() -> None:
    def fields(document: str) -> list[dict[str, str | None]]:
        return [e.attrs for e in Elements(document).tags("input")]

    signed = fields(page_of(awaiting_run(), token_field=None, link_sig=SIG))
    assert {"type": "hidden", "name": "sig", "value": SIG} in signed
    assert signed.count({"type": "hidden", "name": "revision", "value": "1"}) == 3  # approve, changes, cancel
    assert not [f for f in signed if f["type"] == "password"]

    with_token = fields(page_of(awaiting_run(revision=3), token_field="token"))
    tokens = [f for f in with_token if f["type"] == "password"]
    assert [f["name"] for f in tokens] == ["token", "token", "token"]
    assert [f["id"] for f in tokens] == ["approve-token", "changes-token", "cancel-token"]
    assert not [f for f in with_token if f["name"] == "sig"]
    assert with_token.count({"type": "hidden", "name": "revision", "value": "3"}) == 3


def test_pull_request_link_and_unsafe_urls() -> None:
    shipped = Elements(page_of(awaiting_run(status="shipped", pr_url=PR_URL)))
    link = shipped.by_id("pr-link")
    assert link is not None and link.attrs["href"] == PR_URL
    assert "hidden" not in (shipped.by_id("pr") or Element("p", {"hidden": ""})).attrs

    pending = Elements(page_of(awaiting_run()))
    assert "href" not in (pending.by_id("pr-link") or Element("a", {"href": "?"})).attrs
    assert "hidden" in (pending.by_id("pr") or Element("p", {})).attrs

    hostile = awaiting_run(status="shipped", pr_url="javascript:alert(1)")
    hostile.ticket = hostile.ticket.model_copy(update={"url": "JavaScript:alert(2)"})
    elements = Elements(page_of(hostile))
    assert not [e for e in elements.tags("a") if "javascript" in (e.attrs.get("href") or "").lower()]


def test_diff_lines_are_coloured_and_a_long_diff_is_cut() -> None:
    facts = awaiting_run()
    document = page_of(facts)
    assert '<span class="d-hunk">@@ -10,6 +10,7 @@' in document
    assert '<span class="d-del">-    if cleaned.startswith(&#34;-&#34;):</span>' in document
    assert '<span class="d-add">+    negative = cleaned.startswith(&#34;-&#34;)</span>' in document
    assert '<span class="d-meta">+++ b/billing/amounts.py</span>' in document

    assert facts.fix is not None
    long_diff = "\n".join(f"+line {n}" for n in range(MAX_DIFF_LINES + 25))
    facts.fix = facts.fix.model_copy(update={"diff": long_diff})
    cut = page_of(facts)
    assert f"+line {MAX_DIFF_LINES - 1}<" in cut and f"+line {MAX_DIFF_LINES}<" not in cut
    assert "25 more lines not shown" in cut


def test_progress_table_shows_every_agent_from_the_facts() -> None:
    facts = running_run()
    facts.agents["code"] = AgentFacts(
        name="code",
        status="running",
        started_at=T0 - timedelta(minutes=2, seconds=5),
        turns=4,
        input_tokens=12_345,
        output_tokens=678,
    )
    document = page_of(facts)
    elements = Elements(document)
    rows = [e.attrs["data-agent"] for e in elements.tags("tr") if "data-agent" in e.attrs]
    assert rows == ["triage", "code", "test", "pr"]
    assert '<td id="agent-code-tokens" class="num">12,345 / 678</td>' in document
    assert '<td id="agent-code-elapsed" class="num">2:05</td>' in document
    assert '<td id="agent-triage-status" class="status-pending">pending</td>' in document
    assert (elements.by_id("run") or Element("main", {})).attrs["data-live"] == "1"
    assert (Elements(page_of(awaiting_run(status="shipped"))).by_id("run") or Element("m", {})).attrs[
        "data-live"
    ] == "0"


def test_deliveries_not_out_show_at_the_top_and_keep_a_final_run_live() -> None:
    since = T0 + timedelta(minutes=30)
    waiting = DeliveryFacts(
        kind="pull_request",
        service="github",
        what="pull request",
        state="pending",
        attempts=3,
        last_error="GitHub: HTTP 502: <b>Bad Gateway</b>",
        last_status=502,
        failing_since=since,
        next_attempt_at=since + timedelta(minutes=1),
    )
    out = DeliveryFacts(
        kind="briefing",
        service="slack",
        what="briefing message",
        state="delivered",
        attempts=1,
        delivered_at=since,
    )
    facts = awaiting_run(status="shipped")
    document = run_page(
        facts,
        build_briefing(facts),
        deliveries=[out, waiting],
        token_field=None,
        link_sig=None,
        nonce="n0nce",
        now=T0,
        **URLS,
    )
    elements = Elements(document)

    assert (elements.by_id("run") or Element("main", {})).attrs["data-live"] == "1"  # the PR may still open
    items = [e.attrs for e in elements.tags("li") if "data-delivery" in e.attrs]
    assert [(i["data-delivery"], i["data-state"]) for i in items] == [
        ("pull_request:pull request", "pending"),
        ("briefing:briefing message", "delivered"),
    ]
    assert "GitHub: pull request not delivered yet — HTTP 502 since 02:30:00 UTC" in document
    assert document.index('id="deliveries"') < document.index('id="progress"')  # above the agents

    delivered = run_page(
        facts,
        build_briefing(facts),
        deliveries=[out],
        token_field=None,
        link_sig=None,
        nonce="n0nce",
        now=T0,
        **URLS,
    )
    assert (Elements(delivered).by_id("run") or Element("main", {})).attrs["data-live"] == "0"
    assert delivered.index('id="deliveries"') > delivered.index('id="progress"')  # all out: further down


def summary(run_id: str, created: datetime | str | None, **extra: Any) -> dict[str, Any]:
    return {
        "id": run_id,
        "key": "PAY-1",
        "title": f"title of {run_id}",
        "status": "running",
        "verdict": None,
        "pr_url": None,
        "cost_usd": 0.0,
        "created_at": created,
        **extra,
    }


def test_runs_page_lists_runs_newest_first_escaped_and_refreshing() -> None:
    runs = [
        summary("run-old", T0 - timedelta(days=2)),
        summary(
            "run-new",
            (T0 - timedelta(seconds=30)).isoformat(),
            title=HOSTILE_TITLE,
            verdict="verified",
            pr_url=PR_URL,
            cost_usd=0.4213,
            status="awaiting_decision",
        ),
        summary("run/odd?", T0 - timedelta(hours=3)),
    ]
    document = runs_page(runs, now=T0, nonce="n0nce")
    elements = Elements(document)
    assert [e.attrs["data-run-id"] for e in elements.tags("tr") if "data-run-id" in e.attrs] == [
        "run-new",
        "run/odd?",
        "run-old",
    ]
    hrefs = [e.attrs["href"] for e in elements.tags("a")]
    assert hrefs == ["/ui/runs/run-new", PR_URL, "/ui/runs/run%2Fodd%3F", "/ui/runs/run-old"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in document and not elements.tags("script")
    assert f'<meta http-equiv="refresh" content="{REFRESH_S}">' in document
    stylesheets = [e for e in elements.tags("link") if e.attrs.get("rel") == "stylesheet"]
    assert [e.attrs.get("nonce") for e in stylesheets] == ["n0nce"]
    for text in (">&lt;1m<", ">3h<", ">2d<", ">awaiting decision<", ">verified<", ">$0.42<"):
        assert text in document
    assert 'id="no-runs"' in runs_page([], now=T0, nonce="n")


# -- the adapter imitation ------------------------------------------------------------------------------


class FakeAdapter:
    """Serves the pages like the HTTP adapter does; the test pushes the run's events and state."""

    def __init__(self) -> None:
        self.runs: dict[str, RunFacts] = {}
        self.created: dict[str, datetime] = {}
        self.decisions: list[dict[str, Any]] = []
        self._events: dict[str, list[dict[str, Any]]] = {}
        self._ids = 0
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self.app = Starlette(
            routes=[
                Route("/ui", self.runs_list),
                Route("/ui/runs/{run_id}", self.run),
                Route("/runs/{run_id}/events", self.events),
                Route("/runs/{run_id}/approve", self.decide, methods=["POST"]),
                Route("/runs/{run_id}/request-changes", self.decide, methods=["POST"]),
                Route("/probe", self.probe),
                Mount(STATIC_ROOT, StaticFiles(directory=STATIC_DIR)),
            ]
        )

    def put(self, facts: RunFacts, created: datetime) -> None:
        """Add the run, or replace its facts (as the workflow's store would)."""
        with self._lock:
            self.runs[facts.run_id] = facts
            self.created[facts.run_id] = created
            self._events.setdefault(facts.run_id, [])

    def update(self, run_id: str, **changes: Any) -> None:
        with self._lock:
            self.runs[run_id] = self.runs[run_id].model_copy(update=changes)

    def push(self, run_id: str, kind: str, agent: str | None = None, **data: Any) -> None:
        """Publish one event, as the event bus would: to every open stream of the run."""
        with self._lock:
            self._ids += 1
            event = {
                "id": self._ids,
                "run_id": run_id,
                "ts": time.time(),
                "kind": kind,
                "agent": agent,
                **data,
            }
            self._events[run_id].append(event)
            waiters = list(self._waiters)
        for loop, wake in waiters:
            loop.call_soon_threadsafe(wake.set)

    @staticmethod
    def _html(document: str, nonce: str) -> HTMLResponse:
        return HTMLResponse(document, headers={"Content-Security-Policy": CSP.format(nonce=nonce)})

    async def runs_list(self, request: Request) -> Response:
        nonce = secrets.token_urlsafe(16)
        with self._lock:
            runs = [
                {
                    "id": f.run_id,
                    "key": f.ticket.key,
                    "title": f.ticket.title,
                    "status": f.status,
                    "verdict": f.verification.verdict if f.verification else None,
                    "revision": f.revision,
                    "shipped_revision": f.shipped_revision,
                    "shipped_verdict": f.shipped_verdict,
                    "pr_url": f.pr_url,
                    "cost_usd": f.cost_usd,
                    "created_at": self.created[f.run_id],
                }
                for f in self.runs.values()
            ]
        return self._html(runs_page(runs, now=datetime.now(UTC), nonce=nonce), nonce)

    async def run(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        nonce = secrets.token_urlsafe(16)
        now = datetime.now(UTC)  # before reading the facts, as the adapter must
        with self._lock:
            facts = self.runs[run_id]
        document = run_page(
            facts,
            build_briefing(facts),
            nonce=nonce,
            now=now,
            events_url=f"/runs/{run_id}/events",
            approve_url=f"/runs/{run_id}/approve",
            request_changes_url=f"/runs/{run_id}/request-changes",
            cancel_url=f"/runs/{run_id}/cancel",
            token_field=None if "sig" in request.query_params else "token",
            link_sig=request.query_params.get("sig"),
        )
        return self._html(document, nonce)

    async def events(self, request: Request) -> Response:
        return StreamingResponse(self._stream(request.path_params["run_id"]), media_type="text/event-stream")

    async def _stream(self, run_id: str) -> AsyncIterator[str]:
        """Every past event of the run, then the ones pushed while the page listens."""
        waiter = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.add(waiter)
        sent = 0
        try:
            yield ": stream open\n\n"
            while True:
                waiter[1].clear()
                with self._lock:
                    batch = self._events[run_id][sent:]
                sent += len(batch)
                for event in batch:
                    yield f"id: {event['id']}\ndata: {json.dumps(event)}\n\n"
                if not batch:
                    await waiter[1].wait()
        finally:
            with self._lock:
                self._waiters.discard(waiter)

    async def decide(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        form = {key: str(value) for key, value in (await request.form()).items()}
        if form.get("token") != TOKEN and form.get("sig") != SIG:
            return JSONResponse(  # the real server's refusal: its one error shape
                {"error": "send Authorization: Bearer <NIGHTSHIFT_API_TOKEN>"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        kind = "approve" if request.url.path.endswith("/approve") else "request_changes"
        with self._lock:
            self.decisions.append({"kind": kind, **form})
        self.update(run_id, status="approving" if kind == "approve" else "revising")
        self.push(run_id, "status", status="approving" if kind == "approve" else "revising")
        return RedirectResponse(f"/ui/runs/{run_id}", status_code=303)

    async def probe(self, request: Request) -> Response:
        """A page that breaks the policy: proves that violations are seen."""
        nonce = secrets.token_urlsafe(16)
        return self._html(
            "<!doctype html><title>probe</title><script>document.title = 'ran';</script>", nonce
        )


@pytest.fixture
def adapter() -> Iterator[tuple[FakeAdapter, str]]:
    fake = FakeAdapter()
    with ThreadedServer(fake.app, name="fake adapter") as server:
        yield fake, server.url


def run_agent_events(fake: FakeAdapter, name: str, tool: str, status: str = "submitted") -> None:
    fake.push("run-1", "started", name, model="gpt-test", tools=[tool])
    fake.push("run-1", "turn_started", name, turn=1)
    fake.push("run-1", "tool_started", name, tool=tool, call_id=f"{name}-1", arguments={})
    fake.push("run-1", "tool_finished", name, tool=tool, call_id=f"{name}-1", duration_s=0.1, is_error=False)
    fake.push(
        "run-1", "finished", name, status=status, message=status, turns=2, duration_s=1.0, cost_usd=0.01
    )


# -- the real browser -----------------------------------------------------------------------------------


@browser_test
def test_run_page_follows_the_agents_live_then_approves_and_shows_the_pr(
    browser: Chromium, adapter: tuple[FakeAdapter, str]
) -> None:
    fake, url = adapter
    fake.put(running_run(), datetime.now(UTC))

    def scenario(page: Page, log: PageLog) -> None:
        page.goto(f"{url}/ui/runs/run-1")
        expect(page.locator("#live-state")).to_have_text("live")
        status, tool = page.locator("#agent-triage-status"), page.locator("#agent-triage-tool")
        expect(status).to_have_text("pending")

        fake.push("run-1", "started", "triage", model="gpt-test", tools=["grep"])
        fake.push("run-1", "turn_started", "triage", turn=1)
        expect(status).to_have_text("running")
        expect(status).to_have_class("status-running")
        expect(page.locator("#agent-triage-turn")).to_have_text("1")
        fake.push(
            "run-1", "tool_started", "triage", tool="grep", call_id="c1", arguments={"pattern": "amount"}
        )
        expect(tool).to_have_text("grep")
        fake.push(
            "run-1", "tool_finished", "triage", tool="grep", call_id="c1", duration_s=0.2, is_error=False
        )
        expect(tool).to_have_text("")
        fake.push("run-1", "text_delta", "triage", text=f"Looking at {HOSTILE_DELTA}")
        expect(page.locator("#agent-triage-activity")).to_have_text(f"Looking at {HOSTILE_DELTA}")
        fake.push("run-1", "usage", "triage", input_tokens=12_345, output_tokens=80, cost_usd=0.01)
        expect(page.locator("#agent-triage-tokens")).to_have_text("12,345 / 80")
        fake.push(
            "run-1",
            "finished",
            "triage",
            status="submitted",
            message="submitted",
            turns=1,
            duration_s=65.0,
            cost_usd=0.01,
        )
        expect(status).to_have_text("submitted")
        expect(tool).to_have_text("")

        run_agent_events(fake, "code", "edit_file")
        run_agent_events(fake, "test", "write_file", status="timeout")
        run_agent_events(fake, "pr", "read_file")
        expect(page.locator("#agent-code-status")).to_have_text("submitted")
        expect(page.locator("#agent-test-status")).to_have_text("timeout")
        expect(page.locator("#agent-test-status")).to_have_class("status-stopped")
        expect(page.locator("#agent-pr-turn")).to_have_text("2")
        assert page.locator("img").count() == 0

        # The run awaits a decision: the page reloads once to show the briefing and the forms.
        fake.put(awaiting_run(), datetime.now(UTC))
        fake.push("run-1", "status", status="awaiting_decision", revision=1)
        expect(page.locator("#approve-button")).to_be_visible()
        expect(page.locator("#points")).to_contain_text("Refunds show up as charges")
        page.evaluate("window.stillThisPage = true")
        fake.push("run-1", "verified", verdict="verified", detail="again")  # after the replay: no reload
        expect(page.locator("#verdict")).to_have_text("verified")
        assert page.evaluate("window.stillThisPage === true")

        page.fill("#approve-token", "wrong")
        page.click("#approve-button")
        expect(page.locator("#decision-error")).to_have_text(
            "Refused (HTTP 401): send Authorization: Bearer <NIGHTSHIFT_API_TOKEN>"
        )
        expect(page.locator("#approve-button")).to_be_enabled()
        page.fill("#approve-token", TOKEN)
        page.click("#approve-button")
        expect(page.locator("#decision-status")).to_have_text("Approving...")
        expect(page.locator("#decision-forms")).to_be_hidden()
        expect(page.locator("#decision-error")).to_have_text("")
        assert fake.decisions == [{"kind": "approve", "token": TOKEN, "revision": "1"}]
        expect(page.locator("#pr-link")).to_be_hidden()

        fake.push("run-1", "pr_opened", url=PR_URL, number=7, created=True)
        expect(page.locator("#pr-link")).to_have_attribute("href", PR_URL)
        expect(page.locator("#pr-link")).to_be_visible()
        assert page.evaluate("window.stillThisPage === true")

        fake.update("run-1", status="shipped", pr_url=PR_URL)
        fake.push("run-1", "status", status="shipped", note=f"shipped: {PR_URL}")
        expect(page.locator("#run")).to_have_attribute("data-live", "0")
        assert page.evaluate("window.stillThisPage === undefined")
        expect(page.locator("#run-status")).to_have_text("shipped")
        expect(page.locator("#pr-link")).to_have_attribute("href", PR_URL)
        assert page.locator("#approve-form").count() == 0
        refused = [error for error in log.console_errors if "401" in error and "/runs/run-1/approve" in error]
        assert len(refused) == 1  # Chromium logs the refused request; nothing else went wrong
        assert [problem for problem in log.problems() if problem not in refused] == []

    browser.run(scenario)


@browser_test
def test_hostile_ticket_renders_as_text_and_a_signed_link_requests_changes(
    browser: Chromium, adapter: tuple[FakeAdapter, str]
) -> None:
    fake, url = adapter
    hostile = Ticket(key="PAY-42", title=HOSTILE_TITLE, description=HOSTILE_DESCRIPTION, source="slack")
    fake.put(awaiting_run(ticket=hostile), datetime.now(UTC))

    def scenario(page: Page, log: PageLog) -> None:
        page.goto(f"{url}/ui/runs/run-1?sig={SIG.replace('&', '%26')}")
        expect(page.locator("#ticket-title")).to_have_text(HOSTILE_TITLE)
        expect(page.locator("#ticket-description")).to_have_text(HOSTILE_DESCRIPTION)
        assert page.locator("img, b, script:not([nonce])").count() == 0
        assert page.locator("input[type=password]").count() == 0

        page.fill("#feedback", "Also handle '+' signs. <b>please</b>")
        page.click("#changes-button")
        expect(page.locator("#decision-status")).to_have_text(
            "Changes requested: the code agent is revising the fix."
        )
        assert fake.decisions == [
            {
                "kind": "request_changes",
                "feedback": "Also handle '+' signs. <b>please</b>",
                "sig": SIG,
                "revision": "1",
            }
        ]
        expect(page.locator("#run-status")).to_have_text("revising")
        assert log.problems() == []

    browser.run(scenario)


@browser_test
def test_runs_page_lists_runs_newest_first_fits_a_phone_and_links_to_each(
    browser: Chromium, adapter: tuple[FakeAdapter, str]
) -> None:
    fake, url = adapter
    now = datetime.now(UTC)
    for number, minutes_ago in ((1, 90), (3, 1), (2, 30)):
        facts = running_run(title=f"incident {number}").model_copy(update={"run_id": f"run-{number}"})
        fake.put(facts, now - timedelta(minutes=minutes_ago))

    def scenario(page: Page, log: PageLog) -> None:
        page.set_viewport_size(PHONE)
        page.goto(f"{url}/ui")
        rows = page.locator("#runs tbody tr")
        expect(rows).to_have_count(3)
        assert [rows.nth(i).get_attribute("data-run-id") for i in range(3)] == ["run-3", "run-2", "run-1"]
        expect(rows.nth(0).locator("td").nth(7)).to_have_text("1m")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.click("text=run-2")
        expect(page.locator("#ticket-title")).to_have_text("incident 2")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert log.problems() == []

    browser.run(scenario)


@browser_test
def test_policy_violations_are_caught(browser: Chromium, adapter: tuple[FakeAdapter, str]) -> None:
    """The other tests' "no CSP violation" means something: an un-nonced script is blocked and reported."""
    _, url = adapter

    def scenario(page: Page, log: PageLog) -> list[str]:
        page.goto(f"{url}/probe")
        expect(page).to_have_title("probe")
        return log.csp_violations

    violations = browser.run(scenario)
    assert violations and "script-src" in violations[0]


def test_a_shipped_run_whose_verdict_was_not_verified_is_flagged_in_the_list() -> None:
    runs = [
        summary("run-ok", T0, status="shipped", verdict="verified", shipped_verdict="verified"),
        summary("run-unverified", T0, status="shipped", verdict="fix_does_not_pass",
                shipped_verdict="fix_does_not_pass", revision=1, shipped_revision=1),
        summary("run-earlier", T0, status="shipped", verdict="verified", shipped_verdict="verified",
                revision=2, shipped_revision=1),
        summary("run-waiting", T0, status="awaiting_decision", verdict="no_tests"),
    ]
    elements = Elements(runs_page(runs, now=T0, nonce="n"))
    flags = {e.attrs["title"]: e.attrs["data-flag"] for e in elements.tags("span") if "data-flag" in e.attrs}
    assert flags == {
        "shipped unverified: fix does not pass (not verified)": "unverified",
        "shipped revision 1, chosen over revision 2": "earlier revision",
    }


# -- activity, priority and the run list in the browser --------------------------------------------------


LONG_TURN = (
    "complete() toggles the flag instead of setting it, so a second call reopens the todo; the fix "
    "assigns True and leaves reopen() as the one way back"
)


@browser_test
def test_activity_shows_one_line_per_turn_cut_at_a_word(
    browser: Chromium, adapter: tuple[FakeAdapter, str]
) -> None:
    fake, url = adapter
    fake.put(running_run(), datetime.now(UTC))

    def scenario(page: Page, log: PageLog) -> None:
        page.goto(f"{url}/ui/runs/run-1")
        fake.push("run-1", "started", "code", model="gpt-test", tools=["read_file"])
        fake.push("run-1", "turn_started", "code", turn=1)
        for piece in ("A second complete", "() reopens: it gets", " completed."):
            fake.push("run-1", "text_delta", "code", text=piece)
        fake.push("run-1", "turn_started", "code", turn=2)
        fake.push("run-1", "text_delta", "code", text="Reading the todo service.")
        fake.push("run-1", "tool_started", "code", tool="read_file", call_id="c1", arguments={})
        fake.push("run-1", "tool_finished", "code", tool="read_file", call_id="c1", duration_s=0.1,
                  is_error=False)
        for word in LONG_TURN.split(" "):
            fake.push("run-1", "text_delta", "code", text=word + " ")
        lines = page.locator("#agent-code-activity .activity")
        expect(lines).to_have_count(3)
        expect(lines.nth(0)).to_have_text("A second complete() reopens: it gets completed.")
        expect(lines.nth(1)).to_have_text("Reading the todo service.")
        last = lines.nth(2).inner_text()
        assert last.endswith("…") and LONG_TURN.startswith(last[:-1]), last  # its start, cut at a word
        assert LONG_TURN[len(last) - 1] == " " and len(last) <= 100
        assert log.problems() == []

    browser.run(scenario)


@browser_test
def test_the_triage_priority_change_and_an_unverified_ship_are_shown(
    browser: Chromium, adapter: tuple[FakeAdapter, str]
) -> None:
    fake, url = adapter
    shipped = awaiting_run(run_id="run-2", status="shipped", pr_url=PR_URL)
    assert shipped.verification is not None
    shipped.verification = shipped.verification.model_copy(update={"verdict": "fix_does_not_pass"})
    fake.put(awaiting_run(), datetime.now(UTC) - timedelta(minutes=5))
    fake.put(shipped, datetime.now(UTC))

    def scenario(page: Page, log: PageLog) -> None:
        page.goto(f"{url}/ui/runs/run-1")
        expect(page.locator("#priority")).to_have_text("P2 → P1 (triage)")
        page.goto(f"{url}/ui")
        expect(page.locator("tr[data-run-id=run-2] [data-flag]")).to_have_text("unverified")
        expect(page.locator("tr[data-run-id=run-1] [data-flag]")).to_have_count(0)
        assert log.problems() == []

    browser.run(scenario)
