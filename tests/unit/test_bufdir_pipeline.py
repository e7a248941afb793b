"""The Bufdir pipeline through the real bootstrap over recording fakes: step order, empty
path, bundling, failures, retries."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Aggregate

from application.bufdir_exports import BufdirExports
from application.ports import IdempotentResponse, Job, NotFound, StoredFile
from application.task_names import EXECUTE_BUFDIR_EXPORT
from domain.bufdir_config import DEFAULT_CONFIG, BufdirConfigDocument
from domain.bufdir_export import ReportFormat
from domain.bufdir_rules import Summary
from domain.shared import Actor, Period
from infrastructure.bufdir_files import BufdirFileWriter
from tests.unit.fakes import FakeActivities, FakeEventStore, FakeStorage, fake_services

ORG = uuid4()
ACTOR = Actor("user-1", ORG, "corr-1")
PERIOD = Period(date(2024, 1, 1), date(2024, 12, 31))


class RecordingStore(FakeEventStore):
    """The fake store, noting each saved status in the shared log."""

    def __init__(self, log: list[str]) -> None:
        super().__init__()
        self.log = log

    def save(self, *aggregates: Aggregate, jobs: Sequence[Job] = (),
             response: IdempotentResponse | None = None) -> int | None:
        statuses = [a.status.value for a in aggregates]  # type: ignore[attr-defined]
        position = super().save(*aggregates, jobs=jobs, response=response)
        self.log.extend(f"saved:{status}" for status in statuses)
        return position


class RecordingActivities(FakeActivities):
    """The organisation's activities, each with one receipt; a named read can fail."""

    def __init__(self, log: list[str], activities: list[dict[str, Any]],
                 fail_on: str | None = None) -> None:
        super().__init__()
        self.log, self.fail_on = log, fail_on
        for item in activities:
            self.items[(ORG, item["id"])] = item
            self.files[(ORG, item["id"])] = [("kvittering.pdf", __file__)]

    def _call(self, name: str) -> None:
        self.log.append(name)
        if name == self.fail_on:
            raise ConnectionError(f"database gone at /srv/secret/{name}.sock")

    def count(self, org_id: UUID, start: date, end: date) -> int:
        self._call("count")
        return super().count(org_id, start, end)

    def stream(self, org_id: UUID, start: date, end: date) -> Iterator[dict[str, Any]]:
        self._call("stream")
        yield from super().stream(org_id, start, end)

    def attachments(self, org_id: UUID, activity_ids: Iterable[str]) -> Iterator[
            tuple[str, str, str]]:
        self._call("attachments")
        yield from super().attachments(org_id, list(activity_ids))


class RecordingWriter(BufdirFileWriter):
    def __init__(self, log: list[str]) -> None:
        self.log = log

    def write(self, fmt: str, rows: Iterable[list[Any]], headers: list[str], summary: Summary,
              out_path: Path) -> int:
        self.log.append(f"write:{fmt}")
        return super().write(fmt, rows, headers, summary, out_path)

    def bundle(self, report_path: Path, attachments: Iterable[tuple[str, str, str]],
               out_path: Path) -> int:
        self.log.append("bundle")
        return super().bundle(report_path, attachments, out_path)


class RecordingStorage(FakeStorage):
    def __init__(self, log: list[str]) -> None:
        super().__init__()
        self.log = log

    def write(self, path: str, chunks: Iterable[bytes], content_type: str) -> StoredFile:
        self.log.append(f"store:{path.rsplit('.', 1)[-1]}")
        return super().write(path, chunks, content_type)


def activity(i: int) -> dict[str, Any]:
    return {"id": f"a{i}", "date": date(2024, 3, i), "activity_type": "gruppemøte",
            "participants": 2 + i, "municipality": "0301", "description": "Møte",
            "duration_minutes": 60}


def build(activities: list[dict[str, Any]], fail_on: str | None = None,
          ) -> tuple[BufdirExports, list[str], RecordingStore, RecordingStorage]:
    """The real service graph (`bootstrap` through `fake_services`) with recording fakes."""
    log: list[str] = []

    def config_of(org_id: UUID, version: int | None) -> tuple[int, BufdirConfigDocument]:
        log.append("config")
        if fail_on == "config" and version is not None:
            raise ValueError("no configuration")
        return 0, DEFAULT_CONFIG

    store, files = RecordingStore(log), RecordingStorage(log)
    services = fake_services(
        event_store=store, files=files, activities=RecordingActivities(log, activities, fail_on),
        report_writer=RecordingWriter(log), bufdir_config_loader=config_of,
    )
    return services.app.bufdir_exports, log, store, files


