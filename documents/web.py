"""The web pages: the list of runs (``/ui``) and one run (``/ui/runs/{id}``), as HTML strings.

Pure functions of the facts; the HTTP adapter serves them with
``Content-Security-Policy: default-src 'none'; script-src 'nonce-X'; style-src 'nonce-X';
connect-src 'self'; form-action 'self'; img-src 'self' data:``. So every ``<style>`` and ``<script>``
carries the request's nonce, no element has an inline handler or ``style`` attribute, and the script
and stylesheet are constants (``documents.web_assets``) that read the page's data from escaped
``data-*`` attributes.

Every text from a ticket, a model or a diff goes through ``html.escape``; a URL becomes a link only
with an http(s) scheme (or ``local:``, the local forge's pull requests), anything else is shown as text.
Outgoing links carry no referrer: a page opened through a signed link has its signature in the URL.

Element ids and form fields the adapter and its tests rely on: ``#run`` (data-events-url, data-live,
data-rendered-at), ``#run-status``, ``#verdict``, ``#pr`` / ``#pr-link``,
``#decision-status``, ``#decision-error``, ``#decision-forms`` (its forms: ``documents.web_decision``),
``#not-done``, ``#deliveries`` (one ``li[data-delivery]``
per delivery, keyed like the outbox, with ``data-state``), and per agent ``#agent-<name>`` with cells
``#agent-<name>-status|turn|tool|tokens|elapsed|activity``. The runs page has ``table#runs`` with one
``tr[data-run-id]`` per run.
"""

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from documents.briefing import Briefing
from documents.facts import VERDICT_TEXT, AgentFacts, DeliveryFacts, FileChange, RunFacts, Ticket
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
from documents.stack import alert_html
from documents.web_assets import CSS, RUN_JS
from documents.web_decision import decision_section
from documents.web_html import attr as _attr
from documents.web_html import escape as _e

UI_ROOT = "/ui"
"""Where the adapter mounts the pages: runs at ``/ui``, one run at ``/ui/runs/{id}``."""
REFRESH_S = 5
"""The runs page reloads itself this often."""
MAX_DIFF_LINES = 2000
"""A longer diff is cut; the page says how many lines it leaves out."""
LINK_SCHEMES = ("http", "https", "local")
"""URL schemes shown as links; ``local:`` is the local forge's pull request (``integrations.local``)."""
RELOADING_STATUSES = ("awaiting_decision", "shipped", "merged", "closed", "failed", "cancelled", "expired")
"""A live page reloads when the run reaches one of these: there is a new briefing to show."""
FINAL_STATUSES = ("shipped", "merged", "closed", "failed", "cancelled", "expired")
"""Nothing more happens to such a run: its page does not follow the event stream."""

_NORMAL_AGENT_STATUSES = ("running", "pending", "submitted")


def _safe_url(url: str | None) -> str | None:
    if not url:
        return None
    scheme = urlsplit(url.strip()).scheme.lower()
    return url.strip() if scheme in LINK_SCHEMES else None


def _link(url: str | None, text: str | None = None) -> str:
    """A link to ``url`` when its scheme is safe, else the text (or the URL) as plain text."""
    label = _e(text if text is not None else url or "")
    safe = _safe_url(url)
    return label if safe is None else f'<a href="{_e(safe)}" rel="noopener noreferrer">{label}</a>'


def _document(
    title: str, body: str, *, nonce: str, script: str | None = None, refresh_s: int | None = None
) -> str:
    refresh = f'<meta http-equiv="refresh" content="{refresh_s}">' if refresh_s else ""
    tail = f"<script{_attr('nonce', nonce)}>{script}</script>" if script else ""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer"><meta name="robots" content="noindex">'
        f'{refresh}<link rel="icon" href="data:,"><title>{_e(title)}</title>'
        f"<style{_attr('nonce', nonce)}>{CSS}</style></head>"
        f"<body>{body}{tail}</body></html>\n"
    )


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


