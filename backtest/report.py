"""A backtest's report: a Rich table for the terminal, JSON, and Markdown with each case's diffs. All
three name the outcomes as ``backtest.results.OUTCOMES`` does."""

from pathlib import Path

from rich.console import Console
from rich.table import Table

from backtest.results import OUTCOMES, BacktestReport, CaseResult, Totals

STYLE = {"confirmed": "green", "unproven": "yellow", "unfixed": "red", "false_verified": "bold white on red"}
LEGEND = [f"{name}: {meaning}" for name, meaning in OUTCOMES.items()]
WARNINGS = "Warnings logged during the backtest:"


def percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.0%}"


def money(usd: float | None) -> str:
    return "-" if usd is None else f"${usd:.4f}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def print_report(console: Console, report: BacktestReport) -> None:
    """The per-case table and what its outcomes mean, the skipped commits, the totals, the notes, and
    last the warnings logged meanwhile. The table keeps to what fits a terminal; the Markdown and JSON
    reports have the rest (phases, tokens in and out, diffs)."""
    table = Table(title=f"Backtest of {report.repo}", title_justify="left")
    table.add_column("commit", no_wrap=True, min_width=8)
    table.add_column("subject", max_width=40)
    table.add_column("outcome", no_wrap=True)
    table.add_column("verdict", min_width=8)
    for column in ("tokens", "cost", "time"):
        table.add_column(column, justify="right", no_wrap=True)
    for case in report.cases:
        table.add_row(
            case.commit[:8],
            case.subject,
            f"[{STYLE[case.outcome]}]{case.outcome}[/]",
            (case.verdict or case.status).replace("_", " "),
            f"{case.input_tokens + case.output_tokens:,}",
            money(case.cost_usd),
            duration(case.times.total_s),
        )
    console.print(table)
    console.print("\n".join(LEGEND), style="dim", highlight=False)
    if report.skipped:
        skipped = Table(title="Commits that are no case", title_justify="left")
        skipped.add_column("commit", no_wrap=True)
        skipped.add_column("subject", overflow="ellipsis", no_wrap=True, max_width=40)
        skipped.add_column("reason", overflow="fold")
        for item in report.skipped:
            skipped.add_row(item.commit[:8], item.subject, item.reason)
        console.print(skipped)
    console.print(totals_line(report.totals), highlight=False)
    for note in report.notes:
        console.print(note, style="dim", highlight=False)
    if report.warnings:
        console.print(WARNINGS, style="yellow", highlight=False)
        for warning in report.warnings:
            console.print(f"  {warning}", highlight=False, markup=False)


def totals_line(totals: Totals) -> str:
    outcomes = ", ".join(f"{name} {count}" for name, count in totals.outcomes.items())
    return (
        f"{totals.cases} cases: {outcomes}; "
        f"fix rate {percent(totals.fix_rate)} ({totals.fixed}/{totals.cases}), "
        f"verified rate {percent(totals.verified_rate)} ({totals.verified}/{totals.cases}), "
        f"agreement {percent(totals.agreement)} ({totals.agreed}/{totals.cases}); "
        f"cost {money(totals.cost_usd_total)} (median {money(totals.cost_usd_median)}); "
        f"time: runs {duration(totals.time_s_total)} (median {duration(totals.time_s_median)}), "
        f"qualification {duration(totals.qualification_s)}, whole backtest {duration(totals.wall_s)}"
    )


def write_json(report: BacktestReport, path: Path) -> None:
    path.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")


def markdown(report: BacktestReport) -> str:
    lines = [
        f"# Backtest of {report.repo}",
        "",
        f"- revisions: `{' '.join(report.revisions)}`",
        f"- model: {report.model}",
        f"- from {report.started_at:%Y-%m-%d %H:%M:%S} to {report.finished_at:%H:%M:%S} UTC",
        f"- {totals_line(report.totals)}",
        "",
        *(f"> {note}\n" for note in report.notes),
        "| commit | subject | outcome | Nightshift | upstream tests | cost | time |",
        "|---|---|---|---|---|---|---|",
    ]
    for case in report.cases:
        lines.append(
            f"| `{case.commit[:10]}` | {_cell(case.subject)} | `{case.outcome}` | "
            f"{case.verdict or case.status} | {'pass' if case.fixed else 'fail'} | {money(case.cost_usd)} | "
            f"{duration(case.times.total_s)} |"
        )
    lines += ["", *(f"- `{name}`: {meaning}" for name, meaning in OUTCOMES.items())]
    if report.skipped:
        lines += ["", "## Commits that are no case", "", "| commit | subject | reason |", "|---|---|---|"]
        lines += [f"| `{s.commit[:10]}` | {_cell(s.subject)} | {_cell(s.reason)} |" for s in report.skipped]
    if report.warnings:
        lines += ["", "## Warnings", "", WARNINGS, "", *(f"- {_cell(w)}" for w in report.warnings)]
    for case in report.cases:
        lines += ["", *_case_section(case)]
    return "\n".join(lines) + "\n"


def _case_section(case: CaseResult) -> list[str]:
    times = case.times
    return [
        f"## `{case.commit[:10]}` {case.subject}",
        "",
        f"- outcome: **`{case.outcome}`** (run `{case.run_id}`, stopped {case.status})",
        f"- Nightshift: {case.verdict or 'no verdict'} after {case.fix_attempts} fix attempt(s). "
        f"{case.run_detail}",
        f"- upstream tests: {case.judge_detail}",
        f"- tokens: {case.input_tokens:,} in, {case.output_tokens:,} out; cost {money(case.cost_usd)}",
        f"- time: environment {duration(times.environment_s)}, agents {duration(times.agents_s)}, "
        f"verification {duration(times.verification_s)}, self-correction {duration(times.correction_s)}, "
        f"total {duration(times.total_s)}",
        "",
        "### The agents' fix against the upstream fix",
        "",
        _diff(case.against_upstream, "the agents' fix is the upstream fix" if case.agents_fix else "no fix"),
        "",
        "<details><summary>The agents' fix</summary>",
        "",
        _diff(case.agents_fix, "no fix"),
        "",
        "</details>",
        "",
        "<details><summary>The upstream fix</summary>",
        "",
        _diff(case.upstream_fix, "no code change"),
        "",
        "</details>",
    ]


def _diff(text: str, empty: str) -> str:
    if not text.strip():
        return f"_{empty}_"
    fence = "~~~~" if "```" in text else "```"
    return f"{fence}diff\n{text.rstrip()}\n{fence}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
