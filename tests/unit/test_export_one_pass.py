"""An execution writes the file while the take is appended: the file gets the run's name only
once the take is recorded, and is gone when the append failed."""

from __future__ import annotations

import gc
import threading
from typing import Any
from uuid import UUID

import pytest

from application.export_runs import TakenClaims
from application.ports import ClaimsTaken, StoredFile
from domain.export_run import ExportRunStatus, ExportTarget
from tests.unit.fakes import CsvExporter, FakeEventStore, FakeStorage, fake_services
from tests.unit.test_export_runs_service import ACTOR, JANUARY, ORG, claim


class FailingTake(FakeEventStore):
    """The append of a take fails `times` times with `error` (after checking nothing)."""

    def __init__(self, error: Exception, times: int) -> None:
        super().__init__()
        self.error, self.times = error, times

    def save(self, *aggregates: Any, **kwargs: Any) -> int | None:
        taking = any(type(e).__name__ == "Started" for a in aggregates for e in a.pending_events)
        if taking and self.times:
            self.times -= 1
            for a in aggregates:
                a.collect_events()  # what a failed append leaves: nothing stored
            raise self.error
        return super().save(*aggregates, **kwargs)


def execute_with(store: FakeEventStore) -> tuple[UUID, FakeStorage, Any]:
    services = fake_services(claims=[(ORG, claim(3)), (ORG, claim(4, "7.25"))], event_store=store)
    assert isinstance(services.files, FakeStorage)
    runs = services.app.export_runs
    return runs.request_export(ORG, JANUARY, ExportTarget.XLEDGER, ACTOR), services.files, runs


def test_a_take_refused_once_is_taken_again_and_only_the_runs_file_remains() -> None:
    store = FailingTake(ClaimsTaken(), times=1)
    run_id, files, runs = execute_with(store)
    assert runs.execute(run_id) is ExportRunStatus.COMPLETED
    run = store.get(run_id)
    assert list(files.files) == [run.file["path"]]
    assert run.file["path"] == f"exports/{ORG}/{run_id}.csv"
    rendered = b"".join(CsvExporter("xledger").render(run, TakenClaims(store, run_id), None))
    assert files.files[run.file["path"]] == rendered and rendered.endswith(b";7.25\n")


def test_a_failed_append_leaves_no_file_and_the_run_pending() -> None:
    store = FailingTake(RuntimeError("connection lost"), times=1)
    run_id, files, runs = execute_with(store)
    with pytest.raises(RuntimeError):
        runs.execute(run_id)
    assert files.files == {}
    assert store.get(run_id).status is ExportRunStatus.PENDING
    assert runs.execute(run_id) is ExportRunStatus.COMPLETED  # the job's retry
    assert list(files.files) == [store.get(run_id).file["path"]]


class SlowAppend(FakeEventStore):
    """The take's append returns only once the file has started to be written."""

    def __init__(self) -> None:
        super().__init__()
        self.file_started = threading.Event()
        self.overlapped = False

    def save(self, *aggregates: Any, **kwargs: Any) -> int | None:
        if any(type(e).__name__ == "Started" for a in aggregates for e in a.pending_events):
            self.overlapped = self.file_started.wait(timeout=5)
        return super().save(*aggregates, **kwargs)


class SignallingStorage(FakeStorage):
    def __init__(self, started: threading.Event) -> None:
        super().__init__()
        self.started = started

    def write(self, path: str, chunks: Any, content_type: str) -> StoredFile:
        self.started.set()
        return super().write(path, chunks, content_type)


def test_the_file_is_written_while_the_take_is_appended() -> None:
    store = SlowAppend()
    services = fake_services(claims=[(ORG, claim(3))], event_store=store,
                             files=SignallingStorage(store.file_started))
    runs = services.app.export_runs
    run_id = runs.request_export(ORG, JANUARY, ExportTarget.XLEDGER, ACTOR)
    assert runs.execute(run_id) is ExportRunStatus.COMPLETED
    assert store.overlapped


class WatchedSource:
    """The claim source, noting whether Python's cycle collector ran while it was read;
    `fail` makes the reading fail after the first batch."""

    def __init__(self, source: Any, fail: bool) -> None:
        self.source, self.fail = source, fail
        self.collecting: list[bool] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.source, name)

    def candidate_columns(self, *args: Any) -> Any:
        for batch in self.source.candidate_columns(*args):
            self.collecting.append(gc.isenabled())
            yield batch
            if self.fail:
                raise RuntimeError("connection lost")


@pytest.mark.parametrize("fail", [False, True])
def test_the_cycle_collector_pauses_while_claims_are_taken_and_runs_again_after(
    fail: bool,
) -> None:
    services = fake_services(claims=[(ORG, claim(3)), (ORG, claim(4, "7.25"))])
    runs = services.app.export_runs
    runs.claims = source = WatchedSource(runs.claims, fail)
    run_id = runs.request_export(ORG, JANUARY, ExportTarget.XLEDGER, ACTOR)
    assert gc.isenabled()
    if fail:
        with pytest.raises(RuntimeError):
            runs.execute(run_id)
    else:
        assert runs.execute(run_id) is ExportRunStatus.COMPLETED
    assert source.collecting == [False]
    assert gc.isenabled()