def _run_url(run_id: str) -> str:
    return f"{UI_ROOT}/runs/{quote(run_id, safe='')}"


def _runs_row(run: Mapping[str, Any], now: datetime) -> str:
    run_id = str(run.get("id", ""))
    verdict = run.get("verdict")
    pr_url = run.get("pr_url")
    cells = (
        f'<td class="nowrap"><a href="{_e(_run_url(run_id))}">{_e(run_id)}</a></td>',
        f"<td>{_e(run.get('key', ''))}</td>",
        f'<td class="text">{_e(run.get("title", ""))}</td>',
        f"<td>{_e(str(run.get('status', '')).replace('_', ' '))}</td>",
        f'<td class="wide">{_e(VERDICT_TEXT.get(verdict, verdict) if verdict else "")}</td>',
        f'<td class="text">{_link(pr_url, "PR") if pr_url else ""}</td>',
        f'<td class="num wide">{_e(format_usd(float(run.get("cost_usd") or 0.0)))}</td>',
        f'<td class="num">{_e(_age(_created(run), now))}</td>',
    )
    return f"<tr{_attr('data-run-id', run_id)}>{''.join(cells)}</tr>"


def runs_page(runs: Sequence[Mapping[str, Any]], *, now: datetime, nonce: str) -> str:
    """``/ui``: every run, newest first, reloading itself every ``REFRESH_S`` seconds.

    A run is a ``store.queries.run_summary`` dict (``id``, ``key``, ``title``, ``status``,
    ``verdict``, ``pr_url``, ``cost_usd``) plus ``created_at`` (a datetime or ISO 8601 text) for the
    age and the order; runs without it keep their given order, after the dated ones.
    """
    ordered = sorted(
        runs,
        key=lambda run: created.timestamp() if (created := _created(run)) else float("-inf"),
        reverse=True,
    )
    if ordered:
        head = "".join(
            f"<th{cls}>{label}</th>"
            for label, cls in (
                ("Run", ""),
                ("Ticket", ""),
                ("Title", ""),
                ("Status", ""),
                ("Verdict", ' class="wide"'),
                ("PR", ""),
                ("Cost", ' class="num wide"'),
                ("Age", ' class="num"'),
            )
        )
        rows = "".join(_runs_row(run, now) for run in ordered)
        table = (
            f'<div class="scroll"><table id="runs"><thead><tr>{head}</tr></thead>'
            f"<tbody>{rows}</tbody></table></div>"
        )
    else:
        table = '<p id="no-runs">No runs yet.</p>'
    body = (
        f'<main><h1>Nightshift runs</h1><p class="muted">{_e(plural(len(ordered), "run"))}; '
        f"this page refreshes every {REFRESH_S} s.</p>{table}</main>"
    )
    return _document("Nightshift runs", body, nonce=nonce, refresh_s=REFRESH_S)


def _agent_row(agent: AgentFacts, now: datetime) -> str:
    name = agent.name
    status_class = agent.status if agent.status in _NORMAL_AGENT_STATUSES else "stopped"
    reason = "" if agent.status in _NORMAL_AGENT_STATUSES else _attr("title", agent_reason(agent))
    elapsed = ""
    started = ""
    if agent.started_at:
        elapsed = _clock(((agent.finished_at or _aware(now)) - agent.started_at).total_seconds())
        started = _attr("data-started", agent.started_at.timestamp())
    cell = f"agent-{name}"
    return (
        f"<tr{_attr('id', cell)}{_attr('data-agent', name)}{_attr('data-status', agent.status)}{started}>"
        f"<th>{_e(name)}</th>"
        f'<td{_attr("id", cell + "-status")} class="status-{status_class}"{reason}>'
        f"{_e(agent.status.replace('_', ' '))}</td>"
        f'<td{_attr("id", cell + "-turn")} class="num">{agent.turns}</td>'
        f"<td{_attr('id', cell + '-tool')}></td>"
        f'<td{_attr("id", cell + "-tokens")} class="num">'
        f"{agent.input_tokens:,} / {agent.output_tokens:,}</td>"
        f'<td{_attr("id", cell + "-elapsed")} class="num">{elapsed}</td>'
        f'<td{_attr("id", cell + "-activity")} class="text wide muted"></td></tr>'
    )


