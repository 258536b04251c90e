"""The web pages: the list of runs (``/ui``) and one run (``/ui/runs/{id}``), rendered from Jinja2
templates (``documents/templates``) with autoescape; the stylesheet and the script are static files
(``documents/static``) that the HTTP adapter serves under ``STATIC_ROOT``.

Pure functions of the facts: this module turns them into plain values (rows, cells, diff lines) and the
templates hold every tag. The adapter serves the pages with ``Content-Security-Policy: default-src
'none'; script-src 'nonce-X'; style-src 'nonce-X'; connect-src 'self'; form-action 'self'; img-src
'self' data:``; the stylesheet link and the script element carry the request's nonce, no element has an
inline handler or ``style`` attribute, and the script reads the page's data from ``data-*`` attributes.

Every text from a ticket, a model or a diff is escaped by the template engine; a URL becomes a link only
with an http(s) scheme (or ``local:``, the local forge's pull requests), anything else is shown as text.
Outgoing links carry no referrer: a page opened through a signed link has its signature in the URL.
Element ids are listed at the top of ``templates/run.html``; the runs page has ``table#runs`` with one
``tr[data-run-id]`` per run.
"""

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from documents.briefing import Briefing
from documents.facts import VERDICT_TEXT, AgentFacts, DeliveryFacts, RunFacts
from documents.phrases import (
    AGENT_ORDER,
    IN_PROGRESS,
    PHASES,
    agent_reason,
    delivery_line,
    format_time,
    format_usd,
    ordered_agents,
    plural,
    verdict_label,
)
from documents.stack import TOP_FRAMES, alert_heading, frame_note, frame_text

UI_ROOT = "/ui"
"""Where the adapter mounts the pages: runs at ``/ui``, one run at ``/ui/runs/{id}``."""
STATIC_ROOT = "/ui/static"
"""Where the adapter serves ``STATIC_DIR`` (the stylesheet and the run page's script)."""
STATIC_DIR = Path(__file__).parent / "static"
REFRESH_S = 5
"""The runs page reloads itself this often."""
MAX_DIFF_LINES = 2000
"""A longer diff is cut; the page says how many lines it leaves out."""
LINK_SCHEMES = ("http", "https", "local")
"""URL schemes shown as links; ``local:`` is the local forge's pull request (``integrations.local``)."""
FINAL_STATUSES = ("shipped", "merged", "closed", "failed", "cancelled", "expired")
"""Nothing more happens to such a run: its page does not follow the event stream."""

_NORMAL_AGENT_STATUSES = ("running", "pending", "submitted")
_DIFF_META = ("+++", "---", "diff ", "index ", "new file", "deleted file", "rename ", "similarity ")


