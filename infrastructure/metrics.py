"""Prometheus counters and gauges of runs (per process), behind the RunCounters port."""

from __future__ import annotations

import contextlib

import psycopg
from prometheus_client import Counter, Gauge
from psycopg_pool import ConnectionPool

from infrastructure.projections.runner import lags

EXPORT_RUNS_FINISHED = Counter(
    "export_service_export_runs_finished_total", "Export runs that ended", ["status"]
)
EXPORT_RUNS_BY_STATUS = Gauge(
    "export_service_export_runs", "Export runs of all organisations by status (read model)", ["status"]
)
PROJECTION_LAG = Gauge(
    "export_service_projection_lag_events", "Events not yet processed by a read model", ["name"]
)
SYNC_DRIFT_FLAGGED = Counter(
    "export_service_sync_drift_flagged_total",
    "Scheduled sync runs started more than 5 minutes away from their scheduled time",
)
SYNC_SCHEDULED_STARTED = Counter(
    "export_service_sync_scheduled_started_total", "Scheduled sync runs started by this process"
)
SYNC_TIMED_OUT = Counter(
    "export_service_sync_timed_out_total", "Sync runs failed by the sweep after their timeout"
)

DELIVERY_OUTCOMES = Counter(
    "export_service_delivery_total",
    "Delivery by API by target: lines posted, runs delivered, deliveries failed",
    ["target", "outcome"],
)
DELIVERY_CONNECTIONS = Gauge(
    "export_service_delivery_connections",
    "Enabled delivery connections of all organisations by target and last health check",
    ["target", "health"],
)

RUNS_BY_STATUS = "SELECT status, count(*) FROM export_runs GROUP BY 1"
CONNECTIONS_BY_HEALTH = """
SELECT target, CASE WHEN health_ok IS NULL THEN 'unknown' WHEN health_ok THEN 'ok'
       ELSE 'failing' END, count(*)
FROM delivery_connections WHERE (settings->>'enabled')::boolean GROUP BY 1, 2
"""


class PrometheusCounters:
    def export_run_finished(self, status: str) -> None:
        EXPORT_RUNS_FINISHED.labels(status).inc()

    def scheduled_sync_started(self, drift_flagged: bool) -> None:
        SYNC_SCHEDULED_STARTED.inc()
        if drift_flagged:
            SYNC_DRIFT_FLAGGED.inc()

    def sync_timed_out(self) -> None:
        SYNC_TIMED_OUT.inc()

    def delivery(self, target: str, outcome: str, count: int) -> None:
        DELIVERY_OUTCOMES.labels(target, outcome).inc(count)


def refresh_gauges(pool: ConnectionPool) -> None:
    """Projection lags and runs by status, read when /metrics is scraped."""
    with contextlib.suppress(psycopg.Error), pool.connection() as conn:
        for lag in lags(conn):
            PROJECTION_LAG.labels(lag.name).set(lag.lag)
        for status, count in conn.execute(RUNS_BY_STATUS):
            EXPORT_RUNS_BY_STATUS.labels(status).set(count)
        DELIVERY_CONNECTIONS.clear()
        for target, health, count in conn.execute(CONNECTIONS_BY_HEALTH):
            DELIVERY_CONNECTIONS.labels(target, health).set(count)
