"""`python -m demo.trigger --from sentry` and `--from pagerduty` against a real `nightshift serve`: each
alert is signed as its sender signs it, starts a run, and the run is briefed with the alert's frames
mapped onto the repository."""

import subprocess
import sys
from pathlib import Path

import httpx

from client.scripted import ScriptedModelServer
from client.scripted.incident import sample_incident_script
from demo.playground import create_playground, environment_toml
from demo.serving import ROOT, serving

pytest_plugins = ["tests.model_fixtures"]

SENTRY_SECRET = "sentry-demo-secret"
PAGERDUTY_SECRETS = "pd-demo-new,pd-demo-old"


def trigger(url: str, sender: str, secret: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "demo.trigger", "--url", url, "--from", sender, "--signing-secret", secret],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_trigger_fires_signed_alerts_at_nightshift_serve(
    tmp_path: Path, scripted_server: ScriptedModelServer
) -> None:
    playground = create_playground(tmp_path / "playground")
    config = tmp_path / "nightshift.toml"
    config.write_text(environment_toml())
    env = {
        "OPENAI_BASE_URL": scripted_server.base_url,
        "NIGHTSHIFT_MODEL": "scripted-trigger",
        "NIGHTSHIFT_REPO": str(playground.repo),
        "NIGHTSHIFT_DATA_DIR": str(tmp_path / "state"),
        "NIGHTSHIFT_CONFIG": str(config),
        "SENTRY_CLIENT_SECRET": SENTRY_SECRET,
        "PAGERDUTY_WEBHOOK_SECRETS": PAGERDUTY_SECRETS,
    }
    scripted_server.load(sample_incident_script())
    with serving(env, tmp_path) as server:
        sentry = trigger(server.url, "sentry", SENTRY_SECRET)
        scripted_server.load(sample_incident_script())
        pagerduty = trigger(server.url, "pagerduty", PAGERDUTY_SECRETS)
        runs = httpx.get(f"{server.url}/runs", timeout=10).json()["runs"]
        details = [httpx.get(f"{server.url}/runs/{run['id']}", timeout=10).json() for run in runs]

    assert sentry.returncode == 0, sentry.stdout + sentry.stderr
    assert "sentry alert acknowledged" in sentry.stdout and "is awaiting_decision" in sentry.stdout
    assert pagerduty.returncode == 0, pagerduty.stdout + pagerduty.stderr
    by_source = {run["ticket"]["source"]: run for run in details}
    assert set(by_source) == {"sentry", "pagerduty"}
    frames = by_source["sentry"]["ticket"]["alert"]["frames"]
    assert [(f["repo_path"], f["lineno"]) for f in frames if f["repo_path"]] == [
        ("todo/service.py", 55),
        ("todo/service.py", 50),
    ]
    gaps = by_source["pagerduty"]["ticket"]["alert"]["gaps"]
    assert any("PAGERDUTY_API_TOKEN is not set" in gap for gap in gaps)  # no token: the title alone
