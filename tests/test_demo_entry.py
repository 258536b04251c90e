"""`make demo` as a newcomer runs it: ``python -m demo`` in a subprocess, with no credentials and a
temporary directory of its own, plays one incident through the real server to a shipped pull request
and exits 0."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_python_m_demo_ships_the_sample_incident_and_exits_0(tmp_path: Path) -> None:
    # No credentials: the conftest strips them from the environment the demo inherits.
    env = {**os.environ, "TMPDIR": str(tmp_path), "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "demo"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "Demo result" in output and "(recorded locally: shipped)" in output
    assert "verdict       verified:" in output
    (workdir,) = tmp_path.glob("nightshift-demo-*")
    reports = list((workdir / "state" / "reports").glob("*.md"))
    assert len(reports) == 1 and str(reports[0]) in output
    origin = workdir / "playground" / "origin.git"
    branches = subprocess.run(
        ["git", "-C", str(origin), "branch", "--list", "fix/*"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert len(branches) == 1 and branches[0] in output
