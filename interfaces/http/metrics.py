"""Prometheus metrics of the HTTP layer (run counters: infrastructure/metrics.py)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "export_service_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
LATENCY = Histogram("export_service_http_request_seconds", "HTTP request latency", ["route"])
EXPORT_RUNS_REQUESTED = Counter(
    "export_service_export_runs_requested_total", "Export runs accepted or refused", ["outcome"]
)
