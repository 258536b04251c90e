"""Regenerate the run page's screenshots in docs/images/ (linked from docs/web.md).

Run from the repository root: ``.venv/bin/python docs/screenshots.py``. It starts the real server
(uvicorn on 127.0.0.1, SQLite) on a copy of the sample repository with the scripted model, through the
tests' own helpers, and drives Debian's Chromium with Playwright, as the browser tests do:

- ``run-awaiting-decision.png``: the sample incident briefed, Approve / Request changes / Cancel;
- ``run-nothing-to-approve.png``: revision 2, whose code agent declined the feedback: nothing to
  approve, so Ship revision 1 (an explicit choice), Request changes or Cancel;
- ``run-shipped.png``: the incident on a fresh server, approved through the API, its pull request open.
"""

import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from client.scripted import ScriptedModelServer  # noqa: E402
from demo.incident import REVISION_FEEDBACK  # noqa: E402
from tests.browser_fixtures import Chromium, PageLog, install_chromium  # noqa: E402
from tests.server_fixtures import LiveServer, all_delivered, briefed, declined_revision_server  # noqa: E402

IMAGES = ROOT / "docs" / "images"
VIEWPORT = {"width": 1200, "height": 1100}
TITLE = "Completing a todo twice reopens it"


def shoot(browser: Chromium, url: str, name: str) -> None:
    def scenario(page: Any, log: PageLog) -> None:
        page.set_viewport_size(VIEWPORT)
        page.goto(url)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(IMAGES / name))
        if log.problems():
            raise AssertionError(f"{name}: {log.problems()}")

    browser.run(scenario)
    print(f"wrote docs/images/{name}")


def start_run(live: LiveServer) -> dict[str, Any]:
    with live.client() as client:
        created: dict[str, Any] = client.post("/runs", json={"title": TITLE}).json()
    live.wait_for_run(created["run_id"], briefed)
    return created


def main() -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    browser = Chromium(install_chromium())
    browser.start()
    try:
        with ScriptedModelServer() as model, tempfile.TemporaryDirectory() as tmp:
            live = declined_revision_server(Path(tmp), model)
            try:
                first = start_run(live)
                shoot(browser, first["url"], "run-awaiting-decision.png")
                with live.client() as client:
                    sent = client.post(
                        f"/runs/{first['run_id']}/request-changes", json={"feedback": REVISION_FEEDBACK}
                    )
                    sent.raise_for_status()
                live.wait_for_run(first["run_id"], lambda run: briefed(run) and run["revision"] == 2)
                shoot(browser, first["url"], "run-nothing-to-approve.png")
            finally:
                live.server.stop()
            live = declined_revision_server(Path(tmp) / "shipped", model)  # the script, from its start
            try:
                second = start_run(live)
                with live.client() as client:
                    client.post(f"/runs/{second['run_id']}/approve").raise_for_status()
                live.wait_for_run(second["run_id"], all_delivered)
                shoot(browser, second["url"], "run-shipped.png")
            finally:
                live.server.stop()
    finally:
        browser.close()


if __name__ == "__main__":
    main()
