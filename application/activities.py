"""Activity records (source data for Bufdir reports) and where their attachments live."""

from __future__ import annotations

import datetime
import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

SAFE_SEGMENT = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class ActivityRecord:
    id: str
    date: date
    activity_type: str
    participants: int
    municipality: str
    description: str
    duration_minutes: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: Last day of an activity held over several days; None: held on `date` only.
    end_date: datetime.date | None = None
    #: How a one-to-one contact took place: in_person, phone, video or written.
    contact_mode: str | None = None


def attachment_path(org_id: UUID, activity_id: str, name: str) -> str:
    """attachments/{org}/{activity id}/{name}; an id that is not a safe path segment is
    replaced by its hash, so no id can climb out of its organisation's folder."""
    folder = activity_id
    if not SAFE_SEGMENT.match(activity_id) or ".." in activity_id:
        folder = "h-" + hashlib.sha256(activity_id.encode()).hexdigest()[:40]
    return f"attachments/{org_id}/{folder}/{name}"
