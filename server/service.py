"""What the HTTP server does, without the HTTP framework: server.app adapts requests to these methods.

Every method returns a ``Reply`` or raises ``ApiError`` (a 4xx with a reason). Nothing here imports
FastAPI; request bodies arrive as bytes with their headers, so signatures are checked over the raw body.

Operator API: mutations need ``Authorization: Bearer $NIGHTSHIFT_API_TOKEN``; with no token configured
they are accepted only from loopback. Runs started beyond ``server.max_queued_runs`` get 429.
"""

import hashlib
import hmac
import ipaddress
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from pydantic import BaseModel, ValidationError

from config import Mode, Settings
from documents.briefing import build_briefing
from documents.facts import UNNUMBERED_KEY, DeliveryFacts, RunFacts, Ticket, TicketSource
from documents.phrases import plural
from documents.web import run_page, runs_page
from server.models import (
    AlreadyApproved,
    DecisionAccepted,
    DecisionConflict,
    Feedback,
    NewRun,
    RunAccepted,
)
from server.stream import follow_run
from store.queries import latest_run, list_runs, report_of, run_detail
from store.runs import QueueFull, Store, StoredEvent, database_url
from workflow.engine import DecisionKind, Engine
from workflow.errors import DecisionRefused

QUEUE_RETRY_AFTER_S = 30


class ApiError(Exception):
    """A request that cannot be served: the status (4xx) and a reason for the caller."""

    def __init__(self, status: int, reason: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status, self.reason, self.headers = status, reason, dict(headers or {})


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def parse_json(body: bytes, content_type: str | None, model: type[BaseModel]) -> Any:
    """The body as ``model``; 415 for another content type, 400 for bad JSON, 422 for bad fields."""
    if not (content_type or "").split(";")[0].strip().lower() == "application/json":
        raise ApiError(415, f"send application/json (got {content_type or 'no content type'})")
    try:
        data = json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"the body is not valid JSON: {exc}") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())
        raise ApiError(422, f"invalid request: {problems}") from None


@dataclass(frozen=True, slots=True)
class RunLinks:
    """Links to a run's web page, signed so that whoever holds one may decide on that run."""

    public_url: str
    key: bytes

    @classmethod
    async def from_settings(cls, settings: Settings) -> "RunLinks":
        server = settings.server
        public = (server.public_url or f"http://{server.host}:{server.port}").rstrip("/")
        return cls(public, await shared_link_key(settings))

    def signature(self, run_id: str) -> str:
        return hmac.new(self.key, run_id.encode(), hashlib.sha256).hexdigest()[:32]

    def signed(self, run_id: str) -> str:
        return f"{self.public_url}/ui/runs/{run_id}?sig={self.signature(run_id)}"


