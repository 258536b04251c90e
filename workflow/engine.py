"""The engine: one per process. Starts DBOS and the runtime, submits incidents, takes decisions.

A worker is one such process. Its state directory (its clone's worktrees, transcripts, notes) belongs to
it alone: an exclusive lock file there says which process that is, and a second one is refused.

- SQLite (the default) serves one worker, which resumes its own interrupted runs when it starts again
  (DBOS's executor id ``local``). A second worker on the same SQLite database is refused.
- PostgreSQL serves any number of workers, each with its own state directory, clone and executor id
  (``executor_identity``). Any worker takes any work: webhooks and the API on any of them, agent phases
  from the shared queue, decisions through the database. A worker that dies has its runs resumed by a
  live one within ``[workflow] recovery_s`` (``workflow.executors``).
"""

import asyncio
import contextlib
import fcntl
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from dbos import DBOS, DBOSConfig, SetWorkflowID

from client import Model
from config import Settings
from deliveries.deliverer import Deliverer
from deliveries.door import DeliveryExecutor
from documents.facts import RunFacts, Ticket
from environment.prepare import Environments
from gitrepo import GitRepo
from hooks import HookRunner
from integrations.base import AlertReader, Forge, Notifier, Pager, Tracker
from integrations.local import LocalForge, LocalPager, LocalTracker, TerminalNotifier
from safety.env import subprocess_env
from safety.errors import SandboxUnavailable
from safety.sandbox import Sandbox
from safety.secret_scan import SecretScanner
from store.database import sqlite_path
from store.events import EventBus
from store.outbox import Outbox
from store.runs import FINAL_STATUSES, Store, database_url
from telemetry.tracing import dbos_tracing, run_trace
from tools import builtin_registry, load_plugins
from workflow.agent_tools import check_agent_tools, connect_mcp
from workflow.decisions import DecisionKind, DecisionOutcome, decide
from workflow.errors import EngineBusy, RunNotFound, WorkflowError
from workflow.executors import ExecutorPresence
from workflow.pipeline import DECISION_TOPIC, incident, register_agents_queue, resumed_incident
from workflow.repair import repair_stuck_runs
from workflow.review_rounds import review_rounds
from workflow.reviews import (
    PullRequestEnded,
    ReviewEvent,
    pull_request_ended,
    start_waiting_rounds,
    take_review,
)
from workflow.runtime import Runtime, install
from workflow.starter import WorkflowStarter

if TYPE_CHECKING:
    from tools.mcp import McpTools  # fastmcp is imported only when MCP is used

APPLICATION_VERSION = "nightshift-1"
"""Pinned so that a code change does not strand runs that await a decision (GUIDE §4). Bump it only
with a migration plan for in-flight runs (docs/deploy.md)."""
LOCAL_EXECUTOR = "local"
"""DBOS's executor id for the one worker of a SQLite database."""
SEVERAL_WORKERS = (
    "To run several workers, give each its own state directory (NIGHTSHIFT_DATA_DIR) and its own clone, "
    "and point them all at one PostgreSQL database (NIGHTSHIFT_DATABASE_URL=postgresql://...)"
)

logger = logging.getLogger("nightshift.engine")


def dbos_url(settings: Settings, data_dir: Path) -> str:
    return settings.database_url or f"sqlite:///{(data_dir / 'dbos.sqlite').resolve()}"


