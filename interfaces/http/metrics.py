"""Prometheus metrics of the HTTP layer (run counters: infrastructure/metrics.py)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram, disable_created_metrics

# A `_created` series per counter and histogram doubles what is scraped and tells nothing that
# the process start time does not.
disable_created_metrics()  # type: ignore[no-untyped-call]

#: `route` is the route's template (`/v1/orgs/{org_id}/export-runs`), never the raw path.
REQUESTS = Counter(
    "export_service_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
LATENCY = Histogram(
    "export_service_http_request_duration_seconds",
    "Time from receiving an HTTP request to answering it",
    ["method", "route"],
)
EXPORT_RUNS_REQUESTED = Counter(
    "export_service_export_runs_requested_total", "Export runs accepted or refused", ["outcome"]
)