def safe_url(url: str | None) -> str | None:
    """``url`` when its scheme may be a link, else None (the template shows it as text)."""
    if not url:
        return None
    scheme = urlsplit(url.strip()).scheme.lower()
    return url.strip() if scheme in LINK_SCHEMES else None


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("documents", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(safe_url=safe_url, spaced=lambda text: str(text).replace("_", " "))
    env.globals.update(
        plural=plural,
        format_usd=format_usd,
        format_time=format_time,
        verdict_label=verdict_label,
        alert_heading=alert_heading,
        frame_text=frame_text,
        frame_note=frame_note,
        top_frames=TOP_FRAMES,
        ui_root=UI_ROOT,
        static_root=STATIC_ROOT,
    )
    return env


_PAGES = _environment()


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _created(run: Mapping[str, Any]) -> datetime | None:
    value = run.get("created_at")
    if isinstance(value, datetime):
        return _aware(value)
    if isinstance(value, str):
        try:
            return _aware(datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


def _age(created: datetime | None, now: datetime) -> str:
    if created is None:
        return ""
    seconds = max(0.0, (_aware(now) - created).total_seconds())
    if seconds < 60:
        return "<1m"
    for unit, size in (("d", 86_400), ("h", 3_600)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds // 60)}m"


def _clock(seconds: float) -> str:
    minutes, secs = divmod(max(0, int(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _shipped_flag(run: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(flag, why)`` for a shipped run whose pull request carries what was not verified as briefed, or
    an earlier revision than the latest (an explicit choice); None otherwise."""
    if run.get("status") != "shipped":
        return None
    verdict, shipped, latest = run.get("shipped_verdict"), run.get("shipped_revision"), run.get("revision")
    earlier = f" revision {shipped}, chosen over revision {latest}" if shipped and shipped != latest else ""
    if verdict and verdict != "verified":
        return "unverified", f"shipped{earlier} unverified: {verdict_label(verdict)}"
    return ("earlier revision", f"shipped{earlier}") if earlier else None


def _runs_row(run: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    run_id = str(run.get("id", ""))
    verdict = run.get("verdict")
    flag = _shipped_flag(run)
    return {
        "id": run_id,
        "url": f"{UI_ROOT}/runs/{quote(run_id, safe='')}",
        "key": run.get("key", ""),
        "title": run.get("title", ""),
        "status": str(run.get("status", "")).replace("_", " "),
        "flag": flag[0] if flag else None,
        "flag_title": flag[1] if flag else None,
        "verdict": VERDICT_TEXT.get(verdict, verdict) if verdict else "",
        "pr_url": run.get("pr_url"),
        "cost": format_usd(float(run.get("cost_usd") or 0.0)),
        "age": _age(_created(run), now),
    }


def runs_page(runs: Sequence[Mapping[str, Any]], *, now: datetime, nonce: str) -> str:
    """``/ui``: every run, newest first, reloading itself every ``REFRESH_S`` seconds.

    A run is a ``store.queries.run_summary`` dict (``id``, ``key``, ``title``, ``status``, ``verdict``,
    ``revision``, ``shipped_revision``, ``shipped_verdict``, ``pr_url``, ``cost_usd``) plus
    ``created_at`` (a datetime or ISO 8601 text) for the age and the order; runs without it keep their
    given order, after the dated ones. A shipped run whose pull request carries what was not verified
    (approved unverified, or an earlier revision chosen) is flagged in its status cell.
    """
    ordered = sorted(
        runs,
        key=lambda run: created.timestamp() if (created := _created(run)) else float("-inf"),
        reverse=True,
    )
    rows = [_runs_row(run, now) for run in ordered]
    return _PAGES.get_template("runs.html").render(
        title="Nightshift runs", runs=rows, refresh_s=REFRESH_S, nonce=nonce
    )


def _agent_row(agent: AgentFacts, now: datetime) -> dict[str, Any]:
    normal = agent.status in _NORMAL_AGENT_STATUSES
    elapsed = ""
    if agent.started_at:
        elapsed = _clock(((agent.finished_at or _aware(now)) - agent.started_at).total_seconds())
    return {
        "name": agent.name,
        "status": agent.status,
        "status_class": agent.status if normal else "stopped",
        "reason": None if normal else agent_reason(agent),
        "started": agent.started_at.timestamp() if agent.started_at else None,
        "turns": agent.turns,
        "tokens": f"{agent.input_tokens:,} / {agent.output_tokens:,}",
        "elapsed": elapsed,
    }


def _diff_class(line: str) -> str | None:
    if line.startswith(_DIFF_META):
        return "d-meta"
    if line.startswith("@@"):
        return "d-hunk"
    if line.startswith("+"):
        return "d-add"
    if line.startswith("-"):
        return "d-del"
    return None


def _diff(diff: str) -> dict[str, Any]:
    """The diff's first ``MAX_DIFF_LINES`` lines, each with its colour class, and how many are left out."""
    lines = diff.splitlines()
    shown = [{"text": line, "css": _diff_class(line)} for line in lines[:MAX_DIFF_LINES]]
    return {"lines": shown, "omitted": len(lines) - len(shown)}


def _deliveries(deliveries: Sequence[DeliveryFacts], now: datetime) -> list[dict[str, str]]:
    """One line each, the ones not done first."""
    order = {"abandoned": 0, "pending": 1, "delivered": 2}
    return [
        {"key": d.key, "state": d.state, "line": delivery_line(d, now=now)}
        for d in sorted(deliveries, key=lambda d: order[d.state])
    ]


def _decisions(briefing: Briefing) -> list[str]:
    lines = []
    for decision in briefing.decisions:
        who = f" by {decision.by}" if decision.by else ""
        said = f": {decision.feedback}" if decision.feedback else ""
        lines.append(f"{format_time(decision.at)} {decision.kind.replace('_', ' ')}{who}{said}")
    return lines


def run_page(
    facts: RunFacts,
    briefing: Briefing,
    *,
    deliveries: Sequence[DeliveryFacts] = (),
    events_url: str,
    approve_url: str,
    request_changes_url: str,
    cancel_url: str,
    token_field: str | None,
    link_sig: str | None,
    nonce: str,
    now: datetime,
) -> str:
    """``/ui/runs/{id}``: the run, live while it runs, with the decision forms when it awaits one.

    ``events_url`` streams the run's events (Server-Sent Events, unnamed messages whose data is the
    event as JSON with ``id``, ``ts``, ``kind``, ``agent``); the page follows it unless the run is
    final. ``token_field`` names the API token input of the forms: pass it only when the server has a
    token and the page was not opened from the run's signed link (None: no such input); ``link_sig``
    goes into a hidden ``sig`` field; every form also carries ``revision``. ``now`` must be taken
    *before* ``facts`` were read: events older than that do not reload the page, so a status change
    between reading and rendering still reloads it (once). ``deliveries`` are shown near the top while
    one is not delivered, and the page keeps following a final run until they all are.
    """
    rendered_at = _aware(now)
    in_progress = facts.status in IN_PROGRESS and facts.verification is None
    waiting = any(d.state == "pending" for d in deliveries)
    agents = dict(facts.agents)
    for name in AGENT_ORDER:
        agents.setdefault(name, AgentFacts(name=name))  # type: ignore[arg-type]
    return _PAGES.get_template("run.html").render(
        title=f"{briefing.ticket_key}: {briefing.ticket_title}",
        facts=facts,
        ticket=facts.ticket,
        briefing=briefing,
        verdict="pending" if in_progress else verdict_label(briefing.verdict),
        pr_href=safe_url(briefing.pr_url),
        live="0" if facts.status in FINAL_STATUSES and not waiting else "1",
        rendered_at=rendered_at.timestamp(),
        undelivered=any(d.state != "delivered" for d in deliveries),
        deliveries=_deliveries(deliveries, rendered_at),
        agents=[_agent_row(agent, rendered_at) for agent in ordered_agents(agents)],
        decisions=_decisions(briefing),
        phase_labels={phase: label for phase, label, _ in PHASES},
        fix_diff=_diff(facts.fix.diff) if facts.fix else None,
        tests_diff=_diff(facts.tests.diff) if facts.tests else None,
        events_url=events_url,
        approve_url=approve_url,
        request_changes_url=request_changes_url,
        cancel_url=cancel_url,
        token_field=token_field,
        link_sig=link_sig,
        nonce=nonce,
    )
