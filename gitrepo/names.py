"""Deterministic, always-valid names: fix branches, and the refs that keep a run's revisions."""

import hashlib
import re
import unicodedata

BRANCH_PREFIX = "fix/"
"""Nightshift's own branches; only these are ever force-pushed (with a lease)."""
REVISIONS_PREFIX = "refs/nightshift/"
"""Where each run keeps the commit of every revision it briefed (``revision_ref``), outside
``refs/heads``: no branch list shows them, and they go when the run ends."""
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_DASHES = re.compile(r"-{2,}")
_MAX_PART = 60


def branch_name(ticket_key: str, run_id: str) -> str:
    """``fix/<ticket-key>-<run-id>``, each part reduced to ``[A-Za-z0-9_-]`` so the result passes
    ``git check-ref-format``.

    Unicode is folded to ASCII where it can be (``é`` -> ``e``), every other run of characters becomes
    one ``-``. A part that had to change gets a short hash of the original appended, so two keys that
    differ only in dropped characters (``"PROJ 1"`` and ``"PROJ/1"``) still get different branches.
    """
    return f"{BRANCH_PREFIX}{_part(ticket_key, 'ticket')}-{_part(run_id, 'run')}"


def _part(raw: str, fallback: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode("ascii")
    dashed = _DASHES.sub("-", _UNSAFE.sub("-", ascii_text))
    clean = dashed.strip("-")[:_MAX_PART].strip("-") or fallback
    if clean == raw:
        return clean
    return f"{clean}-{hashlib.sha256(raw.encode('utf-8')).hexdigest()[:6]}"


def run_refs(run_id: str) -> str:
    """The prefix of run ``run_id``'s revision refs, ``refs/nightshift/<run-id>/``."""
    return f"{REVISIONS_PREFIX}{_part(run_id, 'run')}/"


def revision_ref(run_id: str, number: int) -> str:
    """``refs/nightshift/<run-id>/revision-<n>``: the commit revision ``number`` of the run briefed."""
    return f"{run_refs(run_id)}revision-{number}"
