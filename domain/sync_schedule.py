"""SyncSchedule: when an organisation's integration syncs, as an audited aggregate.

One schedule per organisation and integration type, so its id is derived from both (uuid5): a
second PUT finds the same aggregate and a removed schedule can be configured again. The events
carry the organisation and integration type so the `sync_schedules` table can be written from
them in the append's own transaction (infrastructure/sync_guards.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.schedules import InvalidSchedule, validate_cron, validate_timezone
from domain.shared import Actor
from domain.sync_run import validate_integration_type

#: Which accounting period a scheduled accounting sync exports.
PERIODS = frozenset({"previous_month"})
DEFAULT_PERIOD = "previous_month"
_NAMESPACE = uuid5(NAMESPACE_URL, "export-service:sync-schedule")
_ARCHIVE_NAMESPACE = uuid5(NAMESPACE_URL, "export-service:sync-log-archive")


def schedule_id(org_id: UUID, integration_type: str) -> UUID:
    return uuid5(_NAMESPACE, f"{org_id}/{validate_integration_type(integration_type)}")


def validate_period(value: Any) -> str:
    if value is None:
        return DEFAULT_PERIOD
    if not isinstance(value, str) or value not in PERIODS:
        raise InvalidSchedule("period", f"must be one of {sorted(PERIODS)}")
    return value


class SyncSchedule(Aggregate):
    """The schedule's configuration is whatever its last Configured event says."""

    @event("Created")
    def __init__(self, org_id: UUID, integration_type: str, actor: dict[str, str]) -> None:
        self.org_id = org_id
        self.integration_type = integration_type
        self.active = False
        self.cron = ""
        self.timezone = ""
        self.period = DEFAULT_PERIOD
        self.configured_at: datetime | None = None

    @classmethod
    def create(cls, org_id: UUID, integration_type: str, actor: Actor) -> SyncSchedule:
        return cls._create(
            cls.Created,
            id=schedule_id(org_id, integration_type),
            org_id=org_id,
            integration_type=validate_integration_type(integration_type),
            actor=actor.as_event_data(),
        )

    def configure(self, cron: str, timezone: str | None, period: str | None, actor: Actor) -> bool:
        """Validate and record; False (no event) when nothing changes."""
        values = (validate_cron(cron), validate_timezone(timezone), validate_period(period))
        if self.active and values == (self.cron, self.timezone, self.period):
            return False
        self._configured(
            org_id=self.org_id,
            integration_type=self.integration_type,
            cron=values[0],
            timezone=values[1],
            period=values[2],
            actor=actor.as_event_data(),
        )
        return True

    def remove(self, actor: Actor) -> None:
        self._removed(
            org_id=self.org_id, integration_type=self.integration_type, actor=actor.as_event_data()
        )

    @event("Configured")
    def _configured(
        self,
        org_id: UUID,
        integration_type: str,
        cron: str,
        timezone: str,
        period: str,
        actor: dict[str, str],
    ) -> None:
        self.active = True
        self.cron, self.timezone, self.period = cron, timezone, period
        self.configured_at = self.modified_on

    @event("Removed")
    def _removed(self, org_id: UUID, integration_type: str, actor: dict[str, str]) -> None:
        self.active = False


def archive_id(org_id: UUID) -> UUID:
    return uuid5(_ARCHIVE_NAMESPACE, str(org_id))


class SyncLogArchive(Aggregate):
    """An organisation's archive cut-off of the sync run log, as facts.

    The daily job records a later cut-off; the sync_run_log projection moves finished runs that
    started before it into the archive table. Because the cut-off is an event, a rebuild of the
    read model puts every row back where it was.
    """

    @event("Created")
    def __init__(self, org_id: UUID, actor: dict[str, str]) -> None:
        self.org_id = org_id
        self.cutoff: datetime | None = None

    @classmethod
    def create(cls, org_id: UUID, actor: Actor) -> SyncLogArchive:
        return cls._create(
            cls.Created,
            id=archive_id(org_id),
            org_id=org_id,
            actor=actor.as_event_data(),
        )

    def advance(self, cutoff: datetime, actor: Actor) -> bool:
        """Move the cut-off forward (never back); False when it would not move."""
        if cutoff.utcoffset() is None:
            raise InvalidSchedule("cutoff", "must be a timezone-aware datetime")
        if self.cutoff is not None and cutoff <= self.cutoff:
            return False
        self._advanced(org_id=self.org_id, cutoff=cutoff, actor=actor.as_event_data())
        return True

    @event("CutoffAdvanced")
    def _advanced(self, org_id: UUID, cutoff: datetime, actor: dict[str, str]) -> None:
        self.cutoff = cutoff
