"""A review round on the run's web page, and the limits that hold across rounds, through the real server
with the GitHub fake and the scripted model: the page says a round is in progress while it runs and shows
its commit and verdict after; past ``[workflow] max_review_rounds``, or once the run's budget
(``[workflow] max_run_cost_usd``) is spent by its rounds, the next request gets a reply saying Nightshift
stops and why, and nothing more is pushed."""

from pathlib import Path

from client.scripted import ScriptedModelServer
from client.scripted.script import ScriptedUsage, Turn
from client.scripted.threaded import ThreadedServer
from demo.incident import CODE_REVISION, TEST_REVISION, kept_tests_turns, revision_turns
from tests.fakes.github import FakeGitHub
from tests.fakes.github_reviews import issue_comment_payload, review_payload
from tests.test_server_review_ends import RELEASE, gated_revision_turns
from tests.test_server_reviews import deliver, github, origin_log, round_over, serve, shipped_run
from tests.waiting import wait_until

pytest_plugins = ["tests.model_fixtures"]
__all__ = ["github"]  # the fixture, shared with test_server_reviews

ASK = "say in complete()'s docstring that completing is idempotent."
BUDGET_USD = 10.0
HALF_THE_BUDGET = ScriptedUsage(prompt_tokens=8000, completion_tokens=1_250_000)
"""At the test model's $4 per million output tokens, $5: half the run's budget."""


def test_the_page_shows_a_round_while_it_runs_and_after_and_past_max_review_rounds_nothing_more_is_pushed(
    tmp_path: Path, scripted_server: ScriptedModelServer, github: tuple[FakeGitHub, ThreadedServer]
) -> None:
    fake, _ = github
    settings = {"github": {"handle": "oncall-bot"}, "workflow": {"max_review_rounds": 1}}
    live = serve(
        tmp_path, scripted_server, github, settings=settings, **{CODE_REVISION: gated_revision_turns()}
    )
    try:
        run, pull = shipped_run(live, fake)
        page_url = f"/ui/runs/{run['run_id']}"
        asked = deliver(
            live, "issue_comment", issue_comment_payload(pull["number"], fake.full_name, f"@oncall-bot {ASK}")
        )
        assert asked.json()["answer"].startswith("taken (comment:")
        wait_until(
            lambda: any(r.script == CODE_REVISION for r in scripted_server.requests),
            "the round's code agent",
            timeout_s=120,
        )
        during = live.get_text(page_url)
        assert live.get_json(f"/runs/{run['run_id']}")["status"] in ("revising", "verifying")
        assert "A review round is in progress." in during
        (tmp_path / "state" / "worktrees" / run["run_id"] / "code" / RELEASE).touch()  # the agent goes on

        done = live.wait_for_run(run["run_id"], round_over(1))
        head = origin_log(live, run["branch"])
        assert done["reviews"]["rounds"][0]["commit"] == head[0]
        after = live.get_text(page_url)
        assert f"Review round 1: committed {head[0][:12]} on {run['branch']}" in after and "verified" in after
        assert "A review round is in progress" not in after

        live.wait_for_run(run["run_id"], lambda r: not r["reviews"]["active"])  # the rounds' workflow ended
        second = review_payload(pull, fake.full_name, body="One more thing: log it too.")
        answer = deliver(live, "pull_request_review", second).json()["answer"]
        assert answer == "no more rounds: it made 1 review round, the limit ([workflow] max_review_rounds)"
        wait_until(
            lambda: len(fake.conversation(pull["number"])) == 2,
            "a reply to the review past the limit",
            timeout_s=120,
        )
        reply = fake.conversation(pull["number"])[-1]
        ended = live.wait_for_run(
            run["run_id"], lambda r: all(d["state"] == "delivered" for d in r["deliveries"])
        )
    finally:
        live.server.stop()
    assert "Nightshift makes no more changes on this pull request" in reply["body"]
    assert "max_review_rounds" in reply["body"]
    assert origin_log(live, run["branch"]) == head and len(ended["reviews"]["rounds"]) == 1


def costly(turns: list[Turn]) -> list[Turn]:
    """``turns`` with the last (the submission) costing half the run's budget."""
    return [*turns[:-1], turns[-1].model_copy(update={"usage": HALF_THE_BUDGET})]


def test_a_run_whose_rounds_spent_its_budget_answers_the_next_request_and_makes_no_round(
    tmp_path: Path, scripted_server: ScriptedModelServer, github: tuple[FakeGitHub, ThreadedServer]
) -> None:
    fake, _ = github
    scripts = {CODE_REVISION: costly(revision_turns()), TEST_REVISION: costly(kept_tests_turns())}
    settings = {"workflow": {"max_run_cost_usd": BUDGET_USD}}
    live = serve(tmp_path, scripted_server, github, settings=settings, **scripts)
    try:
        run, pull = shipped_run(live, fake)
        assert run["cost_usd"] < BUDGET_USD / 2
        number = pull["number"]
        deliver(live, "issue_comment", issue_comment_payload(number, fake.full_name, f"@nightshift {ASK}"))
        done = live.wait_for_run(run["run_id"], round_over(1))
        head = origin_log(live, run["branch"])
        assert done["reviews"]["rounds"][0]["commit"] == head[0] and done["cost_usd"] >= BUDGET_USD
        before = len(scripted_server.requests)
        live.wait_for_run(run["run_id"], lambda r: not r["reviews"]["active"])  # the rounds' workflow ended

        more = deliver(
            live, "issue_comment", issue_comment_payload(number, fake.full_name, "@nightshift and the README")
        )
        assert more.json()["answer"].startswith("no more rounds: the run's budget")
        wait_until(
            lambda: any("budget" in c["body"] for c in fake.conversation(number)),
            "a reply that the budget is spent",
            timeout_s=120,
        )
        ended = live.wait_for_run(
            run["run_id"], lambda r: all(d["state"] == "delivered" for d in r["deliveries"])
        )
    finally:
        live.server.stop()
    [reply] = [c["body"] for c in fake.conversation(number) if "budget" in c["body"]]
    assert "Nightshift makes no more changes on this pull request" in reply
    assert f"budget of ${BUDGET_USD:g} is spent" in reply
    assert origin_log(live, run["branch"]) == head and len(ended["reviews"]["rounds"]) == 1
    assert len(scripted_server.requests) == before  # no agent ran for it