def parse_form(body: bytes, content_type: str | None) -> dict[str, str]:
    """A url-encoded form; 415 for another content type, 400 when it cannot be parsed."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise ApiError(415, f"send application/x-www-form-urlencoded (got {kind or 'no content type'})")
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body)))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, f"the form body cannot be parsed: {exc}") from None


class Service:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        modes: Mapping[str, Mode],
        model_name: str,
        links: RunLinks,
    ) -> None:
        self.settings, self.engine, self.modes, self.model_name = settings, engine, dict(modes), model_name
        self.links = links
        self.public_url = links.public_url
        engine.web_link = links.signed

    # -- auth ----------------------------------------------------------------------------------------

    def authorize(
        self,
        authorization: str | None,
        client_host: str | None,
        *,
        run_id: str | None = None,
        sig: str | None = None,
        token: str | None = None,
    ) -> None:
        """Mutations: the API token (header, or a form field), a run's signed link, or loopback when no
        token is configured. 401 otherwise."""
        configured = self.settings.secrets.get("NIGHTSHIFT_API_TOKEN")
        offered = token or (
            authorization[7:].strip() if authorization and authorization.startswith("Bearer ") else None
        )
        if configured and offered and hmac.compare_digest(offered.encode(), configured.encode()):
            return
        if run_id and sig and hmac.compare_digest(sig.encode(), self.links.signature(run_id).encode()):
            return
        if not configured and _is_loopback(client_host):
            return
        challenge = {"WWW-Authenticate": "Bearer"}
        if configured:
            raise ApiError(401, "send Authorization: Bearer <NIGHTSHIFT_API_TOKEN>", headers=challenge)
        raise ApiError(
            401,
            "no NIGHTSHIFT_API_TOKEN is configured, so changes are accepted only from this machine",
            headers=challenge,
        )

    # -- health --------------------------------------------------------------------------------------

    async def health(self) -> Reply:
        """The server is up; per integration: live or local, and when live, ok or degraded (the last
        error and when) with the deliveries waiting; which inbound webhooks are on."""
        return Reply(
            200,
            {
                "status": "ok",
                "model": self.model_name,
                "integrations": await self._integrations(),
                "sandbox": {"sandboxed": self.engine.rt.sandbox.sandboxed, "description": self._sandbox},
                "repo": str(self.settings.repo),
                "public_url": self.public_url,
            },
        )

    async def _integrations(self) -> dict[str, dict[str, Any]]:
        health = await self.engine.rt.deliveries.outbox.health()
        webhooks = inbound_webhooks(self.settings, self.modes)
        report: dict[str, dict[str, Any]] = {}
        for name, mode in self.modes.items():
            entry: dict[str, Any] = {"mode": mode, "webhook": webhooks[name]}
            if mode == "live":
                service = health.get(name)
                entry["state"] = "degraded" if service and service.degraded else "ok"
                entry["pending"] = service.pending if service else 0
                entry["last_error"] = service.last_error if service else None
                at = service.last_error_at if service else None
                entry["last_error_at"] = at.isoformat() if at else None
            report[name] = entry
        return report

    async def banner(self) -> str:
        """The start-up line: the model, each integration as /health tells it, the inbound webhooks."""
        parts = []
        integrations = await self._integrations()
        for name, entry in integrations.items():
            if entry["mode"] == "local":
                parts.append(f"{name} local")
                continue
            count = plural(entry["pending"], "delivery", "deliveries")
            waiting = f", {count} waiting" if entry["pending"] else ""
            failing = f", last error: {entry['last_error']}" if entry["state"] == "degraded" else ""
            parts.append(f"{name} live ({entry['state']}{waiting}{failing})")
        hooks = "; ".join(f"/webhook/{name} {entry['webhook']}" for name, entry in integrations.items())
        head = f"Nightshift on {self.public_url}: model {self.model_name}; {', '.join(parts)}"
        return f"{head}\nsandbox: {self._sandbox}\ninbound webhooks: {hooks}"

    @property
    def _sandbox(self) -> str:
        return self.engine.rt.sandbox.describe()

    # -- runs ----------------------------------------------------------------------------------------

    async def create_run(self, body: bytes, content_type: str | None, source: TicketSource = "api") -> Reply:
        new: NewRun = parse_json(body, content_type, NewRun)
        ticket = Ticket(
            key=new.key or UNNUMBERED_KEY,
            title=new.title,
            description=new.description,
            priority=new.priority,
            source=source,
        )
        facts, _ = await self.submit(ticket)
        return Reply(202, _json(RunAccepted(run_id=facts.run_id, status=facts.status, url=facts.web_url)))

    async def submit(self, ticket: Ticket, *, dedupe_key: str | None = None) -> tuple[RunFacts, bool]:
        """Start a run for ``ticket`` unless its text is too long or the queue is full."""
        limit = self.settings.server.max_description_chars
        if len(ticket.description) > limit:
            raise ApiError(
                413,
                f"the description has {len(ticket.description)} characters; the limit is {limit} "
                f"(server.max_description_chars)",
            )
        try:
            return await self.engine.submit(
                ticket, dedupe_key=dedupe_key, max_queued=self.settings.server.max_queued_runs
            )
        except QueueFull as full:
            raise ApiError(
                429, f"{full}; try again later", headers={"Retry-After": str(QUEUE_RETRY_AFTER_S)}
            ) from None

    async def list_runs(self) -> Reply:
        return Reply(200, {"runs": await list_runs(self.engine.rt.store)})

    async def run(self, run_id: str) -> RunFacts:
        if run_id == "latest":
            detail = await latest_run(self.engine.rt.store)
            run_id = detail["id"] if detail else ""
        facts = await self.engine.rt.store.get(run_id) if run_id else None
        if facts is None:
            raise ApiError(404, f"no run with id {run_id!r}")
        return facts

    async def get_run(self, run_id: str) -> Reply:
        facts = await self.run(run_id)
        return Reply(200, run_detail(facts, await self._deliveries(facts.run_id)))

    async def _deliveries(self, run_id: str) -> list[DeliveryFacts]:
        return [d.facts() for d in await self.engine.rt.deliveries.outbox.of_run(run_id)]

    async def decide(
        self,
        run_id: str,
        kind: DecisionKind,
        *,
        feedback: str | None = None,
        by: str | None = None,
        ship_revision: int | None = None,
    ) -> Reply:
        """202 accepted, 200 already approved (with the PR), 409 not awaiting a decision or nothing to
        approve (the reason says which). ``ship_revision``: approve that earlier revision as briefed."""
        facts = await self.run(run_id)
        try:
            outcome = await self.engine.decide(
                facts.run_id, kind, feedback=feedback, by=by, ship_revision=ship_revision
            )
        except DecisionRefused as exc:
            raise ApiError(422, str(exc)) from None
        run: dict[str, Any] = {
            "run_id": facts.run_id,
            "status": outcome.facts.status,
            "pr_url": outcome.facts.pr_url,
        }
        if outcome.result == "accepted":
            return Reply(202, _json(DecisionAccepted(**run, decision=kind)))
        if outcome.result == "already":
            return Reply(200, _json(AlreadyApproved(**run, detail=outcome.reason)))
        return Reply(409, _json(DecisionConflict(**run, error=outcome.reason)))

    async def request_changes(
        self, run_id: str, body: bytes, content_type: str | None, by: str | None
    ) -> Reply:
        feedback: Feedback = parse_json(body, content_type, Feedback)
        return await self.decide(run_id, "request_changes", feedback=feedback.feedback, by=by)

    # -- web pages -----------------------------------------------------------------------------------

    async def runs_page(self, nonce: str) -> str:
        now = datetime.now(UTC)
        return runs_page(await list_runs(self.engine.rt.store), now=now, nonce=nonce)

    async def run_page(self, run_id: str, sig: str | None, nonce: str) -> str:
        now = datetime.now(UTC)  # before the facts are read: the page trusts only later events
        facts = await self.run(run_id)
        signed = bool(sig) and hmac.compare_digest(
            (sig or "").encode(), self.links.signature(facts.run_id).encode()
        )
        base = f"/ui/runs/{facts.run_id}"
        return run_page(
            facts,
            build_briefing(facts),
            deliveries=await self._deliveries(facts.run_id),
            events_url=f"/runs/{facts.run_id}/events",
            approve_url=f"{base}/approve",
            request_changes_url=f"{base}/request-changes",
            token_field=None if signed else "token",
            link_sig=sig if signed else None,
            nonce=nonce,
            now=now,
        )

    async def decide_from_page(
        self,
        run_id: str,
        kind: DecisionKind,
        body: bytes,
        content_type: str | None,
        *,
        authorization: str | None,
        client_host: str | None,
    ) -> Reply:
        """A decision posted by a run page's form, authorised by its signed link or the API token."""
        form = parse_form(body, content_type)
        facts = await self.run(run_id)
        self.authorize(
            authorization,
            client_host,
            run_id=facts.run_id,
            sig=form.get("sig"),
            token=form.get("token") or None,
        )
        feedback = form.get("feedback", "").strip() or None
        if kind == "request_changes" and not feedback:
            raise ApiError(422, "request changes needs feedback: say what should change")
        ship = form.get("ship_revision", "").strip()
        if ship and not (ship.isdigit() and int(ship) > 0):
            raise ApiError(422, f"ship_revision is a revision number, not {ship[:20]!r}")
        ship_revision = int(ship) if ship and kind == "approve" else None
        return await self.decide(facts.run_id, kind, feedback=feedback, by="web", ship_revision=ship_revision)

    async def events(self, run_id: str) -> AsyncIterator[str]:
        """Server-Sent Events: the run's events so far, then new ones until it is settled
        (``server.stream``)."""
        facts = await self.run(run_id)
        rt = self.engine.rt
        return _sse(follow_run(rt.bus, rt.deliveries.outbox, facts.run_id, status=facts.status))

    async def report(self, run_id: str) -> str:
        """The incident report, rendered from the run's facts in the database (any worker has them)."""
        facts = await self.run(run_id)
        text = report_of(facts)
        if text is None:
            raise ApiError(404, f"run {facts.run_id} has no report yet (it is {facts.status})")
        return text


