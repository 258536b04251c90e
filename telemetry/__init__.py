"""Operating Nightshift: its logs (``telemetry.logs``), its Prometheus metrics (``telemetry.metrics``)
and DBOS's OpenTelemetry traces (``telemetry.tracing``)."""
