"""Prometheus metrics (prometheus-client): what ``GET /metrics`` shows.

Two kinds, told apart in docs/operations.md:

- **Read from the database at scrape time** (``StoreCollector``, over ``store.metrics``): runs started
  by trigger, runs finished by status and verdict, runs in each active status, the queue, model tokens
  and cost by agent and model, how agents ended, and the deliveries pending, failing and abandoned by
  service with the age of the oldest. These are the same on every worker: query them with ``max``
  across workers, never ``sum``.
- **Measured by this worker** (histograms, in this process's registry): how long its agents, its
  verifications and its sandbox set-ups took. Each worker reports what it ran: ``sum`` them.

``observe_*`` record a measurement where the work happens (``workflow``, ``environment``);
``metrics_registry`` puts both kinds, and the process's own (CPU, memory), into one registry for a
running server.
"""

from collections.abc import Iterator

from prometheus_client import REGISTRY, CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from store.metrics import RunReadings, delivery_backlog
from store.runs import ACTIVE_STATUSES, Store

AGENT_SECONDS = Histogram(
    "nightshift_agent_duration_seconds",
    "How long one agent run took on this worker (a first run, a self-correction or a revision), by agent "
    "and how it ended.",
    ["agent", "status"],
    buckets=(5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600),
)
VERIFICATION_SECONDS = Histogram(
    "nightshift_verification_duration_seconds",
    "How long one verification (the fix and the tests cross-checked in the sandbox) took on this worker, "
    "by verdict.",
    ["verdict"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1200),
)
SETUP_SECONDS = Histogram(
    "nightshift_sandbox_setup_duration_seconds",
    "How long one set-up of the repository's environment in the sandbox took on this worker, by outcome "
    "(ready or failed); its count is the number of set-ups.",
    ["status"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800),
)


def observe_agent(agent: str, status: str, seconds: float) -> None:
    AGENT_SECONDS.labels(agent=agent, status=status).observe(seconds)


def observe_verification(verdict: str, seconds: float) -> None:
    VERIFICATION_SECONDS.labels(verdict=verdict).observe(seconds)


def observe_setup(status: str, seconds: float) -> None:
    SETUP_SECONDS.labels(status=status).observe(seconds)


class StoreCollector(Collector):
    """The database's figures, read at each scrape (``store.metrics``)."""

    def __init__(self, store: Store, *, max_queued_runs: int) -> None:
        self._store = store
        self._runs = RunReadings(store.engine)
        self._max_queued = max_queued_runs

    def collect(self) -> Iterator[Metric]:
        totals = self._runs.totals()
        started = CounterMetricFamily(
            "nightshift_runs_started", "Runs recorded, by trigger (the ticket's source).", labels=["trigger"]
        )
        for trigger, count in sorted(totals.started.items()):
            started.add_metric([trigger], count)
        yield started
        finished = CounterMetricFamily(
            "nightshift_runs_finished",
            "Runs in a final status (shipped, cancelled, expired, failed), by status and the last "
            "verification's verdict (none: never verified).",
            labels=["status", "verdict"],
        )
        for (status, verdict), count in sorted(totals.finished.items()):
            finished.add_metric([status, verdict], count)
        yield finished
        current = GaugeMetricFamily("nightshift_runs", "Runs in each active status now.", labels=["status"])
        for status in ACTIVE_STATUSES:
            current.add_metric([status], totals.current[status])
        yield current
        yield GaugeMetricFamily(
            "nightshift_queue_depth",
            "Runs recorded and waiting for the agents (status queued); past [server] max_queued_runs new "
            "ones are refused.",
            value=totals.current["queued"],
        )
        yield GaugeMetricFamily(
            "nightshift_queue_limit", "[server] max_queued_runs.", value=self._max_queued
        )
        tokens = CounterMetricFamily(
            "nightshift_model_tokens",
            "Model tokens spent, by agent, model and direction (input, output).",
            labels=["agent", "model", "direction"],
        )
        for (agent, model, direction), count in sorted(totals.tokens.items()):
            tokens.add_metric([agent, model, direction], count)
        yield tokens
        cost = CounterMetricFamily(
            "nightshift_model_cost_usd",
            "Model cost in US dollars, by agent and model.",
            labels=["agent", "model"],
        )
        for (agent, model), usd in sorted(totals.cost_usd.items()):
            cost.add_metric([agent, model], usd)
        yield cost
        ended = CounterMetricFamily(
            "nightshift_agents_ended",
            "Agents of runs by how they last ended (submitted, model_error, timeout, budget, ...).",
            labels=["agent", "status"],
        )
        for (agent, status), count in sorted(totals.agents_ended.items()):
            ended.add_metric([agent, status], count)
        yield ended
        yield from _deliveries(self._store)


def _deliveries(store: Store) -> Iterator[Metric]:
    backlog = delivery_backlog(store.engine)
    families = {
        "pending": GaugeMetricFamily(
            "nightshift_deliveries_pending", "Deliveries waiting to be made, by service.", labels=["service"]
        ),
        "failing": GaugeMetricFamily(
            "nightshift_deliveries_failing",
            "Deliveries waiting whose attempts have failed so far, by service.",
            labels=["service"],
        ),
        "abandoned": GaugeMetricFamily(
            "nightshift_deliveries_abandoned",
            "Deliveries given up (refused, or not made within delivery_timeout_s), by service.",
            labels=["service"],
        ),
        "oldest": GaugeMetricFamily(
            "nightshift_deliveries_oldest_pending_seconds",
            "How long the oldest waiting delivery has been due, by service (0: none waits).",
            labels=["service"],
        ),
        "failing_for": GaugeMetricFamily(
            "nightshift_deliveries_failing_seconds",
            "How long the longest-failing waiting delivery has been failing, by service (0: none fails).",
            labels=["service"],
        ),
    }
    for service, state in sorted(backlog.items()):
        families["pending"].add_metric([service], state.pending)
        families["failing"].add_metric([service], state.failing)
        families["abandoned"].add_metric([service], state.abandoned)
        families["oldest"].add_metric([service], state.oldest_pending_s)
        families["failing_for"].add_metric([service], state.failing_for_s)
    yield from families.values()


class _ThisProcess(Collector):
    """The process-wide registry: this worker's histograms and the process's CPU, memory, GC."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def metrics_registry(store: Store, *, max_queued_runs: int) -> CollectorRegistry:
    """Everything a running server's ``/metrics`` shows."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store, max_queued_runs=max_queued_runs))
    registry.register(_ThisProcess())
    return registry
