"""Signed requests seen recently (Slack's signatures), so that a replay is refused by every worker.

A burst of slash commands checks one signature each. Each check used to be a transaction of its own,
from a thread of its own: with SQLite, a hundred writers waiting for one another in the busy handler's
sleeps, which made the burst's acknowledgements take a second. ``Store.first_sighting`` hands the
checks to a ``GroupCommit`` instead, and ``record_sightings`` writes each batch in one transaction:
the expired keys deleted, the new ones inserted in one statement, the database telling which were new
(``ON CONFLICT DO NOTHING ... RETURNING``), so the answer holds across workers.
"""

from dataclasses import dataclass

import sqlalchemy as sa

from store.database import insert, seen_requests


@dataclass(frozen=True, slots=True)
class Sighting:
    """A key seen at ``now_s``, to remember until ``expires_at``."""

    key: str
    now_s: float
    expires_at: float


def record_sightings(db: sa.Connection, batch: list[Sighting]) -> list[bool]:
    """Remember every key of ``batch``; per sighting, whether it was the first (a later one of the same
    key, in this batch or before it, is a replay)."""
    db.execute(seen_requests.delete().where(seen_requests.c.expires_at < max(s.now_s for s in batch)))
    rows = {s.key: s.expires_at for s in batch}
    # Parameters rather than one VALUES list: the statement is compiled once, whatever the batch's size.
    inserted = set(
        db.execute(
            insert(db, seen_requests).on_conflict_do_nothing().returning(seen_requests.c.key),
            [{"key": key, "expires_at": expires_at} for key, expires_at in rows.items()],
        ).scalars()
    )
    first = []
    for sighting in batch:
        first.append(sighting.key in inserted)
        inserted.discard(sighting.key)
    return first
