"""Writing one table of ``nightshift.toml`` and leaving the rest of the file as it was, comments included.

``nightshift init`` writes ``[environment]`` into a file a person may have written by hand, so the file
is edited as text (a TOML library would drop the comments), and the result is checked by parsing it:
every other table must read exactly as before and the new one as intended, or nothing is written.
"""

import json
import os
import re
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from config.errors import ConfigError

_HEADER = re.compile(r"\s*\[\[?\s*([^\[\]]+?)\s*]]?\s*(?:#.*)?$")


def toml_value(value: str | bool | list[str] | dict[str, str]) -> str:
    """``value`` as TOML (basic strings read JSON's escapes)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(json.dumps(item) for item in value) + "]"
    return "{ " + ", ".join(f"{_key(key)} = {json.dumps(item)}" for key, item in value.items()) + " }"


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def read_tables(path: Path) -> dict[str, Any]:
    """The file's tables ({} when it does not exist); ConfigError when it is not TOML."""
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def write_table(path: Path, name: str, table: str, expected: dict[str, Any]) -> None:
    """Replace the table ``name`` of ``path`` (its sub-tables too) by the text ``table``, in its place,
    or append it; create the file if needed. ``expected`` is what ``table`` must parse as."""
    before_text = path.read_text(encoding="utf-8") if path.exists() else ""
    before = read_tables(path)
    after_text = _replaced(before_text, name, table)
    try:
        after = tomllib.loads(after_text)
    except tomllib.TOMLDecodeError as exc:
        after = {"": str(exc)}
    before.pop(name, None)
    if before != {key: value for key, value in after.items() if key != name} or after.get(name) != expected:
        raise ConfigError(
            f"{path}: the [{name}] table could not be replaced without changing the rest of the file "
            f"(is [{name}] written with dotted keys or inline?); remove it by hand and run again"
        )
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(after_text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _replaced(text: str, name: str, table: str) -> str:
    """``text`` without the lines of ``[name]`` and ``[name.*]``, ``table`` in the first one's place.

    A table runs from its header to the next header; comment lines right above the next header (no
    blank line between) are that table's, and stay.
    """
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    kept: list[str] = []
    place: int | None = None
    inside = False
    attached: list[str] = []
    for line in lines:
        header = _HEADER.fullmatch(line.rstrip("\n"))
        if header is not None:
            dotted = header.group(1).replace('"', "").replace(" ", "")
            ours = dotted == name or dotted.startswith(f"{name}.")
            if inside and not ours:
                kept += attached
            inside, attached = ours, []
            if ours and place is None:
                place = len(kept)
        if not inside:
            kept.append(line)
        elif header is None:
            attached = [*attached, line] if line.lstrip().startswith("#") else []
    block = table if table.endswith("\n") else table + "\n"
    if place is None:
        separator = "\n" if kept and kept[-1].strip() else ""
        return "".join(kept) + separator + block
    after = kept[place:]
    spacing = "\n" if after and after[0].strip() else ""
    return "".join(kept[:place]) + block + spacing + "".join(after)