class Engine:
    def __init__(
        self,
        settings: Settings,
        *,
        model: Model,
        notifier: Notifier | None = None,
        forge: Forge | None = None,
        tracker: Tracker | None = None,
        pager: Pager | None = None,
        alert_readers: dict[str, AlertReader] | None = None,
    ) -> None:
        self.settings = settings
        self.model = model
        self.data_dir = settings.data_dir.resolve()
        self._notifier, self._forge, self._tracker = notifier, forge, tracker
        self._pager, self._alert_readers = pager, dict(alert_readers or {})
        self._locks: list[IO[str]] = []
        self._presence: ExecutorPresence | None = None
        self._mcp: McpTools | None = None
        self._watch: asyncio.Task[None] | None = None
        self.executor_id = LOCAL_EXECUTOR
        self.runtime: Runtime | None = None
        self.web_link: Callable[[str], str] | None = None
        """Gives a run's web page URL, when a server shows the runs."""
        self._starter = WorkflowStarter(self._start_workflow)

    async def start(self) -> Runtime:
        """Take the executor lock, open the database, launch DBOS (recovering interrupted runs), start
        trying the deliveries, start the runs recorded but never started, repair stuck runs."""
        if self.settings.repo is None:
            raise WorkflowError("no repository to fix: set NIGHTSHIFT_REPO (or pass --repo PATH)")
        repo_path = self.settings.repo.resolve()
        if not (repo_path / ".git").exists():
            raise WorkflowError(f"{repo_path} is not a git checkout (NIGHTSHIFT_REPO must name one)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        url = database_url(self.data_dir, self.settings.database_url)
        try:
            self._locks = acquire_executor_locks(self.data_dir, url)
            sandbox = await start_sandbox(self.settings, self.data_dir, repo_path)
            store = Store(url)
            repo = GitRepo(repo_path)
            if store.shared:
                await self._join_workers(store, repo)
            return await self._launch(store, repo, sandbox)
        except BaseException:
            await self._release()
            raise

    async def _join_workers(self, store: Store, repo: GitRepo) -> None:
        """PostgreSQL: claim this worker's executor id; any worker may continue a run, so the run's
        branch must go where every worker fetches from."""
        if not await repo.has_origin():
            raise WorkflowError(
                f"{repo.path} has no remote 'origin': with PostgreSQL any worker may continue a run, so "
                "every worker needs a clone of the same origin (git clone <url>, or git remote add origin)"
            )
        self.executor_id = executor_identity(self.data_dir)
        self._presence = ExecutorPresence(
            store.url, self.executor_id, recovery_s=self.settings.workflow.recovery_s
        )
        await self._presence.claim()

    async def _launch(self, store: Store, repo: GitRepo, sandbox: Sandbox) -> Runtime:
        bus = EventBus(store)
        registry = builtin_registry()
        load_plugins(self.settings.tools.plugin_dirs, registry, forbidden_roots=[repo.path, self.data_dir])
        self._mcp = await connect_mcp(self.settings, registry, self.data_dir)
        check_agent_tools(self.settings, registry, self._mcp.failures if self._mcp else {})
        hooks = HookRunner(
            self.settings.hooks,
            env=subprocess_env(self.data_dir / "home" / "hooks", secrets=self.settings.secrets.all_values()),
        )
        notifier = self._notifier or TerminalNotifier()
        forge = self._forge or LocalForge(store)
        tracker = self._tracker or LocalTracker(bus.publish)
        pager = self._pager or LocalPager(bus.publish)
        self.runtime = Runtime(
            settings=self.settings,
            store=store,
            bus=bus,
            model=self.model,
            registry=registry,
            hooks=hooks,
            notifier=notifier,
            forge=forge,
            tracker=tracker,
            deliveries=Deliverer(
                outbox=Outbox(store),
                executor=DeliveryExecutor(
                    notifier=notifier,
                    forge=forge,
                    tracker=tracker,
                    pager=pager,
                    repo=repo,
                    scanner=SecretScanner(self.settings.secrets.named()),
                ),
                store=store,
                bus=bus,
                hooks=hooks,
                settings=self.settings.workflow,
                data_dir=self.data_dir,
            ),
            repo=repo,
            data_dir=self.data_dir,
            sandbox=sandbox,
            environments=Environments(repo, self.settings, sandbox, self.data_dir),
            executor_id=self.executor_id,
            alert_readers=self._alert_readers,
        )
        install(self.runtime)
        await bus.start()
        config: DBOSConfig = {
            "name": "nightshift",
            "system_database_url": dbos_url(self.settings, self.data_dir),
            "application_version": APPLICATION_VERSION,
            "executor_id": self.executor_id,
            "log_level": "WARNING",
            "notification_listener_polling_interval_sec": 0.1,
            **dbos_tracing(self.settings),  # type: ignore[typeddict-item]
        }
        DBOS(config=config)
        DBOS.launch()
        await register_agents_queue(self.settings.workflow)
        self._starter = WorkflowStarter(self._start_workflow)
        await self.runtime.deliveries.start(worker=DBOS.executor_id)
        await self._start_unstarted_runs()
        await repair_stuck_runs(self.runtime, self._start_resumed)
        await start_waiting_rounds(self.runtime, self._start_review_rounds)
        if self._presence is not None:
            self._watch = asyncio.get_running_loop().create_task(self._watch_workers(self._presence))
        return self.runtime

    async def _watch_workers(self, presence: ExecutorPresence) -> None:
        """PostgreSQL: resume the runs of workers that are gone, and start runs recorded by a worker that
        died before it started them (both within ``recovery_s``)."""
        recovery_s = self.settings.workflow.recovery_s
        while True:
            await asyncio.sleep(presence.probe_s)
            try:
                await presence.probe()
                await self._start_unstarted_runs(older_than_s=recovery_s)
            except Exception:
                logger.exception("checking on the other workers failed; trying again in %gs", recovery_s / 4)

    async def stop(self) -> None:
        """Stop executing runs. DBOS resumes the ones in progress: this worker's own at its next start,
        and (PostgreSQL) another worker's within ``recovery_s`` once this one lets go of its claim."""
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        await self._starter.close()
        if self.runtime is not None:
            await _cancel(self.runtime.workflow_tasks)
            await self.runtime.deliveries.stop()
            await self.runtime.bus.close()
        await asyncio.to_thread(DBOS.destroy, destroy_registry=False)
        # DBOS made its thread pool the loop's default executor and has just shut it down; give the loop
        # a working one back, or every later asyncio.to_thread in this process fails.
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(thread_name_prefix="nightshift"))
        if self.runtime is not None:
            self.runtime.store.close()
        install(None)
        self.runtime = None
        await self._release()

    async def _release(self) -> None:
        if self._mcp is not None:
            await self._mcp.__aexit__(None, None, None)
            self._mcp = None
        if self._presence is not None:
            await self._presence.close()
            self._presence = None
        for lock in self._locks:
            lock.close()
        self._locks = []

    @property
    def rt(self) -> Runtime:
        if self.runtime is None:
            raise WorkflowError("the engine is not started")
        return self.runtime

    async def submit(
        self, ticket: Ticket, *, dedupe_key: str | None = None, max_queued: int | None = None
    ) -> tuple[RunFacts, bool]:
        """Record a run and start its workflow; ``(facts, False)`` when ``dedupe_key`` was seen before.

        Returns as soon as the run is recorded (one database write, shared with the runs submitted at
        the same time), so a webhook can be acknowledged at once; the workflow starts in the background
        (``WorkflowStarter``). A crash in between loses nothing: ``start()`` starts every recorded run
        whose workflow never began. ``QueueFull`` when ``max_queued`` runs already wait.
        """
        facts, created = await self.rt.store.create_run(
            ticket, dedupe_key=dedupe_key, web_link=self.web_link, max_queued=max_queued
        )
        if created:
            self.rt.bus.publish(
                facts.run_id,
                "run_started",
                {"key": facts.ticket.key, "title": facts.ticket.title, "source": facts.ticket.source},
            )
            self._starter.add(facts.run_id)
        return facts, created

    async def _start_workflow(self, run_id: str) -> None:
        with run_trace(self.settings, run_id), SetWorkflowID(run_id):  # the same id: the same workflow
            await DBOS.start_workflow_async(incident, run_id)

    async def _start_resumed(self, workflow_id: str, run_id: str, revision: int, approved: bool) -> None:
        with run_trace(self.settings, run_id), SetWorkflowID(workflow_id):
            await DBOS.start_workflow_async(resumed_incident, run_id, revision, approved)

    async def _start_review_rounds(self, workflow_id: str, run_id: str) -> None:
        with SetWorkflowID(workflow_id):  # the same id again returns the same workflow: idempotent
            await DBOS.start_workflow_async(review_rounds, run_id)

    async def review(self, event: ReviewEvent) -> str:
        """A reviewer's words on a pull request (``workflow.reviews``); what became of them, in words."""
        return await take_review(self.rt, event, self._start_review_rounds)

    async def pull_request_ended(self, event: PullRequestEnded) -> str:
        """A pull request merged or closed: its run ends ``merged`` or ``closed``."""
        return await pull_request_ended(self.rt, event)

    async def _start_unstarted_runs(self, *, older_than_s: float = 0) -> None:
        """Start the runs recorded at least ``older_than_s`` ago whose workflow never began (a crash
        between the two, of this worker or, with PostgreSQL, of another)."""
        cutoff = time.time() - older_than_s
        queued = [
            facts
            for facts in await self.rt.store.list_runs(limit=1000, statuses=["queued"])
            if facts.created_at is None or facts.created_at.timestamp() <= cutoff
        ]
        if not queued:
            return
        begun = await DBOS.list_workflows_async(
            workflow_ids=[facts.run_id for facts in queued], load_input=False, load_output=False
        )
        started = {status.workflow_id for status in begun}
        for facts in reversed(queued):
            if facts.run_id not in started:
                self._starter.add(facts.run_id)

    async def decide(
        self,
        run_id: str,
        kind: DecisionKind,
        *,
        feedback: str | None = None,
        by: str | None = None,
        ship_revision: int | None = None,
    ) -> DecisionOutcome:
        """Decide on the run; ``ship_revision``: approve that earlier revision as it was briefed."""
        send = _send_in_process
        return await decide(
            self.rt.store,
            self.settings,
            run_id,
            kind,
            feedback=feedback,
            by=by,
            send=send,
            ship_revision=ship_revision,
        )

    async def wait_for(self, run_id: str, until: Callable[[RunFacts], bool], *, timeout_s: float) -> RunFacts:
        return await wait_for(self.rt.store, run_id, until, timeout_s=timeout_s)


