"""Pure rules of sync schedules: cron validation, due times, idempotency keys and drift.

A scheduler tick asks `due_times` which scheduled time to start now. Ticks can be missed (all
workers down, a deploy); the requirement is that such a gap is caught up *once*, so by default
(`limit=1`) only the latest due time in the window is returned and older missed ones are skipped.
`croniter` is pure computation, so it is fine in the domain layer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from domain.shared import DomainError

DEFAULT_TIMEZONE = "Europe/Oslo"
#: A run starting more than this many seconds away from its scheduled time is flagged (seed 003).
DRIFT_ALERT_SECONDS = 300.0
_MACROS = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
_CRON_CHARS = re.compile(r"[0-9A-Za-z*/,\- ?LW#@]+")
_TIMEZONE = re.compile(r"[A-Za-z0-9_+\-]+(?:/[A-Za-z0-9_+\-]+)*")


class InvalidSchedule(DomainError):
    """A schedule value is malformed; `field` names it (`cron`, `timezone`, ...)."""

    code = "invalid_schedule"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def validate_cron(expr: str) -> str:
    """The normalised 5-field cron expression (or macro such as `@daily`), or InvalidSchedule.

    Seconds fields are refused: schedules have minute resolution, which `due_times` relies on.
    """
    if not isinstance(expr, str):
        raise InvalidSchedule("cron", "must be a string")
    normalised = " ".join(expr.split())
    if not normalised or len(normalised) > 120 or not _CRON_CHARS.fullmatch(normalised):
        raise InvalidSchedule("cron", "must be a cron expression of 5 fields")
    if normalised.startswith("@"):
        if normalised.lower() not in _MACROS:
            raise InvalidSchedule("cron", f"unknown macro; use one of {sorted(_MACROS)}")
        return normalised.lower()
    if len(normalised.split(" ")) != 5 or not croniter.is_valid(normalised):
        raise InvalidSchedule("cron", "must be a valid cron expression of 5 fields")
    return normalised


def validate_timezone(name: str | None = None) -> str:
    """An IANA time zone name (default Europe/Oslo), or InvalidSchedule naming `timezone`."""
    if name is None or (isinstance(name, str) and not name.strip()):
        return DEFAULT_TIMEZONE
    if not isinstance(name, str):
        raise InvalidSchedule("timezone", "must be a string")
    name = name.strip(" ")
    if len(name) > 64 or not _TIMEZONE.fullmatch(name) or ".." in name:
        raise InvalidSchedule("timezone", "must be an IANA time zone name such as Europe/Oslo")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidSchedule("timezone", f"unknown time zone '{name}'") from error
    return name


def due_times(
    cron: str, tz: str, after: datetime, until: datetime, limit: int = 1
) -> list[datetime]:
    """The latest `limit` scheduled times in (after, until], ascending, as aware UTC datetimes.

    With the default `limit=1` a tick that finds several missed times starts only the newest:
    a gap is caught up once. Cron is read in local time of `tz`; when clocks go back and a wall
    time repeats, two consecutive firings at the same wall time count once (the first instant).
    """
    if limit < 1:
        raise InvalidSchedule("limit", "must be at least 1")
    after, until = _aware(after, "after"), _aware(until, "until")
    if until <= after:
        return []
    zone = ZoneInfo(validate_timezone(tz))
    found: list[datetime] = []  # descending
    for moment in _backwards(validate_cron(cron), zone, until):
        if moment > until:
            continue  # `until` had a fraction of a second before this minute
        same_wall_time = bool(found) and _wall(moment, zone) == _wall(found[-1], zone)
        if moment <= after:
            if same_wall_time:
                found.pop()  # that wall time already fired before the window
            break
        if same_wall_time:
            found[-1] = moment
        elif len(found) == limit:
            break
        else:
            found.append(moment)
    return sorted(found)


def idempotency_key(org_id: UUID | str, integration_type: str, scheduled_for: datetime) -> str:
    """One key per organisation, integration and scheduled instant: a late or repeated tick for
    the same scheduled time finds the run already started instead of starting another."""
    instant = _aware(scheduled_for, "scheduled_for").replace(microsecond=0)
    return f"sync:{UUID(str(org_id))}:{integration_type}:{instant.strftime('%Y-%m-%dT%H:%M:%SZ')}"


def drift_seconds(scheduled: datetime, actual: datetime) -> float:
    """Seconds `actual` is later than `scheduled` (negative when early)."""
    return (_aware(actual, "actual") - _aware(scheduled, "scheduled")).total_seconds()


def is_drift_flagged(drift: float | None) -> bool:
    """Whether a start this far from its schedule must be alerted on (more than 5 minutes)."""
    return drift is not None and math.isfinite(drift) and abs(drift) > DRIFT_ALERT_SECONDS


def previous_month(today: date) -> tuple[date, date]:
    """First and last day of the month before `today`: the period a monthly accounting sync
    exports, so a re-run of a late sync maps to the same period (and idempotency key)."""
    last = today.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def _backwards(cron: str, zone: ZoneInfo, until: datetime) -> Iterator[datetime]:
    """Scheduled instants at or before `until`, newest first, in UTC."""
    # croniter's get_prev excludes its start; schedules have minute resolution, so +1 s is safe.
    start = until.astimezone(zone) + timedelta(seconds=1)
    iterator = croniter(cron, start)
    while True:
        yield iterator.get_prev(datetime).astimezone(UTC)


def _wall(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def _aware(value: datetime, field: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise InvalidSchedule(field, "must be a timezone-aware datetime")
    return value.astimezone(UTC)