def _json(answer: BaseModel) -> dict[str, Any]:
    return answer.model_dump(mode="json")


async def _sse(events: AsyncIterator[StoredEvent]) -> AsyncIterator[str]:
    async for event in events:
        yield f"id: {event.id}\ndata: {json.dumps(event.as_dict(), default=str)}\n\n"


def inbound_webhooks(settings: Settings, modes: Mapping[str, Mode]) -> dict[str, str]:
    """Per integration: whether its webhook route takes deliveries, and why not."""
    secrets = settings.secrets
    jira_signed = bool(secrets.get("JIRA_WEBHOOK_SECRET"))
    return {
        "slack": "on" if modes["slack"] == "live" else "off (Slack is local)",
        "github": (
            "off (GitHub is local)"
            if modes["github"] == "local"
            else "on"
            if secrets.get("GITHUB_WEBHOOK_SECRET")
            else "off (no GITHUB_WEBHOOK_SECRET; GitHub is live for pull requests and CI logs)"
        ),
        "jira": (
            "off (Jira is local)"
            if modes["jira"] == "local"
            else "on"
            if jira_signed
            else "on, unsigned (set JIRA_WEBHOOK_SECRET to verify deliveries)"
        ),
    }


def _is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


async def shared_link_key(settings: Settings) -> bytes:
    """The key signing per-run links, the same for every worker: kept in the database (made by the first
    worker, from the key an older version kept in ``<state>/link.key`` when there is one, so links
    already posted stay valid)."""
    data_dir = settings.data_dir.resolve()
    old = data_dir / "link.key"
    initial = bytes.fromhex(old.read_text(encoding="utf-8").strip()) if old.exists() else None
    store = Store(database_url(data_dir, settings.database_url))
    try:
        return await store.shared_key("run-links", initial=initial)
    finally:
        store.close()