async def _cancel(tasks: set["asyncio.Task[Any]"], timeout_s: float = 10) -> None:
    """Cancel the running workflows (see ``workflow.pipeline.running``); DBOS resumes them next launch."""
    pending = list(tasks)
    if not pending:
        return
    logger.warning(
        "stopping with %d workflows in progress; they resume when Nightshift starts again", len(pending)
    )
    for task in pending:
        task.cancel()
    await asyncio.wait(pending, timeout=timeout_s)


async def _send_in_process(workflow_id: str, message: dict[str, object], key: str) -> None:
    await DBOS.send_async(workflow_id, message, topic=DECISION_TOPIC, idempotency_key=key)


async def wait_for(
    store: Store, run_id: str, until: Callable[[RunFacts], bool], *, timeout_s: float, poll_s: float = 0.1
) -> RunFacts:
    """Poll the run's facts until ``until`` holds (or the run ended); raise on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        facts = await store.get(run_id)
        if facts is None:
            raise RunNotFound(f"no run with id {run_id!r}")
        if until(facts) or facts.status in FINAL_STATUSES:
            return facts
        if time.monotonic() > deadline:
            raise TimeoutError(f"run {run_id} is still {facts.status} after {timeout_s:g}s")
        await asyncio.sleep(poll_s)


async def start_sandbox(settings: Settings, data_dir: Path, repo_path: Path) -> Sandbox:
    """The sandbox every command of this process runs in; WorkflowError naming the fix when none can be
    made (unless ``[safety] sandbox = "none"``, which is then said loudly)."""
    try:
        sandbox = await asyncio.to_thread(
            Sandbox.create,
            settings.safety,
            state_dir=data_dir,
            secrets=settings.secrets.all_values(),
            hidden=[repo_path],
        )
    except SandboxUnavailable as exc:
        raise WorkflowError(str(exc)) from None
    if not sandbox.sandboxed:
        logger.warning("%s", sandbox.describe())
    return sandbox


def executor_identity(data_dir: Path) -> str:
    """This worker's DBOS executor id on a shared database: ``DBOS__VMID`` when set (DBOS's variable),
    else the id kept in the state directory, made once as ``<host>-<random>``. It stays the same across
    restarts, so a restarted worker resumes its own runs at once."""
    configured = os.environ.get("DBOS__VMID", "").strip()
    if configured:
        return configured
    path = data_dir / "executor.id"
    if not path.exists():
        path.write_text(f"{socket.gethostname()}-{secrets.token_hex(3)}\n", encoding="utf-8")
    return path.read_text(encoding="utf-8").strip()


def acquire_executor_locks(data_dir: Path, url: str) -> list[IO[str]]:
    """Exclusive locks that make this process the only worker of its state directory and, with SQLite,
    of its database; EngineBusy names the process that holds one and says how to run several workers."""
    locks = [
        _lock_file(
            data_dir / "executor.lock",
            lambda holder: (
                f"Nightshift is already running from {data_dir} ({holder}); use that process "
                f"(its API or prompt), or stop it first. {SEVERAL_WORKERS}"
            ),
        )
    ]
    database = sqlite_path(url)
    if database is not None and database.parent != data_dir.resolve():
        try:
            locks.append(
                _lock_file(
                    database.with_name(database.name + ".lock"),
                    lambda holder: (
                        f"another worker ({holder}) already uses the SQLite database {database}; "
                        f"SQLite serves one worker. {SEVERAL_WORKERS}"
                    ),
                )
            )
        except EngineBusy:
            locks[0].close()
            raise
    return locks


def _lock_file(path: Path, busy: Callable[[str], str]) -> IO[str]:
    handle = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip()
        handle.close()
        raise EngineBusy(busy(f"pid {holder}" if holder else "another process")) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def executor_lock_holder(data_dir: Path) -> int | None:
    """The pid of the process executing runs from ``data_dir``, or None when none is."""
    path = data_dir / "executor.lock"
    if not path.exists():
        return None
    with path.open("a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            text = handle.read().strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(handle, fcntl.LOCK_UN)
        return None
