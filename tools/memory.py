"""Notes that outlive a run: remember and recall, one JSONL file per repository in the state dir.

Each line is ``{"ts": ISO-8601 UTC, "agent": name, "note": text}``. Notes are redacted before they
are stored, so a secret that reached a tool output never lands on disk.
"""

import json
import re
from datetime import UTC, datetime
from typing import Any

from tools.context import ToolContext
from tools.errors import ToolError

RECALL_RESULTS = 5
_WORD = re.compile(r"\w+")


async def remember(ctx: ToolContext, note: str) -> str:
    """Save a short note about this repository for later runs (a fact, a pitfall, where something lives).

    Args:
        note: The note, one or two sentences.
    """
    text = ctx.redactor.redact(note.strip())
    if not text:
        raise ToolError("the note is empty")
    record = {"ts": datetime.now(UTC).isoformat(timespec="seconds"), "agent": ctx.agent, "note": text}
    ctx.notes_path.parent.mkdir(parents=True, exist_ok=True)
    with ctx.notes_path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return f"noted ({len(_load(ctx))} notes for this repository)"


async def recall(ctx: ToolContext, query: str) -> str:
    """Find notes saved by earlier runs on this repository that share words with the query.

    Args:
        query: Words to look for, e.g. 'database migrations'.
    """
    notes = _load(ctx)
    if not notes:
        return "no notes yet"
    wanted = _words(query)
    scored = [(len(wanted & _words(note["note"])), index) for index, note in enumerate(notes)]
    # Most shared words first; among equals, the newest note.
    best = sorted((item for item in scored if item[0] > 0), reverse=True)[:RECALL_RESULTS]
    if not best:
        return f"no notes match {query!r} ({len(notes)} notes stored)"
    return "\n".join(
        f"- {notes[index]['ts'][:10]} ({notes[index]['agent']}): {notes[index]['note']}" for _, index in best
    )


def _load(ctx: ToolContext) -> list[dict[str, Any]]:
    """Every well-formed note, oldest first (a damaged line is skipped, not fatal)."""
    if not ctx.notes_path.exists():
        return []
    notes = []
    for line in ctx.notes_path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and isinstance(record.get("note"), str):
            notes.append({**record, "ts": str(record.get("ts", "")), "agent": str(record.get("agent", "?"))})
    return notes


def _words(text: str) -> set[str]:
    return {word.lower() for word in _WORD.findall(text)}
