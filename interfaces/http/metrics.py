"""Prometheus metrics of the process."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter(
    "export_service_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
LATENCY = Histogram("export_service_http_request_seconds", "HTTP request latency", ["route"])
EXPORT_RUNS_REQUESTED = Counter(
    "export_service_export_runs_requested_total", "Export runs accepted or refused", ["outcome"]
)
EXPORT_RUNS_FINISHED = Counter(
    "export_service_export_runs_finished_total", "Export runs that ended", ["status"]
)
EXPORT_RUNS_BY_STATUS = Gauge(
    "export_service_export_runs", "Export runs of all organisations by status (read model)", ["status"]
)
PROJECTION_LAG = Gauge(
    "export_service_projection_lag_events", "Events not yet processed by a read model", ["name"]
)
