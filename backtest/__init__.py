"""``nightshift backtest``: how often Nightshift would have fixed a team's own past bugs, and whether
its "verified" would have been true.

    pick      past commits that changed code and tests       (cases.py, checked in the sandbox)
    run       each case as an incident at its parent commit  (run.py, an engine and repository each)
    judge     the agents' fix against the upstream tests     (judge.py)
    report    terminal table, JSON, Markdown                 (results.py, report.py)

Only the user's checkout is read. The checker (picking and judging) works on a private clone without a
remote; each case runs on a repository of its own that holds nothing after the case's parent, in a
throwaway state directory, with local integrations, and is left awaiting its decision.
"""

import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from backtest.cases import NOT_CHECKED, Case, Checker, Skipped, qualify
from backtest.errors import BacktestError
from backtest.logged import kept_warnings
from backtest.report import markdown
from backtest.results import BacktestReport, SkippedCommit, totals
from backtest.run import isolated_settings, private_clone, run_cases
from client import Model
from config import Settings
from gitrepo import GitError, GitRepo
from gitrepo.history import PastCommit

REPORT = "report.md"
ISOLATION_NOTE = (
    "Each case ran on a repository of its own holding nothing after the case's parent (no later commit, "
    "tag or ref), with no remote, in a throwaway state directory, with local integrations only: Slack, "
    "GitHub and Jira settings and credentials were ignored, hooks were off, nothing was pushed, posted, "
    "commented or transitioned, and no decision was taken."
)
TICKET_NOTE = (
    "Each ticket is the commit message (subject and body); issues or pull requests the message names "
    "are not fetched from a tracker."
)
SCRIPTED_NOTE = (
    "No model credentials: the scripted demo model played the agents. It knows only the sample "
    "incident, so these numbers check the set-up (cases, sandbox, environment), not Nightshift."
)


async def run_backtest(
    settings: Settings,
    model: Model,
    *,
    model_description: str,
    scripted: bool,
    revisions: list[str],
    walk: bool,
    limit: int | None,
    jobs: int,
    console: Console,
) -> tuple[BacktestReport, Path]:
    """Pick, run, judge; returns the report and the Markdown report's path, under the state directory
    (the briefings the runs would have sent are beside it). Raises BacktestError on bad input before
    anything is written."""
    if settings.repo is None:
        raise BacktestError("no repository to backtest: pass --repo PATH or set NIGHTSHIFT_REPO")
    source = settings.repo.resolve()
    if not (source / ".git").exists():
        raise BacktestError(f"{source} is not a git checkout (pass --repo PATH naming one)")
    commits = await GitRepo(source).past_commits(revisions, limit=limit, walk=walk)
    if not commits:
        raise BacktestError(f"{' '.join(revisions)} names no commit in {source}; choose another range")
    capped = min(jobs, settings.workflow.max_concurrent_runs)
    notes = [ISOLATION_NOTE, TICKET_NOTE, *([SCRIPTED_NOTE] if scripted else [])]
    if capped < jobs:
        notes.append(f"--jobs {jobs} was capped at [workflow] max_concurrent_runs = {capped}.")
    started, clock = datetime.now(UTC), time.monotonic()
    out = settings.data_dir.resolve() / "backtests" / started.strftime("%Y%m%dT%H%M%SZ")
    out.mkdir(parents=True, exist_ok=True)
    console.print(
        f"backtest of {len(commits)} commits of {source}; model: {model_description}", highlight=False
    )
    with (
        kept_warnings(settings.secrets.all_values()) as warnings,
        tempfile.TemporaryDirectory(prefix="nightshift-backtest-") as tmp,
    ):
        workspace = Path(tmp)
        clone = await private_clone(source, [c.sha for c in commits], workspace / "checker" / source.name)
        checking = isolated_settings(settings, clone.path, workspace / "checker" / "state")
        checker = await Checker.start(clone, checking, workspace / "checker" / "state")
        picked = await _pick(checker, commits, capped, console)
        qualification_s = time.monotonic() - clock
        cases = [item for item in picked if isinstance(item, Case)]
        console.print(f"{len(cases)} cases; running them one at a time", highlight=False)
        with (out / "briefings.txt").open("w", encoding="utf-8") as briefings:
            results = await run_cases(
                settings,
                model,
                checker,
                cases,
                root=workspace / "cases",
                briefings=briefings,
                console=console,
            )
    skipped = [
        SkippedCommit(commit=s.commit.sha, subject=s.commit.subject, reason=s.reason, detail=s.detail)
        for s in picked
        if isinstance(s, Skipped)
    ]
    report = BacktestReport(
        repo=str(source),
        revisions=revisions,
        model=model_description,
        scripted_model=scripted,
        started_at=started,
        finished_at=datetime.now(UTC),
        notes=notes,
        cases=results,
        skipped=skipped,
        totals=totals(results, qualification_s=qualification_s, wall_s=time.monotonic() - clock),
        warnings=warnings,
    )
    (out / REPORT).write_text(markdown(report), encoding="utf-8")
    return report, out / REPORT


async def _pick(
    checker: Checker, commits: list[PastCommit], jobs: int, console: Console
) -> list[Case | Skipped]:
    """Each commit qualified (``jobs`` at a time), in history order."""
    slots = asyncio.Semaphore(jobs)

    async def one(commit: PastCommit) -> Case | Skipped:
        async with slots:
            try:
                picked = await qualify(checker, commit)
            except (GitError, OSError) as exc:  # a git or sandbox failure on this commit alone
                picked = Skipped(commit, NOT_CHECKED, str(exc))
        verdict = "case" if isinstance(picked, Case) else f"skipped: {picked.reason}"
        console.print(f"  {commit.sha[:10]} {commit.subject[:60]}: {verdict}", highlight=False)
        return picked

    return list(await asyncio.gather(*(one(commit) for commit in commits)))
