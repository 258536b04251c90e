"""Who may steer Nightshift on its pull request, and what the agents are told, through the real server with
the GitHub fake and the scripted model: with ``[github] reviewers = ["alice"]`` and ``handle =
"oncall-bot"``, a collaborator not in the list, a comment that does not mention the bot, the bot's own
login and a comment carrying Nightshift's marker start nothing; alice's ``commented`` review whose line
comments mention ``@nightshift`` starts a round whose code and test agents get each comment's file, line
and hunk, fenced as untrusted data; ``/nightshift stop`` ends the rounds, with a reply."""

import json
import re
from pathlib import Path
from typing import Any

from client.scripted import ScriptedModelServer
from client.scripted.threaded import ThreadedServer
from demo.incident import CODE_REVISION, REGRESSION_TESTS, SERVICE, TEST_REVISION
from integrations.github_reviews import OWN_MARKER
from tests.fakes.github import FakeGitHub
from tests.fakes.github_reviews import issue_comment_payload, review_comment_payload, review_payload
from tests.test_server_review_hostile import outside_fences
from tests.test_server_reviews import deliver, github, origin_log, round_over, serve, shipped_run
from tests.waiting import wait_until

pytest_plugins = ["tests.model_fixtures"]
__all__ = ["github"]  # the fixture, shared with test_server_reviews

ON_CODE = "@nightshift say in complete()'s docstring that completing is idempotent."
ON_TESTS = "@nightshift the regression test should complete the todo a third time too."
NIT = "nit: I would have named this differently, but it is fine."


def user_messages(model: ScriptedModelServer, script: str) -> list[str]:
    return [
        m["content"]
        for r in model.requests
        if r.script == script
        for m in r.body["messages"]
        if m["role"] == "user" and isinstance(m["content"], str)
    ]


def feedback(messages: list[str]) -> str:
    """The ``<feedback>`` block of the first message that has one: what the reviewers wrote, as data."""
    found = next(
        m for text in messages if (m := re.search(r"<feedback>\n(.*?)\n</feedback>", text, re.DOTALL))
    )
    return found[1]


def test_only_allowed_reviewers_mentioning_the_bot_start_a_round_and_the_agents_get_each_comments_place(
    tmp_path: Path, scripted_server: ScriptedModelServer, github: tuple[FakeGitHub, ThreadedServer]
) -> None:
    fake, _ = github
    settings = {"github": {"reviewers": ["alice"], "handle": "oncall-bot"}}
    live = serve(tmp_path, scripted_server, github, settings=settings)
    try:
        run, pull = shipped_run(live, fake)
        number, repo = pull["number"], fake.full_name

        def said(event: str, payload: dict[str, Any]) -> str:
            answer = deliver(live, event, payload)
            assert answer.status_code == 202, answer.text
            return str(answer.json()["answer"])

        marked = f"{OWN_MARKER}{run['run_id']}:pr_comment:round:1 -->\n@nightshift Done, verified."
        assert "bob is not one of [github] reviewers" in said(
            "issue_comment",
            issue_comment_payload(number, repo, "@nightshift rename complete()", author="bob"),
        )
        assert "asks Nightshift for nothing" in said(
            "issue_comment", issue_comment_payload(number, repo, "Looks right to me; @carol, agree?")
        )
        assert "asks Nightshift for nothing" in said(
            "pull_request_review", review_payload(pull, repo, state="commented", body="Nice and small.")
        )
        own = [
            said(
                "issue_comment", issue_comment_payload(number, repo, "@nightshift again", author="oncall-bot")
            ),
            said("issue_comment", issue_comment_payload(number, repo, marked)),  # alice's login, our marker
        ]
        assert own == ["Nightshift's own comment"] * 2
        quiet = live.get_json(f"/runs/{run['run_id']}")
        assert quiet["reviews"]["rounds"] == [] and quiet["reviews"]["pending"] == []
        assert any("bob is not one of [github] reviewers" in e["text"] for e in quiet["timeline"])
        assert not any(r.script in (CODE_REVISION, TEST_REVISION) for r in scripted_server.requests)

        review_id = 91_001
        comments = [
            fake.add_review_comment(number, review_id, path=SERVICE, line=30, body=ON_CODE),
            fake.add_review_comment(number, review_id, path=REGRESSION_TESTS, line=12, body=ON_TESTS),
            fake.add_review_comment(number, review_id, path=SERVICE, line=31, body=NIT),
        ]
        for comment in comments:
            said("pull_request_review_comment", review_comment_payload(pull, repo, comment))
        said("pull_request_review", review_payload(pull, repo, state="commented", review_id=review_id))
        done = live.wait_for_run(run["run_id"], round_over(1))
        assert [r["key"] for r in done["reviews"]["rounds"][0]["requests"]] == [f"review:{review_id}"]
        head = origin_log(live, run["branch"])

        code, tests = (
            user_messages(scripted_server, CODE_REVISION),
            user_messages(scripted_server, TEST_REVISION),
        )
        told = feedback(code)
        hunk = comments[0]["diff_hunk"].splitlines()
        for needle in (f"On {SERVICE} line 30: {ON_CODE}", *(f"    {line}" for line in hunk)):
            assert needle in told, needle
        assert f"On {REGRESSION_TESTS} line 12: {ON_TESTS}" in feedback(tests)
        for text in code + tests:
            assert outside_fences(text, ON_CODE) == outside_fences(text, ON_TESTS) == []
        assert not any(NIT in json.dumps(r.body) for r in scripted_server.requests)  # no mention: not asked
        assert [len(fake.replies(c["id"])) for c in comments] == [1, 1, 0]

        assert said("issue_comment", issue_comment_payload(number, repo, "/nightshift stop")) == "stopped"
        later = said("issue_comment", issue_comment_payload(number, repo, "@nightshift one more thing"))
        assert later.startswith("no more rounds") and "asked Nightshift to stop" in later
        wait_until(
            lambda: sum("asked Nightshift to stop" in c["body"] for c in fake.conversation(number)) == 2,
            "a reply to the stop, and one to the comment after it",
            timeout_s=120,
        )
        ended = live.wait_for_run(
            run["run_id"], lambda r: all(d["state"] == "delivered" for d in r["deliveries"])
        )
    finally:
        live.server.stop()
    assert len(ended["reviews"]["rounds"]) == 1 and origin_log(live, run["branch"]) == head
    assert "asked Nightshift to stop" in (ended["reviews"]["stopped"] or "")