def _agents_section(facts: RunFacts, now: datetime) -> str:
    agents = dict(facts.agents)
    for name in AGENT_ORDER:
        agents.setdefault(name, AgentFacts(name=name))  # type: ignore[arg-type]
    rows = "".join(_agent_row(agent, now) for agent in ordered_agents(agents))
    head = (
        '<tr><th>Agent</th><th>Status</th><th class="num">Turn</th><th>Tool</th>'
        '<th class="num">Tokens in / out</th><th class="num">Elapsed</th><th class="wide">Activity</th></tr>'
    )
    return (
        f'<section><h2>Agents</h2><div class="scroll"><table id="progress"><thead>{head}</thead>'
        f"<tbody>{rows}</tbody></table></div></section>"
    )


def _facts_list(rows: Sequence[tuple[str, str]]) -> str:
    """``(label, html)`` pairs as a definition list; the html is already escaped."""
    return (
        '<dl class="facts">'
        + "".join(f"<dt>{_e(label)}</dt><dd>{value}</dd>" for label, value in rows)
        + "</dl>"
    )


def _counts_table(briefing: Briefing) -> str:
    if not briefing.counts:
        return ""
    rows = "".join(
        f"<tr><td>{_e(phase.label)}</td><td>{_e(phase.expectation)}</td><td>{_e(phase.counts.summary())}</td>"
        f"<td>{_e(phase.time or '')}</td></tr>"
        for phase in briefing.counts
    )
    return (
        '<div class="scroll"><table id="counts"><thead><tr><th>Phase</th><th>Must</th><th>Result</th>'
        f"<th>Time</th></tr></thead><tbody>{rows}</tbody></table></div>"
    )


def _briefing_section(facts: RunFacts, briefing: Briefing) -> str:
    warnings = ""
    if briefing.warnings:
        items = "".join(f"<li>{_e(warning)}</li>" for warning in briefing.warnings)
        warnings = f'<ul id="warnings" class="warnings">{items}</ul>'
    rows: list[tuple[str, str]] = []
    if briefing.priority:
        rows.append(("Priority", _e(briefing.priority)))
    if briefing.fix_attempts is not None:
        rows.append(("Fix attempts", _e(briefing.fix_attempts)))
    rows.append(("Cost", _e(format_usd(briefing.cost_usd))))
    if briefing.branch:
        rows.append(("Branch", f"<code>{_e(briefing.branch)}</code>"))
    for decision in briefing.decisions:
        who = f" by {decision.by}" if decision.by else ""
        said = f": {decision.feedback}" if decision.feedback else ""
        rows.append(
            ("Decision", _e(f"{format_time(decision.at)} {decision.kind.replace('_', ' ')}{who}{said}"))
        )
    detail = f"<p>{_e(facts.verification.detail)}</p>" if facts.verification else ""
    not_done = ""
    if briefing.not_done:
        items = "".join(f"<li>{_e(line)}</li>" for line in briefing.not_done)
        not_done = f'<h3>Not done, and why</h3><ul id="not-done" class="warnings">{items}</ul>'
    return (
        f'<section><h2>Briefing</h2><p id="summary">{_e(briefing.summary)}</p>{not_done}{warnings}'
        f"{detail}"
        f"{_counts_table(briefing)}{_facts_list(rows)}{_excerpts(facts)}</section>"
    )


def _excerpts(facts: RunFacts) -> str:
    if facts.verification is None:
        return ""
    labels = {phase: label for phase, label, _ in PHASES}
    return "".join(
        f"<details><summary>{_e(labels.get(phase, phase))}: output</summary><pre>{_e(text)}</pre></details>"
        for phase, text in facts.verification.excerpts.items()
    )


