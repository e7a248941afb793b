"""Events are encoded by msgspec into exactly the bytes the event library's JSON transcoder
writes (infrastructure/event_json.py), and new runs get time-ordered ids (domain/shared.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import JSONTranscoder, Mapper
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.export_run import ExportRun, ExportTarget
from domain.shared import Actor, Period, new_id
from domain.sync_run import SyncRun
from infrastructure.event_json import EventJSON
from infrastructure.event_store import EventLog


def registered(transcoder: JSONTranscoder) -> JSONTranscoder:
    """`transcoder` with the transcodings the event log registers."""
    EventLog.register_transcodings(EventLog.__new__(EventLog), transcoder)
    return transcoder


LIBRARY = registered(JSONTranscoder())
FAST = registered(EventJSON())


class Colour(StrEnum):
    RED = "red"


scalars = st.one_of(
    st.text(), st.integers(), st.booleans(), st.none(), st.uuids(), st.dates(),
    st.datetimes(), st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=2))])),
    st.decimals(allow_nan=False), st.floats(allow_nan=False),
    st.sampled_from(list(Colour)),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(st.text(max_size=8), inner, max_size=4),
        st.dictionaries(st.one_of(st.integers(), st.floats(allow_nan=False), st.booleans(),
                                  st.none()), inner, max_size=2),
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(max_size=12), values, max_size=6))
def test_the_same_bytes_as_the_librarys_encoder(state: dict[str, Any]) -> None:
    try:
        expected = LIBRARY.encode(state)
    except UnicodeEncodeError:  # a lone surrogate: refused by both
        with pytest.raises(UnicodeEncodeError):
            FAST.encode(state)
        return
    assert FAST.encode(state) == expected
    assert FAST.decode(FAST.encode(state)) == LIBRARY.decode(expected)


def test_an_event_is_encoded_without_the_librarys_encoder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run's Requested event (ids, dates, a timestamp, nested text) takes msgspec's path:
    the library's encoder, made to fail, is not called; the stored event reads back whole."""
    org = new_id()
    run = ExportRun.request(org, Period(date(2025, 1, 1), date(2025, 1, 31)),
                            ExportTarget.XLEDGER, Actor("user-1", org, "req-1"))
    mapper = Mapper(FAST)
    expected = Mapper(LIBRARY).to_stored_event(run.pending_events[0])

    def refuse(self: JSONTranscoder, obj: Any) -> bytes:
        raise AssertionError("the library's encoder was used")

    monkeypatch.setattr(JSONTranscoder, "encode", refuse)
    stored = mapper.to_stored_event(run.pending_events[0])
    assert stored.state == expected.state
    read = mapper.to_domain_event(stored)
    assert read.__dict__ == run.pending_events[0].__dict__


def test_new_runs_get_time_ordered_ids() -> None:
    """Ids of runs made one after another sort in the order they were made (UUID version 7),
    so their rows go to the end of every index keyed by them."""
    actor = Actor("user-1", new_id(), "req-1")
    period = Period(date(2025, 1, 1), date(2025, 1, 31))
    ids: list[UUID] = []
    for _ in range(50):
        ids.append(ExportRun.request(actor.org_id, period, ExportTarget.XLEDGER, actor).id)
        ids.append(SyncRun.start_new(actor.org_id, "xledger", "manual", actor).id)
    assert all(i.version == 7 for i in ids)
    assert len(set(ids)) == len(ids)
    assert [i.bytes[:6] for i in ids] == sorted(i.bytes[:6] for i in ids)  # their milliseconds
    made_at = datetime.fromtimestamp(int.from_bytes(ids[-1].bytes[:6]) / 1000, UTC)
    assert abs(made_at - datetime.now(UTC)) < timedelta(minutes=1)
