"""The daily job logs each organisation's audit chain head and event count."""

from __future__ import annotations

import logging
from uuid import UUID

import psycopg
import pytest

from application.task_names import LOG_AUDIT_HEADS
from bootstrap import Services
from infrastructure import audit_heads
from infrastructure.audit import verify_chain
from infrastructure.log_safety import SafeRecords
from infrastructure.projections.runner import rebuild
from infrastructure.queue import build_queue
from tests.integration.projection_helpers import append_runs


def test_daily_job_logs_every_orgs_head(
    services: Services, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    append_runs(services, 3)
    rebuild(services.env, "audit_chain", timeout=30)
    handlers = services.task_handlers()
    cron, job = handlers.periodic[LOG_AUDIT_HEADS]
    assert cron == "0 3 * * *"
    queue = build_queue(services.database_url, handlers)
    registered = {task.task.name: task.cron for task in queue.periodic_registry.periodic_tasks.values()}
    assert registered[LOG_AUDIT_HEADS] == cron

    with caplog.at_level(logging.INFO, logger="infrastructure.audit_heads"):
        job(1_700_000_000)
    records = [r for r in caplog.records if r.name == "infrastructure.audit_heads"]
    with psycopg.connect(db_url) as conn:
        orgs = [UUID(str(r[0])) for r in conn.execute(audit_heads.ORGS_SQL).fetchall()]
        expected = {org: verify_chain(conn, org) for org in orgs}
    assert len(orgs) == 3
    for org, result in expected.items():
        assert result.ok and result.events_verified == 3
        line = next(r for r in records if str(org) in r.getMessage())
        assert f"events 3 head {audit_heads.grouped(result.head)}" in line.getMessage()
        # The head survives the production log filter (which redacts long hex runs).
        SafeRecords().filter(line)
        assert audit_heads.grouped(result.head) in line.getMessage()
        assert result.head in line.getMessage().replace(" ", "")
    assert "heads logged for 3 organisations" in records[-1].getMessage()
