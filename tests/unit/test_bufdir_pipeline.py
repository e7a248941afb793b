"""The Bufdir pipeline over recorded fakes: step order, empty path, bundling, failures, retries."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Aggregate

from application.bufdir_exports import BufdirExports
from application.ports import IdempotentResponse, Job, NotFound, RecordedEvent, StoredFile
from application.task_names import EXECUTE_BUFDIR_EXPORT
from domain.bufdir_config import DEFAULT_CONFIG, BufdirConfigDocument
from domain.bufdir_export import ReportFormat
from domain.bufdir_rules import Summary
from domain.shared import Actor, Period
from infrastructure.bufdir_files import BufdirFileWriter

ORG = uuid4()
ACTOR = Actor("user-1", ORG, "corr-1")
PERIOD = Period(date(2024, 1, 1), date(2024, 12, 31))


class FakeStore:
    """Keeps events per aggregate and replays them on get, like the real store."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.events: dict[UUID, list[Any]] = {}
        self.jobs: list[Job] = []

    def get(self, aggregate_id: UUID, version: int | None = None) -> Any:
        if aggregate_id not in self.events:
            raise NotFound(aggregate_id)
        aggregate = None
        for event in self.events[aggregate_id][:version]:
            aggregate = event.mutate(aggregate)
        return aggregate

    def save(self, *aggregates: Aggregate, jobs: Sequence[Job] = (),
             response: IdempotentResponse | None = None) -> int | None:
        for aggregate in aggregates:
            self.events.setdefault(aggregate.id, []).extend(aggregate.collect_events())
            self.log.append(f"saved:{aggregate.status.value}")  # type: ignore[attr-defined]
        self.jobs.extend(jobs)
        return None

    def history(self, aggregate_id: UUID) -> list[RecordedEvent]:
        return []


class FakeActivities:
    def __init__(self, log: list[str], activities: list[dict[str, Any]],
                 fail_on: str | None = None) -> None:
        self.log, self.items, self.fail_on = log, activities, fail_on

    def _call(self, name: str) -> None:
        self.log.append(name)
        if name == self.fail_on:
            raise ConnectionError(f"database gone at /srv/secret/{name}.sock")

    def count(self, org_id: UUID, start: date, end: date) -> int:
        self._call("count")
        return len(self.items)

    def stream(self, org_id: UUID, start: date, end: date) -> Iterator[dict[str, Any]]:
        self._call("stream")
        yield from self.items

    def attachments(self, org_id: UUID, activity_ids: Iterable[str]) -> Iterator[
            tuple[str, str, str]]:
        self._call("attachments")
        for activity_id in list(activity_ids):
            yield (activity_id, "kvittering.pdf", __file__)


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


class FakeFiles:
    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.files: dict[str, bytes] = {}

    def write(self, path: str, chunks: Iterable[bytes], content_type: str) -> StoredFile:
        self.log.append(f"store:{path.rsplit('.', 1)[-1]}")
        data = b"".join(chunks)
        self.files[path] = data
        return StoredFile(path, len(data), hashlib.sha256(data).hexdigest(), content_type)

    def open(self, path: str) -> BinaryIO:
        raise NotImplementedError

    def exists(self, path: str) -> bool:
        return path in self.files


def activity(i: int) -> dict[str, Any]:
    return {"id": f"a{i}", "date": date(2024, 3, i), "activity_type": "gruppemøte",
            "participants": 2 + i, "municipality": "0301", "description": "Møte",
            "duration_minutes": 60}


def build(activities: list[dict[str, Any]], fail_on: str | None = None,
          ) -> tuple[BufdirExports, list[str], FakeStore, FakeFiles]:
    log: list[str] = []

    def config_of(org_id: UUID, version: int | None) -> tuple[int, BufdirConfigDocument]:
        log.append("config")
        if fail_on == "config" and version is not None:
            raise ValueError("no configuration")
        return 0, DEFAULT_CONFIG

    store, files = FakeStore(log), FakeFiles(log)
    exports = BufdirExports(store, FakeActivities(log, activities, fail_on), config_of,
                            RecordingWriter(log), files)
    return exports, log, store, files


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
