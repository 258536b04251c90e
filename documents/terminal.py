"""Rich renderings for the terminal: the briefing panel, the live agents table, the deliveries not done.

Ticket and model text is always wrapped in ``rich.text.Text`` (or passed to ``Syntax``), never given
to Rich as a markup string, so ``[bold red]`` in a ticket shows as those characters.
``agents_table`` runs a few times a second in the live view: it only formats the facts it is given.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime

from rich import box
from rich.console import Group, JustifyMethod, RenderableType
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from documents.briefing import Action, Briefing
from documents.facts import AgentFacts, DeliveryFacts
from documents.phrases import (
    agent_reason,
    clip,
    delivery_line,
    format_usd,
    ordered_agents,
    plural,
    verdict_label,
)
from documents.stack import TOP_FRAMES, alert_heading, frame_note, frame_text, hidden_frames

ACTION_KEYS: dict[Action, str] = {"approve": "a", "ship_revision": "s", "request_changes": "r", "cancel": "c"}
"""The key the terminal prompt takes for each action, as shown in the hints."""


def action_hint(b: Briefing, action: Action) -> str:
    """The words for ``action``: ``approve unverified``, ``ship revision 1 as briefed at 01:20 UTC``."""
    if action == "approve":
        return "approve" if b.verified else "approve unverified"
    if action == "ship_revision" and b.ship_earlier is not None:
        return b.ship_earlier.label[0].lower() + b.ship_earlier.label[1:]
    return action.replace("_", " ")


def _keyed(b: Briefing) -> list[tuple[str, str]]:
    """``(key in brackets, the rest)`` per action the briefing offers, then quit: ``("[a]", "pprove")``,
    ``("[s]", " ship revision 1 as briefed at 01:20 UTC")``, ..., ``("[q]", "uit")``."""
    parts = []
    for action in b.actions:
        key, word = ACTION_KEYS[action], action_hint(b, action)
        parts.append((f"[{key}]", word[1:] if word.startswith(key) else f" {word}"))
    return [*parts, ("[q]", "uit")]


def decision_prompt(b: Briefing) -> str:
    """The terminal's question, the briefing's hints as they read: ``[a]pprove / [r]equest changes /
    [c]ancel / [q]uit: ``."""
    return " / ".join(key + rest for key, rest in _keyed(b)) + ": "


_BORDER = {"good": "green", "warning": "yellow", "bad": "red"}
_STATUS_STYLE = {"submitted": "green", "running": "cyan", "pending": "dim", "cancelled": "dim"}
_MAX_FILES = 8
_MAX_TESTS = 8
_MAX_REASON = 60
_COLUMNS: tuple[tuple[str, JustifyMethod], ...] = (
    ("Agent", "left"),
    ("Status", "left"),
    ("Turn", "right"),
    ("Tool", "left"),
    ("Tokens in/out", "right"),
    ("Elapsed", "right"),
    ("Cost", "right"),
)


def _files_text(b: Briefing) -> Text:
    lines = [
        f"{change.path}  " + ("binary" if change.binary else f"+{change.added} -{change.removed}")
        for change in b.files[:_MAX_FILES]
    ]
    if len(b.files) > _MAX_FILES:
        lines.append(f"… and {plural(len(b.files) - _MAX_FILES, 'more file')}")
    return Text("\n".join(lines))


def _tests_text(b: Briefing) -> Text:
    lines = b.tests[:_MAX_TESTS]
    if len(b.tests) > _MAX_TESTS:
        lines = [*lines, f"… and {plural(len(b.tests) - _MAX_TESTS, 'more test')}"]
    return Text("\n".join(lines))


def _alert_text(b: Briefing) -> Text:
    assert b.alert is not None
    lines = [alert_heading(b.alert)]
    for frame in b.alert.top_frames(TOP_FRAMES):
        note = frame_note(frame)
        lines.append(f"  {frame_text(frame)}" + (f" ({note})" if note else ""))
    if hidden_frames(b.alert):
        lines.append(f"  … and {plural(hidden_frames(b.alert), 'earlier frame')}")
    lines += [f"  ? {gap}" for gap in b.alert.gaps]
    return Text("\n".join(lines))


def _facts_grid(b: Briefing) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")

    def row(label: str, value: str | Text) -> None:
        grid.add_row(Text(label), value if isinstance(value, Text) else Text(value))

    row("Ticket", f"{b.ticket_key}  {b.ticket_title}" + (f"\n{b.ticket_url}" if b.ticket_url else ""))
    if b.alert is not None:
        row("Alert", _alert_text(b))
    if b.priority:
        row("Priority", b.priority)
    row("Status", b.status.replace("_", " ") + (f" (revision {b.revision})" if b.revision > 1 else ""))
    verdict_style = "bold green" if b.verified else ("bold red" if b.tone == "bad" else "bold yellow")
    row("Verdict", Text(verdict_label(b.verdict), style=verdict_style))
    if b.counts:
        row(
            "Tests run",
            "\n".join(
                f"{phase.label}: {phase.counts.summary()} ({phase.expectation})"
                + (f" in {phase.time}" if phase.time else "")
                for phase in b.counts
            ),
        )
    if b.fix_attempts is not None:
        row("Fix attempts", str(b.fix_attempts))
    if b.files:
        row("Files", _files_text(b))
    if b.tests:
        row("Tests", _tests_text(b))
    row("Cost", format_usd(b.cost_usd))
    for label, value in (("Branch", b.branch), ("PR", b.pr_url), ("Web", b.web_url)):
        if value:
            row(label, value)
    if b.decisions:
        last = b.decisions[-1]
        row("Last decision", last.kind.replace("_", " ") + (f" by {last.by}" if last.by else ""))
    return grid


def _hints(b: Briefing) -> Text:
    hints = Text()
    for index, (key, rest) in enumerate(_keyed(b)):
        hints.append(" / " if index else "")
        hints.append(key, style="bold")
        hints.append(rest)
    return hints


def _points_grid(b: Briefing) -> Table:
    """What broke, the cause, the fix, the evidence, the decision: one short line each, labelled."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for point in b.points:
        grid.add_row(Text(point.label), Text("\n".join(point.lines)))
    return grid


