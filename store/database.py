"""The app database: its URL, its tables, their set-up, and the few things SQLite and PostgreSQL do apart.

SQLite (the default, in the state directory) serves one worker; PostgreSQL (``NIGHTSHIFT_DATABASE_URL``)
serves any number of workers at once. Where several workers could race (numbering events, checking the
queue limit, creating the tables), PostgreSQL transactions take an advisory lock
(``pg_advisory_xact_lock``) named after what they protect; SQLite needs none, since one process writes.
"""

import hashlib
import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

metadata = sa.MetaData()

runs = sa.Table(
    "ns_runs",
    metadata,
    sa.Column("number", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(32), unique=True, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status", sa.String(32), nullable=False, index=True),
    sa.Column("dedupe_key", sa.String(200), unique=True, nullable=True),
    sa.Column("facts", sa.Text, nullable=False),
    sa.Column("pr_number", sa.Integer, nullable=True, index=True),
)
"""``pr_number`` repeats the facts' pull request number (written with them, ``Store.update``), so that a
review webhook finds its run by an index (``store.pulls``)."""

events = sa.Table(
    "ns_run_events",
    metadata,
    sa.Column("run_id", sa.String(32), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("agent", sa.String(16), nullable=True),
    sa.Column("data", sa.Text, nullable=False),
)
"""A run's events numbered 1, 2, 3... within the run, whichever worker wrote them."""

pull_requests = sa.Table(
    "ns_pull_requests",
    metadata,
    sa.Column("number", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(32), nullable=False),
    sa.Column("branch", sa.String(255), unique=True, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("diff", sa.Text, nullable=False),
    sa.Column("draft", sa.Boolean, nullable=False),
    sa.Column("labels", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

agent_diffs = sa.Table(
    "ns_agent_diffs",
    metadata,
    sa.Column("run_id", sa.String(32), primary_key=True),
    sa.Column("agent", sa.String(16), primary_key=True),
    sa.Column("diff", sa.Text, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
"""What each agent changed in its worktree when it last finished, so any worker can continue the run."""

seen_requests = sa.Table(
    "ns_seen_requests",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("expires_at", sa.Float, nullable=False, index=True),
)
"""Signed requests accepted recently (Slack signatures), so a replay is refused by every worker."""

keys = sa.Table(
    "ns_keys",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(128), nullable=False),
)
"""Keys every worker must share, such as the one signing run links; made once, by whoever is first."""

base_suites = sa.Table(
    "ns_base_suites",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("repo", sa.String(255), nullable=False),
    sa.Column("base", sa.String(64), nullable=False),
    sa.Column("environment", sa.String(64), nullable=False),
    sa.Column("command", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("result", sa.Text, nullable=False),
)
"""The base commit's suite as a verification ran it, per (repository, base commit, environment, test
command) hashed into ``key``, so no worker runs it twice (``verify.cache``)."""

counters = sa.Table(
    "ns_counters",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("labels", sa.String(400), primary_key=True),
    sa.Column("value", sa.Float, nullable=False),
)
"""The metrics' counters, one row per counter and label values (a JSON list), raised with the change
that counts (``store.counters``)."""

EVENTS_CHANNEL = "nightshift_events"
"""PostgreSQL ``NOTIFY`` channel: the payload is ``<run id> <writer>`` for each run that got events."""


deliveries = sa.Table(
    "ns_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(200), unique=True, nullable=False),
    sa.Column("run_id", sa.String(32), nullable=False, index=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("service", sa.String(32), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("due_since", sa.Float, nullable=False),
    sa.Column("next_attempt_at", sa.Float, nullable=False),
    sa.Column("lease_owner", sa.String(64), nullable=True),
    sa.Column("lease_until", sa.Float, nullable=True),
    sa.Column("last_attempt_at", sa.Float, nullable=True),
    sa.Column("failing_since", sa.Float, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("last_status", sa.Integer, nullable=True),
    sa.Column("delivered_at", sa.Float, nullable=True),
    sa.Column("result", sa.Text, nullable=True),
    sa.Index("ix_ns_deliveries_due", "state", "next_attempt_at"),
)
"""The delivery outbox: one row per effect on the outside world (``store.outbox`` says how)."""


def engine_url(url: str) -> str:
    """``url`` with the driver SQLAlchemy should use: psycopg 3 (DBOS's driver) for PostgreSQL."""
    parsed = sa.make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def libpq_url(url: str) -> str:
    """``url`` as libpq (psycopg's own connect) takes it: ``postgresql://...`` with no driver name."""
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def is_postgres(url: str) -> bool:
    return sa.make_url(url).get_backend_name() == "postgresql"


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL, None for another database or an in-memory one."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database).resolve()


def lock_key(name: str) -> int:
    """A signed 64-bit advisory lock key for ``name`` (stable across processes and machines)."""
    return int.from_bytes(hashlib.sha256(f"nightshift:{name}".encode()).digest()[:8], "big", signed=True)


def advisory_xact_lock(db: sa.Connection, *names: str) -> None:
    """On PostgreSQL, hold these locks until the transaction ends (taken in a fixed order: no deadlock)."""
    if db.dialect.name == "postgresql":
        # One statement for any number of locks: the function scan takes them in the array's order.
        db.execute(_LOCK_ALL, {"keys": [lock_key(name) for name in sorted(set(names))]})


_LOCK_ALL = sa.text("SELECT pg_advisory_xact_lock(key) FROM unnest(CAST(:keys AS bigint[])) AS key")
_NOTIFY_ALL = sa.text("SELECT pg_notify(:channel, payload) FROM unnest(CAST(:payloads AS text[])) AS payload")


def notify(db: sa.Connection, channel: str, payloads: list[str]) -> None:
    """PostgreSQL ``NOTIFY`` of every payload on ``channel`` at commit, in one statement."""
    db.execute(_NOTIFY_ALL, {"channel": channel, "payloads": payloads})


def insert(db: sa.Connection, table: sa.Table) -> Any:
    """The dialect's INSERT, which knows ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""
    return (postgresql.insert if db.dialect.name == "postgresql" else sqlite.insert)(table)


def create_engine(url: str) -> sa.Engine:
    """An engine for ``url`` with the tables in place (created, and migrated from older layouts)."""
    url = engine_url(url)
    is_sqlite = url.startswith("sqlite")
    engine = sa.create_engine(
        url, connect_args={"timeout": 30} if is_sqlite else {}, pool_pre_ping=not is_sqlite
    )
    if is_sqlite:
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    with engine.begin() as db:
        advisory_xact_lock(db, "schema")  # workers starting together must not race to create tables
        metadata.create_all(db)
        _number_old_events(db)
        _add_pr_number(db)
    return engine


def _number_old_events(db: sa.Connection) -> None:
    """Move events from the old ``ns_events`` table (one id sequence for all runs, kept by a single
    process in memory) into ``ns_run_events``, numbered within each run in their old order."""
    if not sa.inspect(db).has_table("ns_events"):
        return
    old = sa.Table("ns_events", sa.MetaData(), autoload_with=db)
    numbered = sa.select(
        old.c.run_id,
        sa.func.row_number().over(partition_by=old.c.run_id, order_by=old.c.id).label("seq"),
        old.c.ts,
        old.c.kind,
        old.c.agent,
        old.c.data,
    )
    db.execute(events.insert().from_select(["run_id", "seq", "ts", "kind", "agent", "data"], numbered))
    old.drop(db)


def _add_pr_number(db: sa.Connection) -> None:
    """Add ``ns_runs.pr_number`` and its index to a database made before it existed (``create_all``
    makes only missing tables), filled from the runs' facts."""
    if any(column["name"] == "pr_number" for column in sa.inspect(db).get_columns("ns_runs")):
        return
    db.execute(sa.text("ALTER TABLE ns_runs ADD COLUMN pr_number INTEGER"))
    index = next(i for i in runs.indexes if i.name and "pr_number" in i.name)
    index.create(db)
    numbered = [
        {"b_id": row.id, "b_pr": number}
        for row in db.execute(sa.select(runs.c.id, runs.c.facts))
        if isinstance(number := json.loads(row.facts or "{}").get("pr_number"), int)
    ]
    if numbered:
        db.execute(
            runs.update().where(runs.c.id == sa.bindparam("b_id")).values(pr_number=sa.bindparam("b_pr")),
            numbered,
        )


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
