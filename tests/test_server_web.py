"""The web pages of the real server in a real headless Chromium: open a run's page from its signed link,
watch the agents progress live, press Approve, see the pull request link appear."""

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from client.scripted import ScriptedModelServer
from demo.incident import DECLINED, sample_incident_script
from tests.browser_fixtures import Chromium, PageLog, browser_fixture  # noqa: F401 (fixture)
from tests.server_fixtures import (
    LiveServer,
    all_delivered,
    declined_revision_server,
    second_revision,
    server_settings,
    start_server,
)

pytest_plugins = ["tests.model_fixtures"]

RECORD_CODE_TOOLS = """
document.addEventListener("DOMContentLoaded", () => {
  const cell = document.getElementById("agent-code-tool");
  if (!cell) return;
  const record = () => {
    if (cell.textContent) document.documentElement.dataset.codeToolShown = cell.textContent;
  };
  new MutationObserver(record).observe(cell, { childList: true, characterData: true, subtree: true });
});
"""
"""Keeps, on ``<html data-code-tool-shown>``, the last tool name the code agent's Tool cell showed: a
tool call lasts milliseconds, far less than the interval at which ``expect`` polls, so polling the
cell itself would miss most of them."""


@pytest.fixture
def live(tmp_path: Path, scripted_server: ScriptedModelServer) -> Iterator[LiveServer]:
    slow = {
        name: [turn.model_copy(update={"ttft_s": 0.4}) for turn in turns]
        for name, turns in sample_incident_script().items()
    }
    settings, playground = server_settings(tmp_path, scripted_server)
    server = start_server(settings, playground, slow, scripted_server)
    yield server
    server.server.stop()


def test_watch_a_run_live_approve_it_and_see_the_pr_link(live: LiveServer, browser: Chromium) -> None:
    with live.client() as client:
        created = client.post("/runs", json={"title": "Completing a todo twice reopens it"}).json()
    run_id, link = created["run_id"], created["url"]
    assert link.startswith(f"{live.url}/ui/runs/{run_id}?sig=")

    def scenario(page: Page, log: PageLog) -> None:
        page.add_init_script(RECORD_CODE_TOOLS)
        page.goto(link)
        expect(page.locator("#agent-code-status")).to_have_text(re.compile("running"), timeout=30_000)
        shown = page.locator("html")  # a tool call, live:
        expect(shown).to_have_attribute("data-code-tool-shown", re.compile(r"\w"), timeout=30_000)
        expect(page.locator("#approve-button")).to_be_visible(timeout=90_000)  # briefed: the page reloaded
        expect(page.locator("#verdict")).to_contain_text("verified")
        page.locator("#approve-button").click()
        expect(page.locator("#decision-status")).to_contain_text("Approving", timeout=10_000)
        expect(page.locator("#pr-link")).to_have_attribute("href", "local://pull-requests/1", timeout=60_000)
        assert log.problems() == []

    browser.run(scenario, timeout_s=180)
    run = live.wait_for_run(run_id, all_delivered)
    assert run["decisions"][0]["by"] == "web" and run["pr_url"] == "local://pull-requests/1"


def test_a_page_without_a_signed_link_needs_the_token(live: LiveServer, browser: Chromium) -> None:
    with live.client() as client:
        run_id = client.post("/runs", json={"title": "Completing a todo twice reopens it"}).json()["run_id"]
    live.wait_for_run(run_id, lambda r: r["status"] == "awaiting_decision")
    forged = f"{live.url}/ui/runs/{run_id}?sig=0123456789abcdef0123456789abcdef"

    def scenario(page: Page, log: PageLog) -> None:
        page.goto(forged)  # a forged signature gives no rights: the form asks for the token
        expect(page.locator("#approve-token")).to_be_visible()
        # and says what it is: the field's label names the setting, and why it is asked for here
        field = page.get_by_label("API token").first
        expect(field).to_have_id("approve-token")
        expect(field).to_have_attribute("type", "password")
        expect(page.locator("label[for=approve-token]")).to_contain_text(
            "The server's NIGHTSHIFT_API_TOKEN: this page was not opened from the run's signed link."
        )

    browser.run(scenario)
    with live.client(token=None) as anonymous:  # and the server refuses a form post without either
        refused = anonymous.post(
            f"/ui/runs/{run_id}/approve", data={"sig": "0" * 32}, headers={"Accept": "application/json"}
        )
    assert refused.status_code == 401 and "NIGHTSHIFT_API_TOKEN" in refused.json()["error"]
    assert live.get_json(f"/runs/{run_id}")["status"] == "awaiting_decision"


def test_a_revision_that_changed_nothing_says_why_and_ships_revision_1_only_when_chosen(
    tmp_path: Path, scripted_server: ScriptedModelServer, browser: Chromium
) -> None:
    live = declined_revision_server(tmp_path, scripted_server)
    try:
        run = second_revision(live)
        page = live.get_text(f"/ui/runs/{run['id']}")
        assert 'id="approve-form"' not in page and 'id="ship-revision-form"' in page
        assert "did not act on the feedback" in page and 'id="not-done"' in page
        assert html.escape(DECLINED) in page
        with live.client() as client:  # a page loaded before revision 2 still has its Approve form
            refused = client.post(
                f"/ui/runs/{run['id']}/approve",
                data={"revision": "1"},
                headers={"Accept": "application/json"},
            )
        assert refused.status_code == 409 and "changed nothing since revision 1" in refused.json()["error"]

        def scenario(page: Page, log: PageLog) -> None:
            page.goto(run["url"])
            button = page.locator("#ship-revision-button")
            expect(button).to_have_text(re.compile(r"^Ship revision 1 as briefed at \d\d:\d\d UTC$"))
            expect(page.locator("#approve-button")).to_have_count(0)
            button.click()
            pr = page.locator("#pr-link")
            expect(pr).to_have_attribute("href", "local://pull-requests/1", timeout=60_000)
            assert log.problems() == []

        browser.run(scenario, timeout_s=120)
        shipped = live.wait_for_run(run["id"], all_delivered)
        assert shipped["shipped_revision"] == 1 and shipped["decisions"][-1]["by"] == "web"
    finally:
        live.server.stop()


def test_without_an_api_token_no_token_field_and_nothing_to_approve_offers_cancel_that_cancels(
    tmp_path: Path, scripted_server: ScriptedModelServer, browser: Chromium
) -> None:
    live = declined_revision_server(tmp_path, scripted_server, api_token=False)
    try:
        run = second_revision(live)  # revision 2 changed nothing: there is nothing to approve

        def scenario(page: Page, log: PageLog) -> None:
            page.goto(f"{live.url}/ui/runs/{run['id']}")  # no signed link, and no token configured
            expect(page.locator("#cancel-button")).to_be_visible()
            expect(page.locator("#approve-button")).to_have_count(0)
            assert page.locator("input[type=password]").count() == 0
            page.locator("#cancel-button").click()
            expect(page.locator("#run-status")).to_have_text("cancelled", timeout=60_000)
            expect(page.locator("#decision-forms")).to_have_count(0)
            assert log.problems() == []

        browser.run(scenario, timeout_s=120)
        cancelled = live.get_json(f"/runs/{run['id']}")
        assert cancelled["status"] == "cancelled" and cancelled["pr_url"] is None
        assert cancelled["decisions"][-1]["kind"] == "cancel" and cancelled["decisions"][-1]["by"] == "web"
    finally:
        live.server.stop()
