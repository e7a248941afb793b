"""The export run use cases over in-memory fakes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from application.export_runs import ExportRuns, TakenClaims
from application.ports import ClaimRecord, NotFound
from application.task_names import EXECUTE_EXPORT_RUN
from domain.export_run import ExportRunStatus, ExportTarget, RunAlreadyExists
from domain.shared import Actor, Period
from domain.vouchers import ExportRefused
from tests.unit.fakes import CsvExporter, FakeEventStore, FakeStorage, FixedClock, fake_services

ORG = uuid4()
ACTOR = Actor("coordinator-1", ORG, "req-1")
JANUARY = Period(date(2025, 1, 1), date(2025, 1, 31))


def claim(day: int, amount: str = "100.00", month: int = 1) -> ClaimRecord:
    return ClaimRecord(
        id=uuid4(), claimant_id="v-1", expense_date=date(2025, month, day),
        approved_at=datetime(2025, month, day, 10, tzinfo=UTC), category="reise",
        amount=amount, currency="NOK", description="Tog",
    )


class Refusing(CsvExporter):
    def render(self, run: Any, claims: Any, settings: Any) -> Any:
        raise ExportRefused("unmapped_category", "no account for: reise")


def service(exporter: Any = None, claims: list[ClaimRecord] = ()) -> tuple[ExportRuns, FakeEventStore, FakeStorage, FixedClock]:  # type: ignore[assignment]
    """The export runs of the real bootstrap over fakes (run timeout: 15 minutes)."""
    clock = FixedClock()
    services = fake_services(
        claims=((ORG, c) for c in claims), clock=clock,
        exporters=[exporter or CsvExporter("xledger"), CsvExporter("dynamics")],
    )
    assert isinstance(services.store, FakeEventStore) and isinstance(services.files, FakeStorage)
    return services.app.export_runs, services.store, services.files, clock


def test_request_queues_the_run_in_the_same_save() -> None:
    runs, store, _, _ = service()
    run_id = runs.request_export(ORG, JANUARY, ExportTarget.XLEDGER, ACTOR, idempotency_key="k1")
    assert runs.view(ORG, run_id).status == "pending"
    assert [(j.task, j.args) for j in store.jobs] == [(EXECUTE_EXPORT_RUN, {"run_id": str(run_id)})]
    assert store.responses[0].body == {"run_id": str(run_id), "status": "pending"}


def test_overlapping_request_names_the_existing_run_and_stores_nothing() -> None:
    runs, store, _, _ = service()
    first = runs.request_export(ORG, JANUARY, ExportTarget.XLEDGER, ACTOR)
    with pytest.raises(RunAlreadyExists) as refused:
        runs.request_export(ORG, Period(date(2025, 1, 31), date(2025, 2, 28)),
                            ExportTarget.DYNAMICS, ACTOR)
    assert refused.value.existing_run_id == first
    assert len(store.events) == 1 and len(store.jobs) == 1


def test_execute_takes_the_period_claims_and_completes_with_a_file() -> None:
    inside, outside = [claim(5), claim(31, "12.50")], claim(1, month=2)
    runs, _, storage, _ = service(claims=[*inside, outside])
    run_id = runs.request_export(ORG, JANUARY, ExportTarget.XLEDGER, ACTOR)
    runs.execute(run_id)
    view = runs.view(ORG, run_id)
    assert view.status == "completed" and view.record_count == 2
    assert view.file is not None
    content = storage.files[view.file["path"]].decode()
    assert str(inside[0].id) in content and str(outside.id) not in content
    runs.execute(run_id)  # a repeated job changes nothing
    assert runs.view(ORG, run_id).version == view.version


def test_refused_export_fails_and_frees_period_and_claims() -> None:
    claims = [claim(5)]
    runs, store, _, _ = service(exporter=Refusing("xledger"), claims=claims)
    run_id = runs.request_export(ORG, JANUARY, ExportTarget.XLEDGER, ACTOR)
    runs.execute(run_id)
    view = runs.view(ORG, run_id)
    assert view.status == "failed"
    assert view.error == {"code": "unmapped_category", "message": "no account for: reise"}
    assert store.reserved == {} and store.periods == {}
    again = runs.request_export(ORG, JANUARY, ExportTarget.DYNAMICS, ACTOR)
    runs.execute(again)
    assert runs.view(ORG, again).record_count == 1


def test_stuck_run_fails_with_timeout_only_after_the_limit() -> None:
    runs, store, _, clock = service(claims=[claim(3)])
    run_id = runs.request_export(ORG, JANUARY, ExportTarget.XLEDGER, ACTOR)
    run = store.get(run_id)
    run.start([], ACTOR)
    store.save(run)
    assert runs.fail_if_stuck(run_id) is False
    clock.current = datetime.now(UTC) + timedelta(minutes=16)
    assert runs.fail_if_stuck(run_id) is True
    view = runs.view(ORG, run_id)
    assert view.status == ExportRunStatus.FAILED.value and view.error is not None
    assert view.error["code"] == "timeout"


def test_other_organisations_run_is_not_found() -> None:
    runs, _, _, _ = service()
    run_id = runs.request_export(ORG, JANUARY, ExportTarget.XLEDGER, ACTOR)
    with pytest.raises(NotFound):
        runs.view(uuid4(), run_id)
    with pytest.raises(NotFound):
        runs.view(ORG, UUID(int=1))


def test_history_versions_and_as_of() -> None:
    runs, _, _, _ = service(claims=[claim(3)])
    run_id = runs.request_export(ORG, JANUARY, ExportTarget.XLEDGER, ACTOR)
    runs.execute(run_id)
    assert runs.view(ORG, run_id, version=1).status == "pending"
    assert runs.view(ORG, run_id, version=2).status == "running"
    with pytest.raises(NotFound):
        runs.view(ORG, run_id, version=9)
    with pytest.raises(NotFound):
        runs.view(ORG, run_id, as_of=datetime(2000, 1, 1, tzinfo=UTC))
    assert runs.view(ORG, run_id, as_of=datetime.now(UTC) + timedelta(days=1)).status == "completed"


class CountingStore(FakeEventStore):
    """Notes each read of an aggregate's events (replayed or streamed), with its id."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[tuple[str, UUID]] = []

    def get(self, aggregate_id: UUID, version: int | None = None) -> Any:
        self.reads.append(("get", aggregate_id))
        return super().get(aggregate_id, version)

    def stream(self, aggregate_id: UUID) -> Any:
        self.reads.append(("stream", aggregate_id))
        return super().stream(aggregate_id)


