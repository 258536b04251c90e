"""`make demo`: one whole incident on local defaults, with no credentials and no network.

The sample todo service (demo/sample_repo) is copied into a temporary git repository with a bare
origin; the scripted model drives the four agents through the real tools to the real fix; the fix is
verified with real pytest runs, committed, pushed to the local origin, approved (as CI would), and a
pull request is recorded in the local database. Nothing outside the temporary directory changes.
"""

import asyncio
import os
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.panel import Panel

from config import load_settings
from demo.incident_script import SAMPLE_TICKET
from demo.local_model import HOW_TO_USE_A_REAL_MODEL, model_for
from demo.sandbox import create_sandbox
from workflow.console import run_incident
from workflow.store import Store, database_url

IGNORED = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "NIGHTSHIFT_MODEL",
    "NIGHTSHIFT_REPO",
    "NIGHTSHIFT_DATA_DIR",
    "NIGHTSHIFT_DATABASE_URL",
    "NIGHTSHIFT_CONFIG",
)


async def demo(console: Console) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="nightshift-demo-"))
    sandbox = create_sandbox(workdir / "sandbox")
    config = workdir / "nightshift.toml"
    config.write_text(f'[tools]\ntest_command = "{sys.executable} -m pytest -q -p no:cacheprovider"\n')
    env = {k: v for k, v in os.environ.items() if k not in IGNORED}
    env |= {
        "NIGHTSHIFT_REPO": str(sandbox.repo),
        "NIGHTSHIFT_DATA_DIR": str(workdir / "state"),
        "NIGHTSHIFT_CONFIG": str(config),
    }
    settings = load_settings(env=env)
    console.print(
        Panel.fit(
            "This demo uses a [bold]scripted model[/bold]: a local OpenAI-compatible server that replays the "
            "sample incident's script, so it runs with no credentials and no network. Everything else is "
            "real: git worktrees, tools, pytest runs, SQLite (DBOS), the approval.\n"
            f"To point Nightshift at a real model: {HOW_TO_USE_A_REAL_MODEL}, then "
            '[bold]nightshift run "<what broke>" --repo PATH[/bold].',
            title="Nightshift demo",
        )
    )
    console.print(f"Sample repository copied to {sandbox.repo} (bare origin {sandbox.origin})")
    with model_for(settings) as (model, description):
        console.print(f"model: {description}", highlight=False)
        code = await run_incident(settings, model, SAMPLE_TICKET, console=console, approve=True)
    store = Store(database_url(settings.data_dir.resolve(), None))
    try:
        runs = await store.list_runs(limit=1)
        prs = await store.pull_requests()
    finally:
        store.close()
    if not runs:
        return 1
    facts = runs[0]
    verdict = facts.verification.verdict if facts.verification else "not verified"
    lines = [f"branch        {facts.branch} (pushed to {sandbox.origin})", f"verdict       {verdict}"]
    for pr in prs:
        lines.append(
            f"pull request  #{pr.number} {pr.title!r} on {pr.branch} ({'draft' if pr.draft else 'ready'}, "
            f"{len(pr.body)} characters of body, {pr.diff.count(chr(10))} diff lines; recorded locally)"
        )
    lines.append(f"report        {settings.data_dir.resolve() / 'reports' / f'{facts.run_id}.md'}")
    console.print(Panel("\n".join(lines), title="Demo result", border_style="green" if code == 0 else "red"))
    return code


if __name__ == "__main__":
    sys.exit(asyncio.run(demo(Console(stderr=True))))
