"""SyncRun: every (status, command) pair against the lifecycle table, and replay of its events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest

import domain.sync_run as sync_run_module
from domain.shared import Actor, TransitionNotAllowed
from domain.sync_run import (
    LIFECYCLE,
    InvalidSyncRun,
    SyncRun,
    SyncRunStatus,
    validate_integration_type,
)

S = SyncRunStatus
ACTOR = Actor(sub="user-1", org_id=uuid4(), correlation_id="req-1")
ORG = uuid4()

#: The table as the requirements state it; the test checks LIFECYCLE against it, not itself.
EXPECTED: dict[tuple[SyncRunStatus, str], SyncRunStatus] = {
    (S.RUNNING, "complete"): S.COMPLETED,
    (S.RUNNING, "fail"): S.FAILED,
    (S.RUNNING, "cancel"): S.CANCELLED,
    (S.RUNNING, "link_export_run"): S.RUNNING,
}

COMMANDS: dict[str, Callable[[SyncRun], None]] = {
    "complete": lambda run: run.complete(10, 0, None, ACTOR),
    "fail": lambda run: run.fail(3, 2, "Xledger answered HTTP 503", ACTOR),
    "cancel": lambda run: run.cancel(0, 0, "cancelled by coordinator", ACTOR),
    "link_export_run": lambda run: run.link_export_run(uuid4(), ACTOR),
    "finish_completed": lambda run: run.finish("completed", 1, 0, None, ACTOR),
    "finish_failed": lambda run: run.finish(S.FAILED, 1, 1, "boom", ACTOR),
    "finish_cancelled": lambda run: run.finish("cancelled", 0, 0, None, ACTOR),
}
FINISH_ALIASES = {
    "finish_completed": "complete",
    "finish_failed": "fail",
    "finish_cancelled": "cancel",
}


def run_in(status: SyncRunStatus) -> tuple[SyncRun, list[Any]]:
    """A run in `status` with no pending events, and the events that led there."""
    run = SyncRun.start_new(ORG, "xledger", "manual", ACTOR)
    if status in (S.COMPLETED, S.FAILED, S.CANCELLED):
        run.finish(status, 5, 1, "ended", ACTOR)
    history: list[Any] = list(run.collect_events())
    assert run.status is status
    return run, history


def replay(events: list[Any]) -> SyncRun:
    aggregate: Any = None
    for stored in events:
        aggregate = stored.mutate(aggregate)
    assert isinstance(aggregate, SyncRun)
    return aggregate


def state(run: SyncRun) -> dict[str, Any]:
    return {k: v for k, v in vars(run).items() if k != "_pending_events"}


def test_lifecycle_table_is_the_required_one() -> None:
    actual = {
        (status, command): LIFECYCLE.target(command, status)
        for status in S
        for command in LIFECYCLE.commands
        if LIFECYCLE.allows(command, status)
    }
    assert actual == EXPECTED


#: Every status a run can be in (`pending` is a status of the log's contract that no run reaches).
REACHABLE = [s for s in S if s is not S.PENDING]


@pytest.mark.parametrize("status", REACHABLE, ids=lambda s: s.value)
@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_status_command_pair(status: SyncRunStatus, command: str) -> None:
    run, history = run_in(status)
    before = state(run)
    expected = EXPECTED.get((status, FINISH_ALIASES.get(command, command)))

    if expected is None:
        with pytest.raises(TransitionNotAllowed) as refused:
            COMMANDS[command](run)
        assert refused.value.status == status.value
        assert len(run.collect_events()) == 0
        assert state(run) == before
        return

    COMMANDS[command](run)
    new_events: list[Any] = list(run.collect_events())
    assert len(new_events) == 1
    assert run.status is expected
    assert state(replay(history + new_events)) == state(run)


def test_start_new_is_running_from_its_started_event() -> None:
    run = SyncRun.start_new(ORG, "dynamics", "manual", ACTOR)
    started: Any
    (started,) = run.collect_events()
    assert type(started).__name__ == "Started"
    assert run.status is S.RUNNING
    assert run.started_at == started.timestamp
    assert (run.records_processed, run.records_failed, run.error_message) == (0, 0, None)
    assert started.actor == ACTOR.as_event_data()


@pytest.mark.parametrize(
    ("drift", "flagged"), [(None, False), (299.9, False), (300.1, True), (-301.0, True)]
)
def test_drift_over_five_minutes_is_flagged(drift: float | None, flagged: bool) -> None:
    run = SyncRun.start_new(ORG, "xledger", "scheduler", ACTOR, drift_seconds=drift)
    assert run.drift_flagged is flagged


def test_finish_stores_counts_end_time_and_only_the_sanitised_message() -> None:
    run, _ = run_in(S.RUNNING)
    raw = (
        'Traceback (most recent call last):\n  File "/srv/app/sync.py", line 9, in run\n'
        "    post(token)\nRuntimeError: login failed password=hunter2hunter2"
    )
    run.finish("failed", 7, 2, raw, ACTOR)
    failed: Any
    (failed,) = run.collect_events()
    assert run.status is S.FAILED
    assert run.ended_at == failed.timestamp
    assert (run.records_processed, run.records_failed) == (7, 2)
    assert failed.error_message == run.error_message
    assert "hunter2" not in failed.error_message
    assert "Traceback" not in failed.error_message and "/srv/app" not in failed.error_message
    assert run.duration_seconds is not None and run.duration_seconds >= 0


@pytest.mark.parametrize("status", ["running", "pending", "bogus", ""])
def test_finish_refuses_a_status_that_does_not_end_a_run(status: str) -> None:
    run, _ = run_in(S.RUNNING)
    with pytest.raises(InvalidSyncRun) as refused:
        run.finish(status, 0, 0, None, ACTOR)
    assert refused.value.field == "status"
    assert run.collect_events() == []


@pytest.mark.parametrize("field", ["records_processed", "records_failed"])
@pytest.mark.parametrize("bad", [-1, 1.5, "3", True, None])
def test_counts_must_be_non_negative_integers(field: str, bad: Any) -> None:
    run, _ = run_in(S.RUNNING)
    counts: dict[str, Any] = {"records_processed": 1, "records_failed": 0, field: bad}
    with pytest.raises(InvalidSyncRun) as refused:
        run.finish("completed", counts["records_processed"], counts["records_failed"], None, ACTOR)
    assert refused.value.field == field
    assert run.collect_events() == []
    assert run.status is S.RUNNING


def test_link_export_run_is_idempotent_and_refuses_a_second_export() -> None:
    run, _ = run_in(S.RUNNING)
    export_id = uuid4()
    run.link_export_run(export_id, ACTOR)
    run.link_export_run(export_id, ACTOR)
    assert len(run.collect_events()) == 1
    assert run.export_run_id == export_id
    with pytest.raises(InvalidSyncRun) as refused:
        run.link_export_run(uuid4(), ACTOR)
    assert refused.value.field == "export_run_id"


def test_replay_does_not_validate_again(monkeypatch: pytest.MonkeyPatch) -> None:
    run = SyncRun.start_new(ORG, "xledger", "scheduler", ACTOR)
    run.link_export_run(uuid4(), ACTOR)
    run.finish("failed", 1, 1, "token=abcdefgh12345678 rejected", ACTOR)
    events: list[Any] = list(run.collect_events())

    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("replay must only apply facts")

    monkeypatch.setattr(sync_run_module, "sanitize_error_message", refuse)
    monkeypatch.setattr(sync_run_module, "validate_integration_type", refuse)
    monkeypatch.setattr(LIFECYCLE, "target", refuse)
    assert state(replay(events)) == state(run)


@pytest.mark.parametrize("value", ["xledger", "dynamics_365", "A-1", "x" * 64])
def test_valid_integration_types(value: str) -> None:
    assert validate_integration_type(value) == value


@pytest.mark.parametrize(
    "value", ["", "x" * 65, "xledger\x00", "xledger\n", "x ledger", "x/ledger", "ø", None, 3]
)
def test_invalid_integration_types(value: Any) -> None:
    with pytest.raises(InvalidSyncRun) as refused:
        validate_integration_type(value)
    assert refused.value.field == "integration_type"
    with pytest.raises(InvalidSyncRun):
        SyncRun.start_new(ORG, value, "manual", ACTOR)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"triggered_by": "cron"}, "triggered_by"),
        ({"org_id": "not-a-uuid"}, "org_id"),
        ({"scheduled_for": datetime(2025, 1, 1)}, "scheduled_for"),
        ({"drift_seconds": float("nan")}, "drift_seconds"),
    ],
)
def test_creation_refuses_bad_arguments(kwargs: dict[str, Any], field: str) -> None:
    arguments: dict[str, Any] = {
        "org_id": ORG,
        "integration_type": "xledger",
        "triggered_by": "manual",
        "actor": ACTOR,
    } | kwargs
    with pytest.raises(InvalidSyncRun) as refused:
        SyncRun.start_new(**arguments)
    assert refused.value.field == field


def test_scheduled_for_is_stored_in_utc() -> None:
    local = datetime(2025, 3, 1, 3, 0, tzinfo=UTC).astimezone(ZoneInfo("Europe/Oslo"))
    run = SyncRun.start_new(ORG, "xledger", "scheduler", ACTOR, scheduled_for=local)
    assert run.scheduled_for == local and run.scheduled_for.tzinfo is UTC
    assert isinstance(run.org_id, UUID)
