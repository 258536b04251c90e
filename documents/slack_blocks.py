"""The briefing as Slack Block Kit: pure functions of a ``Briefing``, within Slack's limits.

Ticket and model text is hostile. ``escape`` applies Slack's rules (``&``, ``<`` and ``>`` become
entities), so ``<!channel>``, ``<@U1>`` or ``<https://evil|click>`` in a ticket shows as those
characters and pings or links nobody. Our own links are made only from plain http(s) URLs.
``escape_keep_mentions`` is for lines we write ourselves (``Approving... by <@U1>``): it escapes
everything except user mentions.

Slack's limits are kept by construction: a briefing is at most a dozen blocks (the file list is one
section whatever the number of files), section text is cut at 3000 characters without splitting an
entity or a link, the header at 150, button labels are short constants. A diff is pasted only when it
is short and complete; otherwise the files and their counts are listed with a link to the run's page.
"""

import re
from typing import Any

from documents.briefing import Briefing
from documents.facts import FileChange
from documents.phrases import clip, format_usd, plural, verdict_label
from documents.stack import TOP_FRAMES, alert_heading, frame_note, frame_text, hidden_frames

APPROVE_ACTION_ID = "nightshift_approve"
SHIP_REVISION_ACTION_ID = "nightshift_ship_revision"
"""The explicit choice of an earlier revision; its value is ``<run id>:<revision>``."""
REQUEST_CHANGES_ACTION_ID = "nightshift_request_changes"
FEEDBACK_CALLBACK_ID = "nightshift_feedback"
FEEDBACK_BLOCK_ID = "feedback"
FEEDBACK_ACTION_ID = "text"

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_FEEDBACK_CHARS = 3000

_MAX_FILES = 10
_MAX_TESTS = 8
_MAX_PROSE = 1500
_MAX_LINE = 500
_MAX_PASTED_DIFF_CHARS = 2500
_MAX_FALLBACK = 300
_LINKABLE = re.compile(r"^https?://[^\s<>|&]+$")
_ESCAPED_MENTION = re.compile(r"&lt;@([UW][A-Z0-9]{2,})&gt;")

BlockJson = dict[str, Any]


def escape(text: str) -> str:
    """``text`` with Slack's control characters escaped: it can neither mention nor link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_keep_mentions(text: str) -> str:
    """Like ``escape``, but user mentions (``<@U123>``) still mention; for lines we compose."""
    return _ESCAPED_MENTION.sub(r"<@\1>", escape(text))


def _cut(text: str, limit: int) -> str:
    """Escaped mrkdwn cut to ``limit`` characters, never inside an entity or a ``<link|label>``."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&", len(cut) - 5)
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    if cut.rfind("<") > cut.rfind(">"):
        cut = cut[: cut.rfind("<")]
    return cut.rstrip() + "…"


def _flat(text: str, limit: int = _MAX_PROSE) -> str:
    return escape(clip(" ".join(text.split()), limit))


def _link(url: str | None, label: str) -> str | None:
    """``<url|label>`` for a plain http(s) URL; any other URL is shown as escaped text."""
    if not url:
        return None
    if _LINKABLE.match(url):
        return f"<{url}|{escape(label)}>"
    return f"{escape(label)}: {escape(url)}"


def _text(text: str, kind: str = "mrkdwn") -> dict[str, Any]:
    if kind == "plain_text":
        return {"type": "plain_text", "text": text, "emoji": True}
    return {"type": "mrkdwn", "text": text}


def _section(text: str) -> BlockJson:
    return {"type": "section", "text": _text(_cut(text, MAX_SECTION_TEXT))}


def _context(*parts: str) -> BlockJson:
    return {"type": "context", "elements": [_text(_cut(part, MAX_SECTION_TEXT)) for part in parts[:10]]}


def _header(b: Briefing) -> BlockJson:
    parts = [b.ticket_key, b.priority, b.ticket_title]
    text = " · ".join(" ".join(part.split()) for part in parts if part and part.strip())
    return {"type": "header", "text": _text(clip(text, MAX_HEADER_TEXT), "plain_text")}


def _file_line(change: FileChange) -> str:
    path = f"{change.old_path} → {change.path}" if change.old_path else change.path
    counts = "binary" if change.binary else f"+{change.added} -{change.removed}"
    status = "" if change.status == "modified" else f" ({change.status})"
    return f"• {escape(clip(path, 200))}  {counts}{status}"


