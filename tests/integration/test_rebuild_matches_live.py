"""A rebuild of a large log gives, row for row, the read models the projections built live
while the log was being appended (pages of the live runners and of the rebuild fall on
different events), even with a second runner process racing the first for the same pages.
CI uses a small log; EXPORT_SERVICE_REBUILD_EVENTS=200000 runs the full one."""

from __future__ import annotations

import os
import signal
from datetime import date
from uuid import uuid4

import psycopg
import pytest
from fastapi.testclient import TestClient

from bootstrap import Services
from domain.export_run import ExportRun, ExportTarget
from domain.shared import Actor, Period
from domain.sync_run import SyncRun
from infrastructure.audit import verify_all
from infrastructure.projections.batching import PAGE_SIZE
from infrastructure.projections.runner import PROJECTIONS, ProjectionSupervisor, rebuild
from tests.integration.conftest import Tokens
from tests.integration.history_helpers import seed_all
from tests.integration.projection_helpers import dump, positions, scalar, start_runner_process

SIZE = int(os.environ.get("EXPORT_SERVICE_REBUILD_EVENTS", "4000"))
PERIOD = Period(date(2025, 1, 1), date(2025, 1, 31))
FILE = {"path": "exports/x.csv", "size_bytes": 1, "sha256": "0"}


def aggregates(i: int) -> list[object]:
    """Aggregates of every kind and ending, delivery included, in organisations of their own
    (one each round)."""
    actor = Actor("loader", uuid4(), f"bulk-{i}")
    done = ExportRun.request(actor.org_id, PERIOD, ExportTarget.XLEDGER, actor)
    done.start([], actor)
    done.complete(FILE, actor)
    failed = ExportRun.request(actor.org_id, Period(date(2025, 2, 1), date(2025, 2, 28)),
                               ExportTarget.DYNAMICS, actor)
    failed.start([], actor)
    failed.fail("target_unreachable", "the target did not answer", actor)
    pending = ExportRun.request(actor.org_id, Period(date(2025, 3, 1), date(2025, 3, 31)),
                                ExportTarget.XLEDGER, actor)
    running = ExportRun.request(actor.org_id, Period(date(2025, 4, 1), date(2025, 4, 30)),
                                ExportTarget.XLEDGER, actor)
    running.start([], actor)
    delivered = ExportRun.request(actor.org_id, Period(date(2025, 5, 1), date(2025, 5, 31)),
                                  ExportTarget.DYNAMICS, actor)
    delivered.start([], actor)
    delivered.complete(FILE, actor)
    delivered.queue_delivery(actor)
    delivered.start_delivery(lines_total=4, already_present=1, actor=actor)
    delivered.record_lines_posted(1, ["a", "b", "c"], actor)
    delivered.complete_delivery("2025-06-01T08:00:00+00:00", actor)
    refused = ExportRun.request(actor.org_id, Period(date(2025, 6, 1), date(2025, 6, 30)),
                                ExportTarget.XLEDGER, actor)
    refused.start([], actor)
    refused.complete(FILE, actor)
    refused.queue_delivery(actor)
    refused.start_delivery(lines_total=2, already_present=0, actor=actor)
    refused.fail_delivery("refused", "401 Unauthorized", actor, lines_total=2)
    refused.retry_delivery(actor)
    synced = SyncRun.start_new(actor.org_id, "xledger", "scheduler", actor)
    synced.complete(10, 1, None, actor)
    broken = SyncRun.start_new(actor.org_id, "dynamics", "manual", actor)
    broken.fail(3, 2, "connection refused", actor)
    cancelled = SyncRun.start_new(actor.org_id, "bufdir", "manual", actor)
    cancelled.cancel(0, 0, "stopped by a coordinator", actor)
    return [done, failed, pending, running, delivered, refused, synced, broken, cancelled]


@pytest.mark.slow
def test_rebuild_of_a_large_log_equals_the_live_read_models(
    client: TestClient, services: Services, org: Tokens
) -> None:
    seed_all(client, services, org)  # Bufdir exports and every read model's other events
    supervisor = ProjectionSupervisor(services.env)
    supervisor.start()
    rival = start_runner_process(services.database_url)  # export_runs and audit_chain too
    try:
        i = 0
        while services.store.max_notification_id() < SIZE:
            services.store.save(*aggregates(i))  # type: ignore[arg-type]
            i += 1
        head = services.store.max_notification_id()
        supervisor.wait_for(head, timeout=300)
    finally:
        rival.send_signal(signal.SIGKILL)
        rival.wait(timeout=10)
        supervisor.stop()
    now = positions(services.database_url)
    assert all(position == head for position, _ in now.values()), now
    assert head > 2 * PAGE_SIZE  # the live runners and the rebuild went through several pages
    live = dump(services.database_url)
    statuses = scalar(
        services.database_url,
        "SELECT array_agg(DISTINCT status ORDER BY status) FROM export_runs",
    )
    assert statuses == ["completed", "failed", "pending", "running"]
    deliveries = scalar(
        services.database_url,
        "SELECT array_agg(DISTINCT delivery->>'status' ORDER BY delivery->>'status') "
        "FROM export_runs WHERE delivery IS NOT NULL",
    )
    assert deliveries == ["delivered", "pending"]
    assert scalar(services.database_url, "SELECT count(*) FROM sync_run_log") == 3 * i + 2
    assert len(live["audit_chain"]) == head
    assert len(live["bufdir_audit_log"]) == 2

    for name in PROJECTIONS:
        assert rebuild(services.env, name, timeout=600) == head
    assert dump(services.database_url) == live
    with psycopg.connect(services.database_url) as conn:
        results = verify_all(conn)
    assert len(results) == i + 1 and all(r.ok for r in results)
