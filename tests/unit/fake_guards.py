"""The database guards the fake event store emulates, checked before anything is kept (as the
guard rows are written in the append's own transaction): one export run per period, a claim in
one run, one running sync per integration, one start per scheduled time, and no append on a
stale version. tests/integration/test_event_store_contract.py holds both stores to them."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from application.ports import (
    ClaimsTaken,
    ConcurrentChange,
    PeriodTaken,
    ScheduledSyncTaken,
    SyncAlreadyRunning,
)
from domain.export_run import ExportRun
from domain.sync_run import SyncRun


@dataclass
class FakeGuards:
    periods: dict[UUID, tuple[UUID, date, date]] = field(default_factory=dict)
    reserved: dict[UUID, UUID] = field(default_factory=dict)
    running_syncs: dict[UUID, tuple[UUID, str]] = field(default_factory=dict)
    scheduled_starts: dict[tuple[UUID, str, datetime], UUID] = field(default_factory=dict)

    def after(self, events: list[Any], versions: dict[UUID, int]) -> FakeGuards:
        """The guards once `events` are appended; raises what PostgreSQL would refuse with.
        `versions` holds each stored aggregate's last version."""
        guards = copy.deepcopy(self)
        expected = dict(versions)
        for e in events:
            if e.originator_version != expected.get(e.originator_id, 0) + 1:
                raise ConcurrentChange(e.originator_id)
            expected[e.originator_id] = e.originator_version
            guards._apply(e)
        return guards

    def _apply(self, e: Any) -> None:
        if isinstance(e, ExportRun.Requested):
            for run_id, (org, start, end) in self.periods.items():
                if org == e.org_id and start <= e.period_end and e.period_start <= end:
                    raise PeriodTaken(run_id)
            self.periods[e.originator_id] = (e.org_id, e.period_start, e.period_end)
        elif isinstance(e, ExportRun.ClaimsTaken):  # type: ignore[attr-defined]
            for claim_id in e.claims["claim_id"]:
                if UUID(claim_id) in self.reserved:
                    raise ClaimsTaken()
                self.reserved[UUID(claim_id)] = e.originator_id
        elif isinstance(e, ExportRun.Failed):  # type: ignore[attr-defined]
            self.periods.pop(e.originator_id, None)
            self.reserved = {k: v for k, v in self.reserved.items() if v != e.originator_id}
        elif isinstance(e, SyncRun.Started):
            self._sync_started(e)
        elif isinstance(e, SyncRun.Completed | SyncRun.Failed | SyncRun.Cancelled):
            self.running_syncs.pop(e.originator_id, None)

    def _sync_started(self, e: Any) -> None:
        integration = (e.org_id, e.integration_type)
        if e.scheduled_for is not None:  # the key first: a repeated tick fails on it
            key = (*integration, e.scheduled_for)
            if key in self.scheduled_starts:
                raise ScheduledSyncTaken(self.scheduled_starts[key])
            self.scheduled_starts[key] = e.originator_id
        for run_id, held in self.running_syncs.items():
            if held == integration:
                raise SyncAlreadyRunning(run_id)
        self.running_syncs[e.originator_id] = integration