def _files_section(b: Briefing) -> BlockJson:
    added = sum(change.added for change in b.files)
    removed = sum(change.removed for change in b.files)
    lines = [f"*Files changed:* {plural(len(b.files), 'file')}, +{added} -{removed}"]
    lines += [_file_line(change) for change in b.files[:_MAX_FILES]]
    if len(b.files) > _MAX_FILES:
        lines.append(f"… and {len(b.files) - _MAX_FILES} more")
    return _section("\n".join(lines))


def _diff_blocks(b: Briefing) -> list[BlockJson]:
    """A short, complete diff pasted as preformatted text; otherwise where to read it."""
    if not b.diff_excerpt:
        return []
    if b.diff_omitted_lines == 0 and len(b.diff_excerpt) <= _MAX_PASTED_DIFF_CHARS:
        text = {"type": "text", "text": b.diff_excerpt}
        return [{"type": "rich_text", "elements": [{"type": "rich_text_preformatted", "elements": [text]}]}]
    total = len(b.diff_excerpt.splitlines()) + b.diff_omitted_lines
    where = _link(b.web_url, "the run page") or "the pull request once it is open"
    return [_context(f"The diff ({plural(total, 'line')}) is not pasted here: read it on {where}.")]


def _alert_section(b: Briefing) -> BlockJson | None:
    """The alert's exception (linked to its event) and its top frames (linked to the repository)."""
    alert = b.alert
    if alert is None:
        return None
    heading = clip(" ".join(alert_heading(alert).split()), 300)
    lines = [f"*{_link(alert.web_url, heading) or escape(heading)}*"]
    for frame in alert.top_frames(TOP_FRAMES):
        place = clip(frame_text(frame), 300)
        note = frame_note(frame)
        shown = _link(frame.url, place) or escape(place)
        lines.append(f"• {shown}" + (f" — _{_flat(note, 200)}_" if note else ""))
    if hidden_frames(alert):
        lines.append(f"… and {plural(hidden_frames(alert), 'earlier frame')}")
    lines += [f":grey_question: {_flat(gap, 300)}" for gap in alert.gaps]
    return _section("\n".join(lines))


def _tests_section(b: Briefing) -> BlockJson:
    if not b.tests:
        return _section("*Tests:* no new tests.")
    names = [f"• {_flat(name, 200)}" for name in b.tests[:_MAX_TESTS]]
    if len(b.tests) > _MAX_TESTS:
        names.append(f"… and {len(b.tests) - _MAX_TESTS} more")
    files = ", ".join(_flat(path, 200) for path in b.test_files[:_MAX_FILES])
    more = f" and {len(b.test_files) - _MAX_FILES} more" if len(b.test_files) > _MAX_FILES else ""
    title = f"*Tests:* {plural(len(b.tests), 'new test')}" + (f" in {files}{more}" if files else "")
    return _section("\n".join([title, *names]))


def _verdict_section(b: Briefing) -> BlockJson:
    mark = ":white_check_mark:" if b.verified else (":x:" if b.tone == "bad" else ":warning:")
    lines = [f"*Verdict:* {mark} {escape(verdict_label(b.verdict))}"]
    lines += [
        f"• {escape(phase.label)}: {escape(phase.counts.summary())} ({escape(phase.expectation)})"
        + (f" in {escape(phase.time)}" if phase.time else "")
        for phase in b.counts
    ]
    if b.fix_attempts and b.fix_attempts > 1:
        lines.append(f"• Fix attempts: {b.fix_attempts}")
    return _section("\n".join(lines))


def _facts_context(b: Briefing) -> BlockJson:
    status = b.status.replace("_", " ") + (f" (revision {b.revision})" if b.revision > 1 else "")
    facts = [f"*Status:* {status}", f"*Cost:* {format_usd(b.cost_usd)}"]
    if b.branch:
        facts.append(f"*Branch:* {escape(b.branch)}")
    links = [_link(b.pr_url, "Pull request"), _link(b.web_url, "Run page"), _link(b.ticket_url, b.ticket_key)]
    facts += [link for link in links if link]
    facts.append(f"run {escape(b.run_id)}")
    elements = [" · ".join(facts)]
    if b.decisions:
        last = b.decisions[-1]
        by = f" by {escape(last.by)}" if last.by else ""
        feedback = f": {_flat(last.feedback, 300)}" if last.feedback else ""
        elements.append(f"*Last decision:* {last.kind.replace('_', ' ')}{by}{feedback}")
    return _context(*elements)


def _confirm(title: str, text: str) -> dict[str, Any]:
    return {
        "title": _text(clip(title, 100), "plain_text"),
        "text": _text(clip(text, 300), "plain_text"),
        "confirm": _text("Open it", "plain_text"),
        "deny": _text("Not yet", "plain_text"),
    }


