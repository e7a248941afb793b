"""The real composition root over the unit tests' fakes: no database is opened."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest

from application.task_names import EXECUTE_EXPORT_RUN
from domain.export_run import ExportTarget
from domain.shared import Actor, Period
from tests.unit.fakes import FakeEventStore, FakeIdempotencyKeys, fake_services

ORG = uuid4()
ACTOR = Actor("coordinator-1", ORG, "req-1")


def test_every_database_port_replaced_opens_no_database() -> None:
    services = fake_services()
    assert services.database is None
    with pytest.raises(RuntimeError, match="without a database"):
        _ = services.pool


def test_use_cases_and_upkeep_share_the_given_fakes() -> None:
    services = fake_services()
    store = services.store
    assert isinstance(store, FakeEventStore)
    run_id = services.app.export_runs.request_export(
        ORG, Period(date(2025, 1, 1), date(2025, 1, 31)), ExportTarget.XLEDGER, ACTOR)
    assert [j.task for j in store.jobs] == [EXECUTE_EXPORT_RUN]
    listed = services.app.export_runs.recent(ORG, None, 10)
    assert [row["run_id"] for row in listed] == [run_id]
    assert services.upkeep.tables.orphaned_pending_export_runs(0) == []  # its job is queued
    assert isinstance(services.app.idempotency.keys, FakeIdempotencyKeys)
