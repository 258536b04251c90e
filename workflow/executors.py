"""Several workers on one PostgreSQL database: who is alive, and taking over the runs of one who is not.

DBOS tags each workflow with the executor id of the process running it and, at launch, resumes the
pending workflows of its own id only. Resuming another executor's workflows is
``DBOS._recover_pending_workflows([ids])``: what Conductor tells a live executor to do once an executor
has been disconnected for its timeout, and what DBOS's admin API did on ``/dbos-workflow-recovery``. It
re-enqueues those workflows, so exactly one live worker picks each up, and it is idempotent (recovering
the same dead executor twice, from two workers, moves nothing twice). DBOS leaves the detection of a dead
executor to whoever runs it; here, as with Conductor, an executor is alive while it holds a connection:

- Each worker holds, for its whole life, a session-level advisory lock named after its executor id on a
  connection of its own (``claim``). PostgreSQL releases it the moment that session ends: the process
  exits or is killed, or the machine is lost (TCP keepalives, set from ``recovery_s``, end the session of
  a machine that stopped answering). No row is written and nothing expires: the database itself knows.
- Every ``recovery_s / 4`` each worker lists the executors that own pending workflows and tries their
  locks (``absent_executors``). An executor found absent twice in a row is recovered, so a worker whose
  connection blipped gets a moment to reconnect before its runs move.

Worst case from a lost machine to its runs moving: keepalives ``recovery_s / 2``, two probes
``recovery_s / 2``. A killed process: its session ends at once, so two probes.
"""

import asyncio
import logging
from typing import Any

import psycopg
from dbos import DBOS

from store.database import libpq_url, lock_key
from workflow.errors import EngineBusy

logger = logging.getLogger("nightshift.executors")

PROBES_PER_RECOVERY = 4
"""Probes per ``recovery_s``: an absent executor is confirmed on the second, a probe apart."""


def keepalive_options(recovery_s: float) -> dict[str, Any]:
    """Connection parameters that end the session of an unreachable peer within ``recovery_s / 2``:
    the server's keepalives (``options``), so our lock is released if this machine is lost, and the
    client's, so this worker learns when the server is gone."""
    idle = max(1, int(recovery_s / 4))
    interval = max(1, int(recovery_s / 12))
    return {
        "keepalives": 1,
        "keepalives_idle": idle,
        "keepalives_interval": interval,
        "keepalives_count": 3,
        "options": f"-c tcp_keepalives_idle={idle} -c tcp_keepalives_interval={interval} "
        "-c tcp_keepalives_count=3",
    }


class ExecutorPresence:
    """This worker's claim on its executor id, and the view of the other workers' claims."""

    def __init__(self, url: str, executor_id: str, *, recovery_s: float) -> None:
        self.url, self.executor_id, self.recovery_s = url, executor_id, recovery_s
        self._connection: psycopg.AsyncConnection[Any] | None = None
        self._absent_once: set[str] = set()
        """Executors found absent on the previous probe (recovered when found absent again)."""

    @property
    def probe_s(self) -> float:
        return self.recovery_s / PROBES_PER_RECOVERY

    async def claim(self) -> None:
        """Hold the advisory lock of our executor id; EngineBusy when another live worker holds it."""
        connection = await psycopg.AsyncConnection.connect(
            libpq_url(self.url), autocommit=True, **keepalive_options(self.recovery_s)
        )
        if not await self._try_lock(connection, self.executor_id):
            await connection.close()
            raise EngineBusy(
                f"another worker is running with executor id {self.executor_id!r} on this database. "
                "Each worker needs its own id: give each its own state directory (NIGHTSHIFT_DATA_DIR), "
                "or its own DBOS__VMID"
            )
        self._connection = connection

    async def close(self) -> None:
        """Let go of the claim: from now on the other workers may resume this worker's runs."""
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    async def probe(self) -> list[str]:
        """Keep our claim alive (re-take it after a lost connection), then recover the executors found
        absent on this probe and the previous one. Returns the executor ids recovered."""
        await self._keep_claim()
        absent = set(await self.absent_executors())
        confirmed, self._absent_once = sorted(absent & self._absent_once), absent - self._absent_once
        for executor_id in confirmed:
            handles = await asyncio.to_thread(DBOS._recover_pending_workflows, [executor_id])
            logger.warning(
                "worker %s is gone; %d of its workflows resume on the live workers",
                executor_id,
                len(handles),
            )
        return confirmed

    async def absent_executors(self) -> list[str]:
        """The executors that own pending workflows but hold no claim: their process is gone."""
        pending = await DBOS.list_workflows_async(status="PENDING", load_input=False, load_output=False)
        owners = {status.executor_id for status in pending if status.executor_id} - {self.executor_id}
        connection = self._connection
        assert connection is not None, "claim() first"
        absent = []
        for owner in sorted(owners):
            if await self._try_lock(connection, owner):
                await connection.execute("SELECT pg_advisory_unlock(%s)", (lock_key(f"executor:{owner}"),))
                absent.append(owner)
        return absent

    async def _keep_claim(self) -> None:
        connection = self._connection
        if connection is not None and not connection.closed:
            try:
                await connection.execute("SELECT 1")
                return
            except psycopg.OperationalError as exc:
                logger.warning("lost the connection that holds this worker's claim (%s); re-taking it", exc)
        self._connection = None
        await self.claim()

    @staticmethod
    async def _try_lock(connection: psycopg.AsyncConnection[Any], executor_id: str) -> bool:
        cursor = await connection.execute(
            "SELECT pg_try_advisory_lock(%s)", (lock_key(f"executor:{executor_id}"),)
        )
        row = await cursor.fetchone()
        return bool(row and row[0])
