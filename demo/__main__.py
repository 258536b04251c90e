"""`make demo`: one whole incident through the real HTTP server, on local defaults (no credentials).

1. the sample todo service (demo/sample_repo) is copied into a temporary git repository with a bare
   origin; a local stand-in for Slack's Web API starts on 127.0.0.1;
2. `nightshift serve` starts for real (uvicorn, SQLite/DBOS in the temporary state directory) with the
   scripted model, since no OPENAI_API_KEY is given;
3. demo/trigger.py fires a correctly signed /oncall command, as Slack would, and follows the run's
   events to its briefing (posted to the Slack stand-in, with Approve / Request changes);
4. the run is approved through the operator API, as CI would; the pull request is recorded locally and
   the Slack message is updated in place (both are deliveries, followed until they are out);
5. the branch, the verdict, the PR record and the report's path are printed, and the server stops.
"""

import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.panel import Panel

from client.scripted.local import HOW_TO_USE_A_REAL_MODEL
from demo.fake_slack import CHANNEL_ID, FakeSlack
from demo.incident import SAMPLE_TICKET
from demo.playground import create_playground, environment_toml
from demo.serving import serving
from demo.trigger import fire, follow
from workflow.runtime import report_path


def demo(console: Console) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="nightshift-demo-"))
    playground = create_playground(workdir / "playground")
    config = workdir / "nightshift.toml"
    config.write_text(environment_toml())
    console.print(
        Panel.fit(
            "The model is [bold]scripted[/bold]: a local OpenAI-compatible server replays the sample "
            "incident, so this runs with no credentials and no network; Slack is a local stand-in on "
            "127.0.0.1. Everything else is real: the HTTP server, signatures, git worktrees, tools, "
            "SQLite (DBOS), and every test and shell command runs in the bubblewrap sandbox.\n"
            f"To point Nightshift at a real model: {HOW_TO_USE_A_REAL_MODEL}.",
            title="Nightshift demo",
        )
    )
    signing_secret, api_token, bot_token = secrets.token_hex(16), secrets.token_hex(16), "xoxb-demo-stand-in"
    with FakeSlack(token=bot_token) as slack:
        env = {
            "NIGHTSHIFT_REPO": str(playground.repo),
            "NIGHTSHIFT_DATA_DIR": str(workdir / "state"),
            "NIGHTSHIFT_CONFIG": str(config),
            "NIGHTSHIFT_API_TOKEN": api_token,
            "SLACK_BOT_TOKEN": bot_token,
            "SLACK_SIGNING_SECRET": signing_secret,
            "SLACK_CHANNEL": CHANNEL_ID,
            "SLACK_API_URL": slack.api_url,
        }
        with serving(env, workdir) as server:
            url = server.url
            console.print(
                f"server up on {url}: {_integrations(server.health)}; model: {server.health['model']}",
                highlight=False,
            )
            ack = fire(url, signing_secret, SAMPLE_TICKET.title)
            run_id = ack["text"].split("`")[1]
            run: dict[str, Any] = follow(url, run_id)
            console.print(
                f"briefed: {run['status']}, verdict {run['verification']['verdict']}; approving as CI "
                "would: POST /runs/latest/approve",
                highlight=False,
            )
            approved = httpx.post(
                f"{url}/runs/latest/approve", headers={"Authorization": f"Bearer {api_token}"}
            )
            console.print(f"  -> {approved.status_code} {approved.json()}", highlight=False)
            deadline = time.monotonic() + 120
            while not _settled(run) and time.monotonic() < deadline:
                time.sleep(0.3)
                run = httpx.get(f"{url}/runs/{run_id}").json()
            message = slack.message(run["message_ref"])
            log = server.log
    verdict = run["verification"]["verdict"]
    lines = [
        f"branch        {run['branch']} (pushed to {playground.origin})",
        f"verdict       {verdict}: {run['verification']['detail']}",
        f"pull request  {run['pr_url']} (recorded locally: {run['status']})",
        f"slack         message {run['message_ref']} updated in place: {message['text'][:80]}",
        f"report        {report_path(workdir / 'state', run_id)}",
        f"server log    {log}",
    ]
    ok = run["status"] == "shipped"
    console.print(
        Panel("\n".join(lines), title="Demo result", border_style="green" if ok else "red"), highlight=False
    )
    return 0 if ok else 1


def _settled(run: dict[str, Any]) -> bool:
    """The run ended and what it sends is out (or given up)."""
    if run["status"] not in ("shipped", "failed", "cancelled", "expired"):
        return False
    return all(delivery["state"] != "pending" for delivery in run["deliveries"])


def _integrations(health: dict[str, Any]) -> str:
    return ", ".join(
        f"{name} {entry['mode']}" + (f" ({entry['state']})" if "state" in entry else "")
        for name, entry in health["integrations"].items()
    )


if __name__ == "__main__":
    sys.exit(demo(Console(stderr=True)))
