"""Input that would otherwise reach the database as something it cannot store: refused as 422.

JSON as Python reads it accepts `NaN`, `Infinity` and numbers too large for a float (`1e400`
becomes infinity); none of them is a value any field of ours can hold. Dates are kept within
1900–2200 (after conversion to UTC): outside that no period can ever contain them.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, AwareDatetime

EARLIEST = date(1900, 1, 1)
LATEST = date(2200, 12, 31)
RANGE_MESSAGE = "must lie between 1900-01-01 and 2200-12-31"


class _NonFinite:
    """What `NaN`, `Infinity` and `-Infinity` parse to, so their place can be named."""


def _non_finite_path(value: Any, path: tuple[str | int, ...]) -> tuple[str | int, ...] | None:
    if isinstance(value, _NonFinite) or (isinstance(value, float) and not math.isfinite(value)):
        return path
    items: Any = value.items() if isinstance(value, dict) else (
        enumerate(value) if isinstance(value, list) else ()
    )
    for key, item in items:
        found = _non_finite_path(item, (*path, key))
        if found is not None:
            return found
    return None


async def refuse_non_finite_numbers(request: Request) -> None:
    """An app-wide dependency: a JSON body with a number that is not finite is a 422 naming
    where it stands. The body is read once (FastAPI caches it) and only for JSON requests."""
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    if "json" not in request.headers.get("content-type", "json"):
        return
    body = await request.body()
    if not body:
        return
    try:
        parsed = json.loads(body, parse_constant=lambda _: _NonFinite())
    except (ValueError, RecursionError):
        return  # FastAPI answers malformed JSON itself
    path = _non_finite_path(parsed, ("body",))
    if path is not None:
        raise RequestValidationError(
            [{"loc": path, "msg": "must be a finite number", "type": "finite_number"}]
        )


def in_range_date(value: date) -> date:
    if not EARLIEST <= value <= LATEST:
        raise ValueError(RANGE_MESSAGE)
    return value


def in_range_utc(value: datetime) -> datetime:
    """The instant in UTC must lie in range; `0001-01-01T00:00:00+14:00` is year 0 in UTC."""
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError(RANGE_MESSAGE) from None
    in_range_date(utc.date())
    return value


BoundedDatetime = Annotated[AwareDatetime, AfterValidator(in_range_utc)]
