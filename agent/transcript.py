"""The transcript of a run as JSONL: one line per message, then one line with the outcome."""

import json
from pathlib import Path
from typing import Any

from safety import Redactor


def write_transcript(
    path: Path, messages: list[dict[str, Any]], redactor: Redactor, *, status: str, message: str
) -> Path:
    """Write the whole conversation, secrets redacted. Written in the loop's ``finally``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        for entry in messages:
            out.write(json.dumps(redactor.redact_data(entry), ensure_ascii=False) + "\n")
        out.write(
            json.dumps({"role": "outcome", "status": status, "message": redactor.redact(message)}) + "\n"
        )
    tmp.replace(path)
    return path