def _actions(b: Briefing) -> BlockJson:
    unverified = not b.verified
    approve = {
        "type": "button",
        "action_id": APPROVE_ACTION_ID,
        "text": _text("Approve unverified" if unverified else "Approve", "plain_text"),
        "value": b.run_id,
        "confirm": _confirm(
            "Open the pull request?",
            f"Nightshift opens a pull request for {b.ticket_key}"
            + (f", labelled unverified: {verdict_label(b.verdict)}." if unverified else "."),
        ),
    }
    if not unverified:
        approve["style"] = "primary"
    elements: list[dict[str, Any]] = [approve] if "approve" in b.actions else []
    if "ship_revision" in b.actions and b.ship_earlier is not None:
        label = b.ship_earlier.label
        elements.append(
            {
                "type": "button",
                "action_id": SHIP_REVISION_ACTION_ID,
                "text": _text(clip(label, MAX_BUTTON_TEXT), "plain_text"),
                "value": f"{b.run_id}:{b.ship_earlier.number}",
                "confirm": _confirm(
                    f"{label}?",
                    f"Nightshift opens a pull request for {b.ticket_key} with revision "
                    f"{b.ship_earlier.number} as it was briefed, not revision {b.revision}; the branch is "
                    "moved back to it.",
                ),
            }
        )
    elements.append(
        {
            "type": "button",
            "action_id": REQUEST_CHANGES_ACTION_ID,
            "text": _text("Request changes", "plain_text"),
            "value": b.run_id,
        }
    )
    return {"type": "actions", "block_id": "nightshift_decision", "elements": elements}


def _points_section(b: Briefing) -> BlockJson:
    """The verdict line, then what broke, the cause, the fix, the evidence, the decision: short lines."""
    lines = [f"*{_flat(b.headline, 300)}*"]
    for point in b.points:
        first, *rest = point.lines
        lines.append(f"*{escape(point.label)}:* {_flat(first, _MAX_LINE)}")
        lines += [_flat(line, _MAX_LINE) for line in rest]
    return _section("\n".join(lines))


def briefing_blocks(b: Briefing) -> list[BlockJson]:
    """The briefing message; Approve / Request changes buttons only while the run awaits a decision."""
    blocks: list[BlockJson] = [_header(b), _points_section(b)]
    if b.not_done:
        lines = "\n".join(f"• {_flat(line, 700)}" for line in b.not_done)
        blocks.append(_section(f"*Not done, and why:*\n{lines}"))
    alert = _alert_section(b)
    if alert is not None:
        blocks.append(alert)
    if b.files:
        blocks.append(_files_section(b))
    blocks += _diff_blocks(b)
    blocks += [_tests_section(b), _verdict_section(b)]
    if b.warnings:
        blocks.append(_section("\n".join(f":warning: {_flat(warning, 500)}" for warning in b.warnings)))
    blocks.append(_facts_context(b))
    if b.actions:
        blocks.append(_actions(b))
    return blocks


def decided_blocks(b: Briefing, text: str) -> list[BlockJson]:
    """The briefing without buttons, under a line saying what happened (``Approving... by <@U1>``).

    ``text`` is ours, not the ticket's: it is escaped, but user mentions in it still mention.
    """
    blocks = briefing_blocks(b.model_copy(update={"actions": []}))
    return [blocks[0], _context(escape_keep_mentions(" ".join(text.split()))), *blocks[1:]]


def feedback_modal(run_id: str) -> dict[str, Any]:
    """The Request changes modal: one multi-line input; ``private_metadata`` carries the run id."""
    return {
        "type": "modal",
        "callback_id": FEEDBACK_CALLBACK_ID,
        "private_metadata": run_id,
        "title": _text("Request changes", "plain_text"),
        "submit": _text("Send", "plain_text"),
        "close": _text("Cancel", "plain_text"),
        "blocks": [
            {
                "type": "input",
                "block_id": FEEDBACK_BLOCK_ID,
                "label": _text("What should the code agent change?", "plain_text"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": FEEDBACK_ACTION_ID,
                    "multiline": True,
                    "max_length": MAX_FEEDBACK_CHARS,
                    "placeholder": _text("e.g. also handle a leading '+' sign", "plain_text"),
                },
            }
        ],
    }


def fallback_text(b: Briefing) -> str:
    """The message's ``text``: what notifications and screen readers show, escaped."""
    waiting = " Awaiting your decision." if b.actions else ""
    return escape(clip(" ".join(f"{b.headline} — {b.ticket_title}".split()), _MAX_FALLBACK)) + waiting