def test_one_execution_reads_the_runs_events_once_and_renders_the_claims_as_taken() -> None:
    store = CountingStore()
    services = fake_services(claims=[(ORG, claim(3)), (ORG, claim(4))], event_store=store)
    runs = services.app.export_runs
    run_id = runs.request_export(ORG, JANUARY, ExportTarget.XLEDGER, ACTOR)
    store.reads.clear()
    assert runs.execute(run_id) is ExportRunStatus.COMPLETED
    # The run's state once; the file comes from the claims this execution took, not from
    # reading its events back (the accounting settings are another aggregate).
    assert [read for read, of in store.reads if of == run_id] == ["get"]
    assert isinstance(services.files, FakeStorage)
    file = services.store.get(run_id).file
    from_events = b"".join(CsvExporter("xledger").render(None, TakenClaims(store, run_id), None))
    assert services.files.files[file["path"]] == from_events
    assert from_events.count(b"\n") == 3  # the header and both claims


def test_a_run_started_earlier_is_rendered_from_its_events() -> None:
    """A repeated job finds the run running (its first execution took the claims and ended
    before the file): the claims come from the events, streamed."""
    store = CountingStore()
    services = fake_services(claims=[(ORG, claim(3)), (ORG, claim(4))], event_store=store)
    runs = services.app.export_runs
    run_id = runs.request_export(ORG, JANUARY, ExportTarget.XLEDGER, ACTOR)
    run = store.get(run_id)
    run.start([claim(5, "12.50").as_event_data()], ACTOR)
    store.save(run)
    store.reads.clear()
    assert runs.execute(run_id) is ExportRunStatus.COMPLETED
    assert [read for read, of in store.reads if of == run_id] == ["get", "stream"]
    assert isinstance(services.files, FakeStorage)
    data = services.files.files[store.get(run_id).file["path"]]
    assert data.endswith(b";12.50\n") and data.count(b"\n") == 2  # what its event recorded