def _ticket_section(ticket: Ticket) -> str:
    rows = [("Key", _e(ticket.key)), ("Title", f'<span id="ticket-title">{_e(ticket.title)}</span>')]
    for label, value in (("Priority", ticket.priority), ("Reporter", ticket.reporter)):
        if value:
            rows.append((label, _e(value)))
    rows.append(("Source", _e(ticket.source)))
    for label, values in (("Labels", ticket.labels), ("Components", ticket.components)):
        if values:
            rows.append((label, _e(", ".join(values))))
    if ticket.url:
        rows.append(("Link", _link(ticket.url)))
    description = (
        f'<pre id="ticket-description" class="prose">{_e(ticket.description)}</pre>'
        if ticket.description
        else ""
    )
    ci = f"<h3>CI log excerpt</h3><pre>{_e(ticket.ci_excerpt)}</pre>" if ticket.ci_excerpt else ""
    alert = f"<h3>Where it failed</h3>{alert_html(ticket.alert, _link)}" if ticket.alert else ""
    return f"<section><h2>Ticket</h2>{_facts_list(rows)}{description}{ci}{alert}</section>"


def _diff_class(line: str) -> str | None:
    if line.startswith(
        ("+++", "---", "diff ", "index ", "new file", "deleted file", "rename ", "similarity ")
    ):
        return "d-meta"
    if line.startswith("@@"):
        return "d-hunk"
    if line.startswith("+"):
        return "d-add"
    if line.startswith("-"):
        return "d-del"
    return None


def _diff(diff: str, element_id: str) -> str:
    lines = diff.splitlines()
    shown = []
    for line in lines[:MAX_DIFF_LINES]:
        css = _diff_class(line)
        shown.append(f'<span class="{css}">{_e(line)}</span>' if css else _e(line))
    omitted = len(lines) - len(shown)
    more = f'<p class="muted">… {_e(plural(omitted, "more line"))} not shown.</p>' if omitted > 0 else ""
    return f'<pre{_attr("id", element_id)} class="diff">' + "\n".join(shown) + f"</pre>{more}"


def _files(files: Sequence[FileChange]) -> str:
    items = "".join(
        f"<li><code>{_e(change.path)}</code> "
        + (
            "binary"
            if change.binary
            else f'<span class="d-add">+{change.added}</span> <span class="d-del">-{change.removed}</span>'
        )
        + "</li>"
        for change in files
    )
    return f"<ul>{items}</ul>" if items else ""


def _fix_section(facts: RunFacts) -> str:
    if facts.fix is None:
        return '<section><h2>Fix</h2><p class="muted">No fix was submitted.</p></section>'
    fix = facts.fix
    rows = [("Root cause", _e(fix.root_cause)), ("Change", _e(fix.explanation))]
    return (
        f"<section><h2>Fix</h2>{_facts_list(rows)}{_files(fix.files)}{_diff(fix.diff, 'fix-diff')}</section>"
    )


def _tests_section(facts: RunFacts) -> str:
    if facts.tests is None:
        return '<section><h2>Tests</h2><p class="muted">No tests were submitted.</p></section>'
    tests = facts.tests
    names = "".join(f"<li><code>{_e(name)}</code></li>" for name in tests.test_names)
    notes = f'<pre class="prose">{_e(tests.notes)}</pre>' if tests.notes.strip() else ""
    return (
        f'<section><h2>Tests</h2><ul id="tests">{names}</ul>{notes}{_files(tests.files)}'
        f"{_diff(tests.diff, 'tests-diff')}</section>"
    )


def _deliveries_section(deliveries: Sequence[DeliveryFacts], now: datetime) -> str:
    """What the run sent or is sending to Slack, GitHub and Jira; the ones not done come first."""
    order = {"abandoned": 0, "pending": 1, "delivered": 2}
    items = "".join(
        f"<li{_attr('data-delivery', d.key)}{_attr('data-state', d.state)}"
        f' class="delivery-{_e(d.state)}">{_e(delivery_line(d, now=now))}</li>'
        for d in sorted(deliveries, key=lambda d: order[d.state])
    )
    hidden = "" if items else " hidden"
    return (
        f'<section id="deliveries-section"{hidden}><h2>Deliveries</h2>'
        f'<ul id="deliveries">{items}</ul></section>'
    )