def briefing_panel(b: Briefing) -> Panel:
    """The briefing as a panel: the verdict line as its title, the points, facts, warnings, diff
    excerpt, the keys to decide."""
    items: list[RenderableType] = [_points_grid(b), Text(), _facts_grid(b)]
    if b.not_done:
        lines = "\n".join(f"- {line}" for line in b.not_done)
        items += [Text(), Text(f"Not done, and why:\n{lines}", style="bold yellow")]
    if b.warnings:
        style = "bold red" if b.tone == "bad" else "bold yellow"
        items += [Text(), Text("\n".join(f"! {warning}" for warning in b.warnings), style=style)]
    if b.diff_excerpt:
        items += [Text(), Syntax(b.diff_excerpt, "diff", theme="ansi_dark", word_wrap=True)]
        if b.diff_omitted_lines:
            items.append(Text(f"… {plural(b.diff_omitted_lines, 'more line')} in the full diff", style="dim"))
    if b.actions:
        items += [Text(), _hints(b)]
    return Panel(
        Group(*items),
        title=Text(b.headline, style="bold"),
        title_align="left",
        subtitle=Text(f"run {b.run_id}"),
        subtitle_align="right",
        border_style=_BORDER[b.tone],
    )


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def agents_table(
    agents: Mapping[str, AgentFacts],
    *,
    now: datetime,
    current_tool: Mapping[str, str | None] | None = None,
    max_turns: Mapping[str, int] | None = None,
) -> Table:
    """One row per agent for the live view: status, turn, current tool, tokens, elapsed time, cost.

    ``now`` must be aware or naive like the agents' ``started_at``. ``current_tool`` maps an agent to
    the tool it is running, ``max_turns`` to its turn limit (shown as ``3/30``).
    """
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for header, justify in _COLUMNS:
        table.add_column(header, justify=justify)
    tools = current_tool or {}
    limits = max_turns or {}
    for agent in ordered_agents(agents):
        status: str = agent.status
        if status not in ("running", "pending", "submitted"):
            status = clip(agent_reason(agent), _MAX_REASON)
        style = _STATUS_STYLE.get(agent.status, "red" if agent.status != "timeout" else "yellow")
        turn = str(agent.turns) + (f"/{limits[agent.name]}" if agent.name in limits else "")
        tool = (tools.get(agent.name) or "") if agent.status == "running" else ""
        elapsed = ""
        if agent.started_at:
            elapsed = _clock(((agent.finished_at or now) - agent.started_at).total_seconds())
        table.add_row(
            Text(agent.name),
            Text(status, style=style),
            Text(turn),
            Text(tool),
            Text(f"{agent.input_tokens:,} / {agent.output_tokens:,}"),
            Text(elapsed),
            Text(format_usd(agent.cost_usd)),
        )
    return table


def undelivered_text(deliveries: Sequence[DeliveryFacts], *, now: datetime) -> Text:
    """One line per delivery that is failing or was abandoned (yellow while it is retried, red when given
    up); nothing for those delivered or being tried for the first time."""
    text = Text()
    shown = [d for d in deliveries if d.state == "abandoned" or (d.state == "pending" and d.failing_since)]
    for delivery in shown:
        if text:
            text.append("\n")
        style = "yellow" if delivery.state == "pending" else "red"
        text.append(delivery_line(delivery, now=now), style=style)
    return text
