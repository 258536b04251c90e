"""The briefing as Block Kit: valid for slack_sdk's models, within Slack's limits, hostile text inert."""

import json
import re
import warnings
from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from documents.briefing import Briefing, build_briefing
from documents.diffstat import diff_files
from documents.facts import RunFacts
from documents.slack_blocks import (
    APPROVE_ACTION_ID,
    FEEDBACK_ACTION_ID,
    FEEDBACK_BLOCK_ID,
    FEEDBACK_CALLBACK_ID,
    REQUEST_CHANGES_ACTION_ID,
    briefing_blocks,
    decided_blocks,
    fallback_text,
    feedback_modal,
)
from tests.documents_fixtures import budget_run, fix_fails_run, timeout_run, verified_run

HOSTILE = "<!channel> pay & <https://evil.example|click here> <@U0BOSS> <!subteam^S1|@oncall>"
RUN_PAGE = "<http://127.0.0.1:8000/runs/run-7f3a|Run page>"
TICKET_LINK = "<https://tracker.example.com/browse/PAY-42|PAY-42>"
ENTITY_OR_AMP = re.compile(r"&(?!amp;|lt;|gt;)")


def valid(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``blocks`` after checking each with slack_sdk's models and Slack's documented limits."""
    assert 0 < len(blocks) <= 50
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # slack_sdk warns about keys it does not know
        for block in blocks:
            model = Block.parse(block)
            assert model is not None, block
            model.validate_json()
            assert model.to_dict() == block
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        for element in block.get("elements", []):
            if element.get("type") == "button":
                assert len(element["text"]["text"]) <= 75
    return blocks


def mrkdwn_texts(blocks: list[dict[str, Any]]) -> list[str]:
    """Every mrkdwn string in the blocks (what Slack parses for mentions and links)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(blocks)
    return found


def of_type(blocks: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [block for block in blocks if block["type"] == kind]


def big_run() -> RunFacts:
    """A fix touching 40 files with 5,000 diff lines in all."""
    facts = verified_run()
    chunks = []
    for n in range(40):
        lines = "".join(f"+new line {i} of module {n} <!channel>\n" for i in range(121))
        chunks.append(
            f"diff --git a/pkg/module_{n:02d}.py b/pkg/module_{n:02d}.py\n"
            f"--- a/pkg/module_{n:02d}.py\n+++ b/pkg/module_{n:02d}.py\n@@ -1,0 +1,121 @@\n{lines}"
        )
    diff = "".join(chunks)
    assert len(diff.splitlines()) == 5000
    assert facts.fix is not None
    facts.fix.diff = diff
    facts.fix.files = diff_files(diff)
    facts.fix.root_cause = "x & y " * 2000  # 12,000 characters, 2,000 of them to escape
    return facts


def test_a_5000_line_diff_across_40_files_fits_slacks_limits_and_is_not_pasted() -> None:
    b = build_briefing(big_run())
    blocks = valid(briefing_blocks(b))

    text = json.dumps(blocks)
    assert "new line 5 of module 3" not in text and not of_type(blocks, "rich_text")
    files = next(t for t in mrkdwn_texts(blocks) if t.startswith("*Files changed:*"))
    assert files.startswith("*Files changed:* 40 files, +4840 -0")
    assert "pkg/module_09.py  +121 -0" in files and "module_10" not in files
    assert "… and 30 more" in files
    assert any("The diff (5000 lines) is not pasted here" in t for t in mrkdwn_texts(blocks))
    assert any(RUN_PAGE.replace("Run page", "the run page") in t for t in mrkdwn_texts(blocks))
    root = next(line for t in mrkdwn_texts(blocks) for line in t.splitlines() if line.startswith("*Cause:*"))
    assert root.endswith("…") and not ENTITY_OR_AMP.search(root)


def test_a_short_diff_is_pasted_verbatim_as_preformatted_text() -> None:
    b = build_briefing(verified_run())
    blocks = valid(briefing_blocks(b))

    (rich,) = of_type(blocks, "rich_text")
    assert rich["elements"][0]["type"] == "rich_text_preformatted"
    assert rich["elements"][0]["elements"][0]["text"] == b.diff_excerpt
    assert "+    return -value if negative else value" in b.diff_excerpt


def test_hostile_ticket_and_model_text_can_neither_mention_nor_link() -> None:
    facts = verified_run()
    facts.ticket.title = HOSTILE
    assert facts.fix is not None and facts.triage is not None and facts.tests is not None
    facts.fix.root_cause = HOSTILE
    facts.fix.explanation = HOSTILE
    facts.triage.summary = HOSTILE
    facts.tests.test_names = [HOSTILE]
    facts.decisions[0].by = "<!here>"
    facts.decisions[0].feedback = HOSTILE
    b = build_briefing(facts)

    blocks = valid(briefing_blocks(b))

    texts = mrkdwn_texts(blocks)
    links = {token for text in texts for token in re.findall(r"<[^<>]*>", text)}
    assert links == {RUN_PAGE, TICKET_LINK}
    assert all(not ENTITY_OR_AMP.search(text) for text in texts)
    assert any("&lt;!channel&gt; pay &amp; &lt;https://evil.example|click here&gt;" in text for text in texts)
    assert "<!channel>" not in fallback_text(b) and "&lt;!channel&gt;" in fallback_text(b)


def test_a_url_that_is_not_plain_http_is_shown_not_linked() -> None:
    facts = verified_run()
    facts.ticket.url = "javascript:alert(1)|<!channel>"
    blocks = valid(briefing_blocks(build_briefing(facts)))

    links = {token for text in mrkdwn_texts(blocks) for token in re.findall(r"<[^<>]*>", text)}
    assert links == {RUN_PAGE}
    assert any("PAY-42: javascript:alert(1)|&lt;!channel&gt;" in text for text in mrkdwn_texts(blocks))


def test_approve_and_request_changes_buttons_only_while_awaiting_a_decision() -> None:
    blocks = valid(briefing_blocks(build_briefing(verified_run())))

    (actions,) = of_type(blocks, "actions")
    assert blocks[-1] is actions
    approve, request = actions["elements"]
    assert (approve["action_id"], approve["value"]) == (APPROVE_ACTION_ID, "run-7f3a")
    assert approve["style"] == "primary"
    assert approve["confirm"]["title"]["text"] == "Open the pull request?"
    assert (request["action_id"], request["value"]) == (REQUEST_CHANGES_ACTION_ID, "run-7f3a")

    for status in ("running", "shipped", "cancelled", "failed"):
        facts = verified_run()
        facts.status = status
        assert not of_type(valid(briefing_blocks(build_briefing(facts))), "actions"), status


def test_decided_blocks_drop_the_buttons_and_say_who_decided() -> None:
    b = build_briefing(verified_run())

    blocks = valid(decided_blocks(b, "Changes requested by <@U0ALICE>: drop <!channel> & retry"))

    assert not of_type(blocks, "actions")
    assert blocks[0]["type"] == "header"
    assert blocks[1]["elements"][0]["text"] == (
        "Changes requested by <@U0ALICE>: drop &lt;!channel&gt; &amp; retry"
    )
    assert of_type(blocks, "rich_text")  # the rest of the briefing is still there


def test_counts_per_phase_verdict_warnings_and_cost_are_shown() -> None:
    texts = mrkdwn_texts(valid(briefing_blocks(build_briefing(fix_fails_run()))))
    verdict = next(text for text in texts if text.startswith("*Verdict:*"))
    assert verdict.startswith("*Verdict:* :x: fix does not pass (not verified)")
    assert "• New tests on base: 0 passed, 2 failed (must fail)" in verdict
    assert "• New tests with the fix: 1 passed, 1 failed (must pass)" in verdict
    assert "• Fix attempts: 2" in verdict
    assert any("*Cost:* $0.42" in text for text in texts)

    timeout = mrkdwn_texts(valid(briefing_blocks(build_briefing(timeout_run()))))
    warning = ":warning: The test agent timed out after 600s; its tests are missing."
    assert any(warning in text for text in timeout)
    assert "*Tests:* no new tests." in timeout
    budget = mrkdwn_texts(valid(briefing_blocks(build_briefing(budget_run()))))
    assert any(":warning: The per-run budget ran out" in text for text in budget)


def test_the_header_is_plain_text_cut_to_150_characters() -> None:
    facts = verified_run()
    facts.ticket.title = "Checkout fails " * 19  # 285 characters
    facts.ticket.priority = "P1"  # as triage says: the header shows it once
    (header,) = of_type(valid(briefing_blocks(build_briefing(facts))), "header")

    assert header["text"]["type"] == "plain_text"
    text = header["text"]["text"]
    assert len(text) <= 150 and text.startswith("PAY-42 · P1 · Checkout fails") and text.endswith("fails…")


def test_the_feedback_modal_is_a_valid_view_carrying_the_run_id() -> None:
    view = feedback_modal("run-7f3a")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        View(**view).validate_json()

    assert (view["callback_id"], view["private_metadata"]) == (FEEDBACK_CALLBACK_ID, "run-7f3a")
    (field,) = view["blocks"]
    assert (field["type"], field["block_id"]) == ("input", FEEDBACK_BLOCK_ID)
    element = field["element"]
    assert (element["type"], element["action_id"], element["multiline"]) == (
        "plain_text_input",
        FEEDBACK_ACTION_ID,
        True,
    )


def test_fallback_text_names_the_ticket_and_the_pending_decision() -> None:
    b: Briefing = build_briefing(verified_run())

    assert fallback_text(b) == (
        "PAY-42: fix verified, ready for review — Refunds show up as charges Awaiting your decision."
    )


def test_the_message_opens_with_the_verdict_line_then_each_point_labelled() -> None:
    b = build_briefing(verified_run())
    lines = mrkdwn_texts(valid(briefing_blocks(b)))[0].splitlines()
    assert lines[0] == "*PAY-42: fix verified, ready for review*"
    labelled = [line for line in lines if line.startswith("*") and ":* " in line]
    assert [line[1 : line.index(":* ")] for line in labelled] == [
        "What broke",
        "Cause",
        "Fix",
        "Evidence",
        "Decision",
    ]
    assert labelled[0] == "*What broke:* Refunds show up as charges."
    assert labelled[-1] == "*Decision:* It awaits your decision: approve, request changes or cancel."
