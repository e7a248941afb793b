"""ExportRun.Requested v2 (`requested_via`) still reads v1 events: the upcast, alone and mapped."""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from uuid import uuid4

from eventsourcing.persistence import (
    DatetimeAsISO,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    UUIDAsHex,
)

from domain.export_run import ExportRun, ExportRunStatus, ExportTarget
from domain.shared import Actor, Period
from infrastructure.event_store import DateAsISO

ACTOR = Actor("user-1", uuid4(), "req-1")


def mapper() -> Mapper[Any]:
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DatetimeAsISO(), DateAsISO()):
        transcoder.register(transcoding)
    return Mapper(transcoder)


def new_run() -> ExportRun:
    return ExportRun.request(ACTOR.org_id, Period(date(2025, 1, 1), date(2025, 1, 31)),
                             ExportTarget.XLEDGER, ACTOR)


def test_upcast_v1_v2_adds_requested_via_api() -> None:
    state: dict[str, Any] = {"org_id": "x", "target": "xledger"}
    ExportRun.Requested.upcast_v1_v2(state)
    assert state == {"org_id": "x", "target": "xledger", "requested_via": "api"}
    assert ExportRun.Requested.class_version == 2


def test_new_events_are_written_as_v2() -> None:
    stored = mapper().to_stored_event(new_run().collect_events()[0])
    state = json.loads(stored.state)
    assert state["class_version"] == 2 and state["requested_via"] == "api"
    assert stored.topic == "domain.export_run:ExportRun.Requested"


def test_a_v1_event_reads_back_and_replays() -> None:
    m = mapper()
    run = new_run()
    pending = run.collect_events()
    stored = m.to_stored_event(pending[0])
    old_state = json.loads(stored.state)
    del old_state["class_version"], old_state["requested_via"]  # as the code before v2 wrote it
    v1 = StoredEvent(stored.originator_id, stored.originator_version, stored.topic,
                     json.dumps(old_state).encode())
    event = m.to_domain_event(v1)
    assert isinstance(event, ExportRun.Requested)
    assert event.requested_via == "api"
    replayed = event.mutate(None)
    assert isinstance(replayed, ExportRun)
    assert replayed.status is ExportRunStatus.PENDING and replayed.requested_via == "api"
    assert replayed.period_start == date(2025, 1, 1) and replayed.requested_by == ACTOR.as_event_data()
