"""Traces of runs: DBOS's OpenTelemetry tracing, on when ``[server] otlp_traces_endpoint`` names a
collector (OTLP over HTTP, such as ``http://otel-collector:4318/v1/traces``).

DBOS makes a span for every workflow and step. A run is one trace, across workers: its workflow starts
under a ``nightshift run`` span (``run_trace``) whose context DBOS keeps in the database with the
workflow (``PropagateOtelContext``), so the worker that recovers the run after a crash continues the
same trace; the agent phases, which wait in the shared queue and run on whichever worker takes them,
are enqueued the same way (``workflow.pipeline``). Exporter settings beyond the endpoint (headers,
timeouts, TLS) are the OpenTelemetry SDK's own ``OTEL_EXPORTER_OTLP_*`` environment variables.

Spans are sent in batches every few seconds; ``flush`` sends what is left when the server stops (uvicorn
ends the process with the signal that stopped it, so nothing at exit would).
"""

import contextlib
from collections.abc import Iterator
from typing import Any

from dbos import PropagateOtelContext

from config import Settings

TRACER = "nightshift"
RUN_SPAN = "nightshift run"
RUN_ID_ATTRIBUTE = "nightshift.run_id"


def dbos_tracing(settings: Settings) -> dict[str, Any]:
    """What DBOS's configuration needs to trace to the collector (nothing when none is configured)."""
    endpoint = settings.server.otlp_traces_endpoint
    if not endpoint:
        return {}
    return {"enable_otlp": True, "otlp_traces_endpoints": [endpoint]}


@contextlib.contextmanager
def run_trace(settings: Settings, run_id: str) -> Iterator[None]:
    """Start the run's workflow inside this block: with tracing on, it is the root of the run's trace."""
    if not settings.server.otlp_traces_endpoint:
        yield
        return
    from opentelemetry import trace

    span = trace.get_tracer(TRACER).start_as_current_span(RUN_SPAN, attributes={RUN_ID_ATTRIBUTE: run_id})
    with span, PropagateOtelContext():
        yield


def flush(settings: Settings, timeout_s: float = 10) -> None:
    """Send the spans not sent yet (the server is stopping)."""
    if not settings.server.otlp_traces_endpoint:
        return
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    force_flush = getattr(provider, "force_flush", None)
    if force_flush is not None:
        force_flush(int(timeout_s * 1000))
