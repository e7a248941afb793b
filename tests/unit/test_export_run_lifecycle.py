"""Every (status, command) pair of the ExportRun lifecycle table."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import uuid4

import pytest

from domain.export_run import LIFECYCLE, ExportRun, ExportRunStatus, ExportTarget
from domain.shared import Actor, InvalidPeriod, Period, TransitionNotAllowed

ACTOR = Actor("user-1", uuid4(), "req-1")

COMMANDS: dict[str, Any] = {
    "start": lambda run: run.start([{"claim_id": str(uuid4()), "amount": "10.00"}], ACTOR),
    "complete": lambda run: run.complete({"path": "x.csv", "size_bytes": 1, "sha256": "0"}, ACTOR),
    "fail": lambda run: run.fail("boom", "it failed", ACTOR),
}

PATHS = {  # the commands that lead from a new run to each status
    ExportRunStatus.PENDING: [],
    ExportRunStatus.RUNNING: ["start"],
    ExportRunStatus.COMPLETED: ["start", "complete"],
    ExportRunStatus.FAILED: ["start", "fail"],
}


def run_in(status: ExportRunStatus) -> ExportRun:
    run = ExportRun.request(ACTOR.org_id, Period(date(2025, 1, 1), date(2025, 1, 31)),
                            ExportTarget.XLEDGER, ACTOR)
    for command in PATHS[status]:
        COMMANDS[command](run)
    run.collect_events()
    assert run.status is status
    return run


def test_table_lists_the_commands_we_test() -> None:
    assert LIFECYCLE.commands == sorted(COMMANDS)


@pytest.mark.parametrize("status", list(ExportRunStatus))
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_status_and_command(status: ExportRunStatus, command: str) -> None:
    run = run_in(status)
    version = run.version
    if LIFECYCLE.allows(command, status):
        COMMANDS[command](run)
        events = run.collect_events()
        assert len(events) == (2 if command == "start" else 1)  # start: Started + ClaimsTaken
        assert run.status is LIFECYCLE.target(command, status)
        assert events[0].actor == ACTOR.as_event_data()
    else:
        with pytest.raises(TransitionNotAllowed):
            COMMANDS[command](run)
        assert run.collect_events() == []
        assert run.version == version
        assert run.status is status


def test_replay_rebuilds_state_without_validating_again() -> None:
    fresh = ExportRun.request(ACTOR.org_id, Period(date(2025, 1, 1), date(2025, 1, 31)),
                              ExportTarget.DYNAMICS, ACTOR)
    COMMANDS["start"](fresh)
    COMMANDS["fail"](fresh)
    events = fresh.collect_events()
    # An event the table would refuse now (fail after failed) still applies on replay: facts.
    extra = type(events[-1])(
        originator_id=fresh.id,
        originator_version=fresh.version + 1,
        timestamp=events[-1].timestamp,
        code="again",
        message="recorded twice",
        actor=ACTOR.as_event_data(),
    )
    replayed = None
    for e in [*events, extra]:
        replayed = e.mutate(replayed)
    assert replayed is not None
    assert replayed.status is ExportRunStatus.FAILED
    assert replayed.error == {"code": "again", "message": "recorded twice"}
    assert replayed.target is ExportTarget.DYNAMICS


def test_period_end_before_start_is_refused() -> None:
    with pytest.raises(InvalidPeriod):
        Period(date(2025, 2, 1), date(2025, 1, 31))
