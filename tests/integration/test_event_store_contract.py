"""One behaviour suite of the EventStore port, run against the unit tests' fake and against
PostgreSQL, so the fake can not drift from the real store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any
from uuid import uuid4

import pytest

from application.ports import (
    ClaimsTaken,
    ConcurrentChange,
    EventStore,
    NotFound,
    PeriodTaken,
    ScheduledSyncTaken,
    SyncAlreadyRunning,
)
from domain.export_run import ExportRun, ExportRunStatus, ExportTarget
from domain.shared import Actor, Period
from domain.sync_run import SyncRun
from tests.unit.fakes import FakeEventStore

JANUARY = Period(date(2025, 1, 1), date(2025, 1, 31))


@pytest.fixture(params=["fake", "postgres"])
def store(request: pytest.FixtureRequest) -> Iterator[EventStore]:
    if request.param == "fake":
        yield FakeEventStore()
    else:
        yield request.getfixturevalue("services").store


def requested(org_id: Any, period: Period = JANUARY) -> ExportRun:
    return ExportRun.request(org_id, period, ExportTarget.XLEDGER, Actor("u", org_id, "c"))


def claim(claim_id: Any) -> dict[str, Any]:
    return {"claim_id": str(claim_id), "claimant_id": "v", "expense_date": "2025-01-02",
            "approved_at": "2025-01-02T10:00:00+00:00", "category": "reise", "amount": "1.00",
            "currency": "NOK", "description": "", "late": False}


def test_a_saved_aggregate_reads_back_now_and_at_each_version(store: EventStore) -> None:
    org = uuid4()
    run = requested(org)
    store.save(run)
    run.start([claim(uuid4())], Actor("system:worker", org, "w"))
    store.save(run)
    assert store.get(run.id).status is ExportRunStatus.RUNNING
    assert store.get(run.id, version=1).status is ExportRunStatus.PENDING
    assert [e.version for e in store.history(run.id)] == [1, 2, 3]
    assert [e.type for e in store.history(run.id)] == ["Requested", "Started", "ClaimsTaken"]
    assert [type(e).__name__ for e in store.stream(run.id)] == [
        "Requested", "Started", "ClaimsTaken"]


def test_an_unknown_id_is_not_found(store: EventStore) -> None:
    with pytest.raises(NotFound):
        store.get(uuid4())


def test_an_overlapping_period_is_refused_naming_the_run_and_nothing_is_stored(
    store: EventStore,
) -> None:
    org = uuid4()
    first = requested(org)
    store.save(first)
    second = requested(org, Period(date(2025, 1, 31), date(2025, 2, 28)))
    with pytest.raises(PeriodTaken) as refused:
        store.save(second)
    assert refused.value.existing_run_id == first.id
    with pytest.raises(NotFound):
        store.get(second.id)
    store.save(requested(uuid4()))  # another organisation's January is free


def test_a_claim_is_taken_by_one_run_only(store: EventStore) -> None:
    org, claim_id = uuid4(), uuid4()
    a, b = requested(org), requested(org, Period(date(2025, 2, 1), date(2025, 2, 28)))
    store.save(a, b)
    worker = Actor("system:worker", org, "w")
    a.start([claim(claim_id)], worker)
    store.save(a)
    b.start([claim(claim_id)], worker)
    with pytest.raises(ClaimsTaken):
        store.save(b)
    assert store.get(b.id).status is ExportRunStatus.PENDING


def test_an_append_on_a_stale_version_is_refused_and_nothing_is_stored(
    store: EventStore,
) -> None:
    org = uuid4()
    run = requested(org)
    store.save(run)
    first, second = store.get(run.id), store.get(run.id)
    worker = Actor("system:worker", org, "w")
    first.start([claim(uuid4())], worker)
    store.save(first)
    second.start([claim(uuid4())], worker)  # other claims: only the version conflicts
    with pytest.raises(ConcurrentChange):
        store.save(second)
    assert [e.type for e in store.history(run.id)] == ["Requested", "Started", "ClaimsTaken"]


def test_one_running_sync_per_integration_and_one_start_per_scheduled_time(
    store: EventStore,
) -> None:
    org = uuid4()
    actor = Actor("system:scheduler", org, "tick")
    at = datetime(2025, 2, 2, 5, tzinfo=UTC)
    first = SyncRun.start_new(org, "xledger", "scheduler", actor, scheduled_for=at)
    store.save(first)
    with pytest.raises(SyncAlreadyRunning) as running:
        store.save(SyncRun.start_new(org, "xledger", "manual", actor))
    assert running.value.existing_run_id == first.id
    store.save(SyncRun.start_new(org, "dynamics", "manual", actor))  # another integration
    first.complete(1, 0, None, actor)
    store.save(first)
    with pytest.raises(ScheduledSyncTaken) as taken:  # the same tick again, after it ended
        store.save(SyncRun.start_new(org, "xledger", "scheduler", actor, scheduled_for=at))
    assert taken.value.existing_run_id == first.id
    store.save(SyncRun.start_new(org, "xledger", "manual", actor))  # free again


def test_a_run_taking_thousands_of_claims_is_one_append_refused_whole(store: EventStore) -> None:
    """Heavy appends travel differently (bound parameters, not one SQL text); the guards and
    the all-or-nothing transaction are the same."""
    org = uuid4()
    a, b = requested(org), requested(org, Period(date(2025, 2, 1), date(2025, 2, 28)))
    store.save(a, b)
    worker = Actor("system:worker", org, "w")
    shared = [claim(uuid4()) for _ in range(3000)]
    a.start(shared, worker)
    store.save(a)
    assert store.get(a.id).record_count == 3000 and store.get(a.id).version == a.version
    b.start([claim(uuid4()) for _ in range(3000)] + shared[-1:], worker)
    with pytest.raises(ClaimsTaken):
        store.save(b)
    assert store.get(b.id).status is ExportRunStatus.PENDING and store.get(b.id).version == 1
    assert sum(1 for e in store.stream(a.id) if isinstance(e, ExportRun.ClaimsTaken)) == 1  # type: ignore[attr-defined]
