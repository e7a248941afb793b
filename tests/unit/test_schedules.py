"""Schedules: cron and time zone validation, due times (catch-up once), keys, drift, periods."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.schedules import (
    DEFAULT_TIMEZONE,
    InvalidSchedule,
    drift_seconds,
    due_times,
    idempotency_key,
    is_drift_flagged,
    previous_month,
    validate_cron,
    validate_timezone,
)

OSLO = ZoneInfo("Europe/Oslo")


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expr", "normalised"),
    [
        ("0 3 * * *", "0 3 * * *"),
        ("  */15   * * * 1-5 ", "*/15 * * * 1-5"),
        ("0 6 1 * *", "0 6 1 * *"),
        ("@Daily", "@daily"),
    ],
)
def test_valid_cron(expr: str, normalised: str) -> None:
    assert validate_cron(expr) == normalised


@pytest.mark.parametrize(
    "expr",
    [
        "",
        "0 3 * *",
        "0 3 * * * *",
        "61 3 * * *",
        "@reboot",
        "0 3 * * *\x00",
        "rm -rf /",
        "0 3 * * *; drop",
        None,
    ],
)
def test_invalid_cron_names_the_field(expr: str) -> None:
    with pytest.raises(InvalidSchedule) as refused:
        validate_cron(expr)
    assert refused.value.field == "cron"


def test_timezone_defaults_to_oslo_and_refuses_unknown_names() -> None:
    assert validate_timezone() == DEFAULT_TIMEZONE == "Europe/Oslo"
    assert validate_timezone("") == DEFAULT_TIMEZONE
    assert validate_timezone("UTC") == "UTC"
    for bad in ["Mars/Olympus", "../../etc/passwd", "Europe/Oslo\n", "x" * 100]:
        with pytest.raises(InvalidSchedule) as refused:
            validate_timezone(bad)
        assert refused.value.field == "timezone"


def test_due_time_on_the_dot_is_included_and_in_utc() -> None:
    # 03:00 Oslo in winter is 02:00 UTC.
    assert due_times("0 3 * * *", "Europe/Oslo", utc(2025, 1, 10, 1), utc(2025, 1, 10, 2)) == [
        utc(2025, 1, 10, 2)
    ]
    assert due_times("0 3 * * *", "Europe/Oslo", utc(2025, 1, 10, 2), utc(2025, 1, 10, 3)) == []


def test_missed_ticks_are_caught_up_once_with_the_latest_time() -> None:
    after, until = utc(2025, 1, 1), utc(2025, 1, 5, 12)  # four 03:00 Oslo runs missed
    assert due_times("0 3 * * *", "Europe/Oslo", after, until) == [utc(2025, 1, 5, 2)]
    assert due_times("0 3 * * *", "Europe/Oslo", after, until, limit=10) == [
        utc(2025, 1, day, 2) for day in range(1, 6)
    ]


def test_empty_or_reversed_window_has_no_due_times() -> None:
    moment = utc(2025, 1, 1)
    assert due_times("* * * * *", "UTC", moment, moment) == []
    assert due_times("* * * * *", "UTC", moment, moment - timedelta(hours=1)) == []


def test_fraction_of_a_second_before_a_minute_is_not_due() -> None:
    until = utc(2025, 1, 1, 0, 0, 59) + timedelta(microseconds=500_000)
    assert due_times("* * * * *", "UTC", utc(2025, 1, 1), until, limit=5) == []


def test_summer_time_is_followed() -> None:
    # 03:00 Oslo in summer is 01:00 UTC.
    assert due_times("0 3 * * *", "Europe/Oslo", utc(2025, 7, 1), utc(2025, 7, 2)) == [
        utc(2025, 7, 1, 1)
    ]


def test_repeated_wall_time_in_autumn_fires_once() -> None:
    # 26 Oct 2025 02:30 Oslo happens twice (00:30 and 01:30 UTC); a daily sync runs once.
    times = due_times(
        "30 2 * * *", "Europe/Oslo", utc(2025, 10, 25, 12), utc(2025, 10, 26, 12), limit=5
    )
    assert times == [utc(2025, 10, 26, 0, 30)]
    # The second instant after the first already ran is not due again.
    assert (
        due_times(
            "30 2 * * *", "Europe/Oslo", utc(2025, 10, 26, 0, 45), utc(2025, 10, 26, 12), limit=5
        )
        == []
    )


def test_frequent_schedules_keep_running_through_the_repeated_hour() -> None:
    times = due_times(
        "*/30 * * * *", "Europe/Oslo", utc(2025, 10, 25, 23, 59), utc(2025, 10, 26, 2), limit=10
    )
    assert len(times) == 5  # 00:00, 00:30, 01:00, 01:30 and 02:00 UTC


@settings(max_examples=200, deadline=None)
@given(
    start=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
    hours=st.integers(0, 24 * 40),
    limit=st.integers(1, 5),
    cron=st.sampled_from(["0 3 * * *", "*/15 * * * *", "0 6 1 * *", "30 2 * * 0"]),
    tz=st.sampled_from(["Europe/Oslo", "UTC", "America/New_York"]),
)
def test_due_times_lie_in_the_window_ascending_and_limited(
    start: datetime, hours: int, limit: int, cron: str, tz: str
) -> None:
    until = start + timedelta(hours=hours)
    times = due_times(cron, tz, start, until, limit=limit)
    assert len(times) <= limit
    assert times == sorted(set(times))
    assert all(start < t <= until and t.tzinfo is UTC for t in times)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(InvalidSchedule) as refused:
        due_times("0 3 * * *", "UTC", datetime(2025, 1, 1), utc(2025, 1, 2))
    assert refused.value.field == "after"
    with pytest.raises(InvalidSchedule):
        due_times("0 3 * * *", "UTC", utc(2025, 1, 1), utc(2025, 1, 2), limit=0)


def test_idempotency_key_is_stable_across_time_zones_and_microseconds() -> None:
    org = uuid4()
    scheduled = utc(2025, 2, 1, 5)
    key = idempotency_key(org, "xledger", scheduled)
    assert key == f"sync:{org}:xledger:2025-02-01T05:00:00Z"
    assert idempotency_key(str(org), "xledger", scheduled.astimezone(OSLO)) == key
    assert idempotency_key(org, "dynamics", scheduled) != key
    assert idempotency_key(org, "xledger", scheduled + timedelta(minutes=1)) != key


def test_drift() -> None:
    scheduled = utc(2025, 1, 1, 3)
    assert drift_seconds(scheduled, scheduled + timedelta(minutes=6)) == 360.0
    assert drift_seconds(scheduled, scheduled - timedelta(seconds=2)) == -2.0
    assert is_drift_flagged(300.5) and is_drift_flagged(-400)
    assert not is_drift_flagged(300.0) and not is_drift_flagged(None)
    assert not is_drift_flagged(float("nan"))


@pytest.mark.parametrize(
    ("today", "period"),
    [
        (date(2025, 3, 15), (date(2025, 2, 1), date(2025, 2, 28))),
        (date(2024, 3, 1), (date(2024, 2, 1), date(2024, 2, 29))),
        (date(2025, 1, 31), (date(2024, 12, 1), date(2024, 12, 31))),
    ],
)
def test_previous_month(today: date, period: tuple[date, date]) -> None:
    assert previous_month(today) == period