def requested(exports: BufdirExports, log: list[str], fmt: ReportFormat = ReportFormat.XLSX,
              attachments: bool = False) -> UUID:
    export_id = exports.request(ORG, PERIOD, fmt, attachments, ACTOR)
    log.clear()
    return export_id


def test_request_saves_initialised_with_a_job() -> None:
    exports, _log, store, _ = build([])
    export_id = exports.request(ORG, PERIOD, ReportFormat.CSV, False, ACTOR)
    assert store.jobs == [Job(EXECUTE_BUFDIR_EXPORT, {"export_id": str(export_id)})]
    assert exports.get(ORG, export_id).status == "initialised"
    with pytest.raises(NotFound):
        exports.get(uuid4(), export_id)


def test_steps_run_in_order_and_each_status_is_saved_before_the_next_step() -> None:
    exports, log, _store, files = build([activity(1), activity(2)])
    export_id = requested(exports, log)
    exports.execute(export_id)
    assert log == [
        "saved:querying_activities", "count",
        "saved:mapping_columns", "config",
        "saved:generating_file", "write:xlsx", "stream",
        "saved:storing_file", "store:xlsx",
        "saved:completed",
    ]
    export = exports.get(ORG, export_id)
    assert export.status == "completed"
    assert export.row_count == 2
    assert export.file["path"] == f"bufdir/{ORG}/{export_id}.xlsx"
    assert export.file["size_bytes"] == len(files.files[export.file["path"]])
    assert [status for status, _at in export.status_history] == [
        "initialised", "querying_activities", "mapping_columns", "generating_file",
        "storing_file", "completed",
    ]


def test_attachments_are_bundled_only_when_asked() -> None:
    exports, log, _store, files = build([activity(1)])
    export_id = requested(exports, log, ReportFormat.CSV, attachments=True)
    exports.execute(export_id)
    assert log[log.index("saved:generating_file"):] == [
        "saved:generating_file", "write:csv", "stream",
        "saved:bundling_attachments", "bundle", "attachments",
        "saved:storing_file", "store:zip", "saved:completed",
    ]
    assert exports.get(ORG, export_id).file["path"].endswith(".zip")
    assert len(files.files) == 1


def test_zero_rows_complete_empty_without_a_file() -> None:
    exports, log, _store, files = build([])
    export_id = requested(exports, log)
    exports.execute(export_id)
    assert log == ["saved:querying_activities", "count", "saved:completed_empty"]
    export = exports.get(ORG, export_id)
    assert (export.status, export.row_count, export.file) == ("completed_empty", 0, None)
    assert files.files == {}


@pytest.mark.parametrize(
    ("fail_on", "step"),
    [("count", "querying_activities"), ("config", "mapping_columns"),
     ("stream", "generating_file"), ("attachments", "bundling_attachments")],
)
def test_a_failing_step_ends_failed_with_the_step(fail_on: str, step: str) -> None:
    exports, log, store, _files = build([activity(1)], fail_on=fail_on)
    export_id = requested(exports, log, attachments=True)
    exports.execute(export_id)  # does not raise
    export = exports.get(ORG, export_id)
    assert export.status == "failed"
    assert store.get(export_id).error["step"] == step
    assert "/srv/secret" not in export.error["message"]
    assert "Traceback" not in export.error["message"]
    assert len(export.error["message"]) <= 500
    assert log[-1] == "saved:failed"


def test_a_retried_job_continues_from_the_stored_step() -> None:
    exports, log, store, _files = build([activity(1)])
    export_id = requested(exports, log)
    export = store.get(export_id)
    for command in ("query_activities", "map_columns", "generate_file"):
        export.enter_step(command, ACTOR)  # a worker got this far and was killed
    store.save(export)
    log.clear()
    exports.execute(export_id)
    assert "saved:generating_file" not in log
    assert log[-3:] == ["saved:storing_file", "store:xlsx", "saved:completed"]
    log.clear()
    exports.execute(export_id)  # once more: nothing happens
    assert log == []
    assert exports.get(ORG, export_id).status == "completed"


def test_stored_export_was_built_by_the_configured_mapping() -> None:
    exports, log, _store, files = build([activity(1), activity(2)])
    export_id = requested(exports, log, ReportFormat.CSV)
    exports.execute(export_id)
    text = files.files[f"bufdir/{ORG}/{export_id}.csv"].decode("utf-8-sig")
    assert text.splitlines()[0].split(";") == DEFAULT_CONFIG.headers
    assert "gruppemøte med færre enn 3 deltakere" not in text
    assert text.count("\n") == 3
