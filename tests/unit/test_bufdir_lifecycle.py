"""Every (status, command) pair of BufdirExport: allowed ones record exactly one event."""

from collections.abc import Callable
from datetime import date
from uuid import uuid4

import pytest

from domain.bufdir_export import (
    FINAL_STATUSES,
    LIFECYCLE,
    BufdirExport,
    BufdirExportStatus,
    ReportFormat,
)
from domain.shared import Actor, DomainError, Period, TransitionNotAllowed

S = BufdirExportStatus
ORG = uuid4()
ACTOR = Actor("user-1", ORG, "corr-1")
FILE = {"path": "bufdir/x.xlsx", "size_bytes": 10, "sha256": "0" * 64, "content_type": "x"}

COMMANDS: dict[str, Callable[[BufdirExport], None]] = {
    "query_activities": lambda e: e.query_activities(ACTOR),
    "map_columns": lambda e: e.map_columns(ACTOR),
    "generate_file": lambda e: e.generate_file(ACTOR),
    "bundle_attachments": lambda e: e.bundle_attachments(ACTOR),
    "store_file": lambda e: e.store_file(ACTOR),
    "complete": lambda e: e.complete(3, FILE, ACTOR),
    "complete_empty": lambda e: e.complete_empty(ACTOR),
    "fail": lambda e: e.fail("boom", ACTOR),
}

#: A shortest command path from initialised to each status.
PATHS: dict[S, list[str]] = {
    S.INITIALISED: [],
    S.QUERYING_ACTIVITIES: ["query_activities"],
    S.MAPPING_COLUMNS: ["query_activities", "map_columns"],
    S.GENERATING_FILE: ["query_activities", "map_columns", "generate_file"],
    S.BUNDLING_ATTACHMENTS: ["query_activities", "map_columns", "generate_file",
                             "bundle_attachments"],
    S.STORING_FILE: ["query_activities", "map_columns", "generate_file", "store_file"],
    S.COMPLETED: ["query_activities", "map_columns", "generate_file", "store_file", "complete"],
    S.COMPLETED_EMPTY: ["query_activities", "complete_empty"],
    S.FAILED: ["fail"],
}

ALLOWED = {
    (S.INITIALISED, "query_activities"), (S.QUERYING_ACTIVITIES, "map_columns"),
    (S.QUERYING_ACTIVITIES, "complete_empty"), (S.MAPPING_COLUMNS, "generate_file"),
    (S.GENERATING_FILE, "bundle_attachments"), (S.GENERATING_FILE, "store_file"),
    (S.BUNDLING_ATTACHMENTS, "store_file"), (S.STORING_FILE, "complete"),
} | {(s, "fail") for s in S if s not in FINAL_STATUSES}


def export_in(status: S) -> BufdirExport:
    export = BufdirExport.request(
        ORG, Period(date(2024, 1, 1), date(2024, 12, 31)), ReportFormat.XLSX, True, 0, ACTOR
    )
    for command in PATHS[status]:
        COMMANDS[command](export)
    assert export.status is status
    export.collect_events()
    return export


def test_the_table_has_exactly_these_commands() -> None:
    assert set(LIFECYCLE.commands) == set(COMMANDS)


@pytest.mark.parametrize("status", list(S))
@pytest.mark.parametrize("command", list(COMMANDS))
def test_each_pair(status: S, command: str) -> None:
    export = export_in(status)
    if (status, command) in ALLOWED:
        COMMANDS[command](export)
        events = export.collect_events()
        assert len(events) == 1
        assert events[0].actor == ACTOR.as_event_data()  # type: ignore[attr-defined]
        assert export.status_history[-1] == (export.status.value, events[0].timestamp)
    else:
        with pytest.raises(TransitionNotAllowed):
            COMMANDS[command](export)
        assert export.collect_events() == []
        assert export.status is status


def test_failed_records_the_step_and_history_is_in_order() -> None:
    export = export_in(S.GENERATING_FILE)
    export.fail("disk full", ACTOR)
    assert export.error == {"step": "generating_file", "message": "disk full"}
    assert [s for s, _ in export.status_history] == [
        "initialised", "querying_activities", "mapping_columns", "generating_file", "failed"
    ]
    times = [at for _, at in export.status_history]
    assert times == sorted(times)


def test_initialised_event_carries_the_request() -> None:
    export = BufdirExport.request(
        ORG, Period(date(2024, 1, 1), date(2024, 6, 30)), ReportFormat.CSV, False, 4, ACTOR
    )
    (created,) = export.collect_events()
    assert type(created).__name__ == "Initialised"
    assert (created.format, created.include_attachments, created.config_version) == (  # type: ignore[attr-defined]
        "csv", False, 4
    )


def test_request_for_another_org_is_refused() -> None:
    with pytest.raises(DomainError):
        BufdirExport.request(
            uuid4(), Period(date(2024, 1, 1), date(2024, 1, 31)), ReportFormat.CSV, False, 0, ACTOR
        )
