"""Prometheus counters and gauges of runs (per process), behind the RunCounters port."""

from __future__ import annotations

import contextlib
from typing import Any

import psycopg
from prometheus_client import Counter, Gauge, disable_created_metrics
from psycopg_pool import ConnectionPool

from infrastructure.projections.runner import lags
from infrastructure.sql import queries

disable_created_metrics()  # type: ignore[no-untyped-call]  # no `_created` series

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
WORKER_RESTARTS = Counter(
    "export_service_worker_restarts_total", "Times this process restarted its queue worker"
)
LATE_CORRECTIONS = Gauge(
    "export_service_late_corrections",
    "Corrections of claims that arrived after an export run took them (not applied)",
)

SYNC_RUNS_BY_STATUS = Gauge(
    "export_service_sync_runs", "Sync runs of all organisations by status (read model)", ["status"]
)
BUFDIR_EXPORTS_BY_STATUS = Gauge(
    "export_service_bufdir_exports", "Bufdir exports of all organisations by status (read model)",
    ["status"],
)
QUEUE_JOBS = Gauge(
    "export_service_queue_jobs", "Jobs waiting (todo) or running (doing), by task", ["task", "status"]
)
QUEUE_OLDEST_AGE = Gauge(
    "export_service_queue_oldest_job_age_seconds",
    "How long the oldest job that is due has been waiting (0 when none waits)",
)

SQL = queries("metrics")
#: Runs by status, one gauge per read model.
BY_STATUS = {
    "export_runs_by_status": EXPORT_RUNS_BY_STATUS,
    "sync_runs_by_status": SYNC_RUNS_BY_STATUS,
    "bufdir_exports_by_status": BUFDIR_EXPORTS_BY_STATUS,
}


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
        for query, gauge in BY_STATUS.items():
            for status, count in conn.execute(SQL[query]):
                gauge.labels(status).set(count)
        DELIVERY_CONNECTIONS.clear()
        for target, health, count in conn.execute(SQL["connections_by_health"]):
            DELIVERY_CONNECTIONS.labels(target, health).set(count)
        refresh_queue_gauges(conn)
        row = conn.execute(SQL["late_corrections"]).fetchone()
        LATE_CORRECTIONS.set(row[0] if row else 0)


_queue_series: set[tuple[str, str]] = set()


def refresh_queue_gauges(conn: psycopg.Connection[Any]) -> None:
    """Queue depth by task and the oldest due job's age; a series whose jobs are gone drops to 0."""
    counts = {(task, status): count for task, status, count in conn.execute(SQL["queue_depth"])}
    _queue_series.update(counts)
    for task, status in _queue_series:
        QUEUE_JOBS.labels(task, status).set(counts.get((task, status), 0))
    row = conn.execute(SQL["oldest_due"]).fetchone()
    QUEUE_OLDEST_AGE.set(float(row[0]) if row else 0.0)
