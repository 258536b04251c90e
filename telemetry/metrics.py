"""Prometheus metrics (prometheus-client): what ``GET /metrics`` shows.

Two kinds, told apart in docs/operations.md:

- **Read from the database at scrape time** (``StoreCollector``): the counters (``store.counters``,
  raised with the change that counts and never lowered): runs started by trigger, runs finished by
  status and verdict, model tokens and cost by agent and model, how agents ended; and, over
  ``store.metrics``, the runs in each active status, the queue, and the deliveries pending, failing and
  abandoned by service with the age of the oldest. These are the same on every worker: query them with
  ``max`` across workers, never ``sum``.
- **Measured by this worker** (histograms, in this process's registry): how long its agents, its
  verifications and its sandbox set-ups took. Each worker reports what it ran: ``sum`` them.

``observe_*`` record a measurement where the work happens (``workflow``, ``environment``);
``metrics_registry`` puts both kinds, and the process's own (CPU, memory), into one registry for a
running server.
"""

from collections.abc import Callable, Iterable, Iterator, Mapping

from prometheus_client import REGISTRY, CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from store.counters import counter_values
from store.metrics import ServiceBacklog, delivery_backlog, runs_by_status
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


COUNTERS: tuple[tuple[str, str, list[str]], ...] = (
    ("nightshift_runs_started", "Runs recorded, by trigger (the ticket's source).", ["trigger"]),
    (
        "nightshift_runs_finished",
        "Runs reaching a final status (shipped, merged, closed, cancelled, expired, failed), by that status "
        "and the last verification's verdict (none: never verified); a run counts at each arrival (shipped "
        "again after a review round, then merged: twice shipped, once merged).",
        ["status", "verdict"],
    ),
    (
        "nightshift_model_tokens",
        "Model tokens spent, by agent, model and direction (input, output).",
        ["agent", "model", "direction"],
    ),
    ("nightshift_model_cost_usd", "Model cost in US dollars, by agent and model.", ["agent", "model"]),
    (
        "nightshift_agents_ended",
        "Agent runs ended (a first run, a self-correction or a revision), by agent and how it ended "
        "(submitted, model_error, timeout, budget, ...).",
        ["agent", "status"],
    ),
)


class StoreCollector(Collector):
    """The database's figures, read at each scrape: the counters (``store.counters``), the runs in each
    active status and the deliveries (``store.metrics``)."""

    def __init__(self, store: Store, *, max_queued_runs: int) -> None:
        self._store = store
        self._max_queued = max_queued_runs

    def collect(self) -> Iterator[Metric]:
        stored = counter_values(self._store.engine)
        for name, documentation, labels in COUNTERS:
            yield _family(CounterMetricFamily, name, documentation, labels, stored.get(name, ()))
        statuses = runs_by_status(self._store.engine)
        yield _family(
            GaugeMetricFamily,
            "nightshift_runs",
            "Runs in each active status now.",
            ["status"],
            (((status,), statuses[status]) for status in ACTIVE_STATUSES),
        )
        yield GaugeMetricFamily(
            "nightshift_queue_depth",
            "Runs recorded and waiting for the agents (status queued); past [server] max_queued_runs new "
            "ones are refused.",
            value=statuses["queued"],
        )
        yield GaugeMetricFamily("nightshift_queue_limit", "[server] max_queued_runs.", value=self._max_queued)
        yield from _deliveries(delivery_backlog(self._store.engine))


def _family(
    kind: type[CounterMetricFamily | GaugeMetricFamily],
    name: str,
    documentation: str,
    labels: list[str],
    values: Iterable[tuple[tuple[str, ...], float]],
) -> Metric:
    """A family with one sample per (label values, value) of ``values``, in label order."""
    family = kind(name, documentation, labels=labels)
    for label_values, value in sorted(values):
        family.add_metric(list(label_values), value)
    return family


DELIVERY_GAUGES: tuple[tuple[str, str, Callable[[ServiceBacklog], float]], ...] = (
    ("nightshift_deliveries_pending", "Deliveries waiting to be made", lambda b: b.pending),
    (
        "nightshift_deliveries_failing",
        "Deliveries waiting whose attempts have failed so far",
        lambda b: b.failing,
    ),
    (
        "nightshift_deliveries_abandoned",
        "Deliveries given up (refused, or not made within delivery_timeout_s)",
        lambda b: b.abandoned,
    ),
    (
        "nightshift_deliveries_oldest_pending_seconds",
        "How long the oldest waiting delivery has been due (0: none waits)",
        lambda b: b.oldest_pending_s,
    ),
    (
        "nightshift_deliveries_failing_seconds",
        "How long the longest-failing waiting delivery has been failing (0: none fails)",
        lambda b: b.failing_for_s,
    ),
)


def _deliveries(backlog: Mapping[str, ServiceBacklog]) -> Iterator[Metric]:
    for name, documentation, measure in DELIVERY_GAUGES:
        values = (((service,), measure(state)) for service, state in backlog.items())
        yield _family(GaugeMetricFamily, name, f"{documentation}, by service.", ["service"], values)


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
