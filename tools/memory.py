"""Notes that outlive a run: remember and recall, one JSONL file per repository in the state dir.

Each line is ``{"ts": ISO-8601 UTC, "agent": name, "note": text}``. Notes are redacted before they
are stored, so a secret that reached a tool output never lands on disk.
"""

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from safety.redact import Redactor
from tools.context import ToolContext
from tools.errors import ToolError

RECALL_RESULTS = 5
_WORD = re.compile(r"\w+")


class NoteStore:
    """The notes of one repository: a JSONL file, appended to, searched by shared words."""

    def __init__(self, path: Path, redactor: Redactor) -> None:
        self.path, self.redactor = path, redactor

    def add(self, agent: str, note: str) -> int:
        """Store ``note`` (redacted); return how many notes the repository has now."""
        text = self.redactor.redact(note.strip())
        if not text:
            raise ToolError("the note is empty")
        record = {"ts": datetime.now(UTC).isoformat(timespec="seconds"), "agent": agent, "note": text}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        return len(self.all())

    def all(self) -> list[dict[str, Any]]:
        """Every well-formed note, oldest first (a damaged line is skipped, not fatal)."""
        if not self.path.exists():
            return []
        notes = []
        for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and isinstance(record.get("note"), str):
                notes.append(
                    {**record, "ts": str(record.get("ts", "")), "agent": str(record.get("agent", "?"))}
                )
        return notes

    def search(self, query: str, limit: int = RECALL_RESULTS) -> list[dict[str, Any]]:
        """Notes sharing words with ``query``: most shared words first, then the newest."""
        notes = self.all()
        wanted = _words(query)
        scored = [(len(wanted & _words(note["note"])), index) for index, note in enumerate(notes)]
        return [notes[index] for _, index in sorted((s for s in scored if s[0] > 0), reverse=True)[:limit]]


def _store(ctx: ToolContext) -> NoteStore:
    return NoteStore(ctx.notes_path, ctx.redactor)


async def remember(ctx: ToolContext, note: str) -> str:
    """Save a short note about this repository for later runs (a fact, a pitfall, where something lives).

    Args:
        note: The note, one or two sentences.
    """
    return f"noted ({_store(ctx).add(ctx.agent, note)} notes for this repository)"


async def recall(ctx: ToolContext, query: str) -> str:
    """Find notes saved by earlier runs on this repository that share words with the query.

    Args:
        query: Words to look for, e.g. 'database migrations'.
    """
    store = _store(ctx)
    found = store.search(query)
    if not found:
        total = len(store.all())
        return "no notes yet" if not total else f"no notes match {query!r} ({total} notes stored)"
    return "\n".join(f"- {note['ts'][:10]} ({note['agent']}): {note['note']}" for note in found)


def _words(text: str) -> set[str]:
    return {word.lower() for word in _WORD.findall(text)}