def _timeline_section(facts: RunFacts) -> str:
    if not facts.timeline:
        return ""
    items = "".join(f"<li>{_e(format_time(entry.at))}: {_e(entry.text)}</li>" for entry in facts.timeline)
    return f"<section><h2>Timeline</h2><ul>{items}</ul></section>"


def run_page(
    facts: RunFacts,
    briefing: Briefing,
    *,
    deliveries: Sequence[DeliveryFacts] = (),
    events_url: str,
    approve_url: str,
    request_changes_url: str,
    token_field: str | None,
    link_sig: str | None,
    nonce: str,
    now: datetime,
) -> str:
    """``/ui/runs/{id}``: the run, live while it runs, with the decision forms when it awaits one.

    ``events_url`` streams the run's events (Server-Sent Events, unnamed messages whose data is the
    event as JSON with ``id``, ``ts``, ``kind``, ``agent``); the page follows it unless the run is
    final. ``token_field`` names the API token input of the forms (None: no such input); ``link_sig``
    goes into a hidden ``sig`` field; every form also carries ``revision``. ``now`` must be taken
    *before* ``facts`` were read: events older than that do not reload the page, so a status change
    between reading and rendering still reloads it (once). ``deliveries`` are shown near the top while
    one is not delivered, and the page keeps following a final run until they all are.
    """
    rendered_at = _aware(now)
    in_progress = facts.status in IN_PROGRESS and facts.verification is None
    verdict = "pending" if in_progress else verdict_label(briefing.verdict)
    pr_hidden = "" if _safe_url(briefing.pr_url) else " hidden"
    revision = f", revision {facts.revision}" if facts.revision > 1 else ""
    waiting = any(d.state == "pending" for d in deliveries)
    live = "0" if facts.status in FINAL_STATUSES and not waiting else "1"
    undelivered = any(d.state != "delivered" for d in deliveries)
    delivery_section = _deliveries_section(deliveries, rendered_at)
    body = (
        f'<main id="run"{_attr("data-events-url", events_url)}{_attr("data-live", live)}'
        f"{_attr('data-rendered-at', rendered_at.timestamp())}>"
        f'<nav><a href="{UI_ROOT}">All runs</a> · run {_e(facts.run_id)} · '
        '<span id="live-state"></span></nav>'
        f"<h1>{_e(briefing.headline)}</h1>"
        f'<p class="banner">Status: <strong id="run-status">{_e(facts.status.replace("_", " "))}</strong>'
        f'{_e(revision)} · Verdict: <strong id="verdict" class="tone-{_e(briefing.tone)}">'
        f"{_e(verdict)}</strong>"
        f" · Cost: {_e(format_usd(facts.cost_usd))}</p>"
        f'<p id="pr"{pr_hidden}>Pull request: {_pr_link(briefing.pr_url)}</p>'
        + (delivery_section if undelivered else "")
        + decision_section(
            facts,
            briefing,
            approve_url=approve_url,
            request_changes_url=request_changes_url,
            token_field=token_field,
            link_sig=link_sig,
        )
        + _agents_section(facts, rendered_at)
        + _briefing_section(facts, briefing)
        + _ticket_section(facts.ticket)
        + _fix_section(facts)
        + _tests_section(facts)
        + ("" if undelivered else delivery_section)
        + _timeline_section(facts)
        + "</main>"
    )
    return _document(f"{briefing.ticket_key}: {briefing.ticket_title}", body, nonce=nonce, script=RUN_JS)


def _pr_link(url: str | None) -> str:
    """``#pr-link`` always exists, so that the script can fill it when the pull request opens."""
    safe = _safe_url(url)
    href = _attr("href", safe) if safe else ""
    return f'<a id="pr-link"{href} rel="noopener noreferrer">{_e(url or "")}</a>'
