"""Activity records (source data for Bufdir reports) and their attachments, in PostgreSQL.

`stream` reads through a server-side (named) cursor in (date, id) order, a batch at a time, so
an export of tens of thousands of activities never holds them all in memory.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from typing import Any
from uuid import UUID

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from application.activities import ActivityRecord
from application.ports import StoredFile
from infrastructure.files import FsspecStorage

STREAM_BATCH = 2000
ID_CHUNK = 1000

UPSERT = """
INSERT INTO activities (org_id, id, date, activity_type, participants, municipality,
                        description, duration_minutes, extra, end_date, contact_mode)
SELECT %(org_id)s, * FROM unnest(%(ids)s::text[], %(dates)s::date[], %(types)s::text[],
                               %(participants)s::int[], %(municipalities)s::text[],
                               %(descr)s::text[], %(durations)s::int[], %(extras)s::jsonb[],
                               %(end_dates)s::date[], %(contact_modes)s::text[])
ON CONFLICT (org_id, id) DO UPDATE SET
    date = EXCLUDED.date, activity_type = EXCLUDED.activity_type,
    participants = EXCLUDED.participants, municipality = EXCLUDED.municipality,
    description = EXCLUDED.description, duration_minutes = EXCLUDED.duration_minutes,
    extra = EXCLUDED.extra, end_date = EXCLUDED.end_date,
    contact_mode = EXCLUDED.contact_mode, updated_at = now()
"""

SELECT_PERIOD = """
SELECT id, date, activity_type, participants, municipality, description, duration_minutes, extra,
       end_date, contact_mode
FROM activities WHERE org_id = %(org_id)s AND date BETWEEN %(start)s AND %(end)s
ORDER BY date, id
"""

COUNT_PERIOD = (
    "SELECT count(*) FROM activities WHERE org_id = %(org_id)s "
    "AND date BETWEEN %(start)s AND %(end)s"
)

UPSERT_ATTACHMENT = """
INSERT INTO activity_attachments (org_id, activity_id, name, storage_path, content_type,
                                  size_bytes, sha256)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (org_id, activity_id, name) DO UPDATE SET
    storage_path = EXCLUDED.storage_path, content_type = EXCLUDED.content_type,
    size_bytes = EXCLUDED.size_bytes, sha256 = EXCLUDED.sha256, uploaded_at = now()
"""

SELECT_ATTACHMENTS = """
SELECT activity_id, name, storage_path FROM activity_attachments
WHERE org_id = %s AND activity_id = ANY(%s) ORDER BY activity_id, name
"""


def _as_activity(row: dict[str, Any]) -> dict[str, Any]:
    """The dict the Bufdir rules read: standard fields, with extra fields beside them."""
    extra = row.pop("extra") or {}
    return {**{k: v for k, v in extra.items() if k not in row}, **row}


class PostgresActivities:
    """Implements the ActivityRecords port (application.ports): the import side and the reads."""

    def __init__(self, pool: ConnectionPool, files: FsspecStorage) -> None:
        self.pool = pool
        self.files = files

    def upsert(self, org_id: UUID, activities: Sequence[ActivityRecord]) -> int:
        if not activities:
            return 0
        with self.pool.connection() as conn:
            conn.execute(
                UPSERT,
                {
                    "org_id": org_id,
                    "ids": [a.id for a in activities],
                    "dates": [a.date for a in activities],
                    "types": [a.activity_type for a in activities],
                    "participants": [a.participants for a in activities],
                    "municipalities": [a.municipality for a in activities],
                    "descr": [a.description for a in activities],
                    "durations": [a.duration_minutes for a in activities],
                    "extras": [Jsonb(a.extra) for a in activities],
                    "end_dates": [a.end_date for a in activities],
                    "contact_modes": [a.contact_mode for a in activities],
                },
            )
        return len(activities)

    def exists(self, org_id: UUID, activity_id: str) -> bool:
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT 1 FROM activities WHERE org_id = %s AND id = %s", (org_id, activity_id)
            ).fetchone()
        return row is not None

    def count(self, org_id: UUID, start: date, end: date) -> int:
        with self.pool.connection() as conn:
            row = conn.execute(COUNT_PERIOD, {"org_id": org_id, "start": start, "end": end}
                               ).fetchone()
        return int(row[0]) if row else 0

    def stream(self, org_id: UUID, start: date, end: date) -> Iterator[dict[str, Any]]:
        name = f"activities_{uuid.uuid4().hex[:12]}"
        with self.pool.connection() as conn, conn.transaction(), conn.cursor(
            name=name, row_factory=dict_row
        ) as cur:
            cur.itersize = STREAM_BATCH
            cur.execute(SELECT_PERIOD, {"org_id": org_id, "start": start, "end": end})
            for row in cur:
                yield _as_activity(row)

    def add_attachment(
        self, org_id: UUID, activity_id: str, name: str, stored: StoredFile
    ) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                UPSERT_ATTACHMENT,
                (org_id, activity_id, name, stored.path, stored.content_type,
                 stored.size_bytes, stored.sha256),
            )

    def attachments(
        self, org_id: UUID, activity_ids: Iterable[str]
    ) -> Iterator[tuple[str, str, str]]:
        """(activity id, name, local path); files on non-local storage are copied to a temp
        file that is removed once the consumer asks for the next one."""
        ids = list(activity_ids)
        for i in range(0, len(ids), ID_CHUNK):
            with self.pool.connection() as conn:
                rows = conn.execute(SELECT_ATTACHMENTS, (org_id, ids[i : i + ID_CHUNK])).fetchall()
            for activity_id, name, path in rows:
                yield from self._local(activity_id, name, path)

    def _local(self, activity_id: str, name: str, path: str) -> Iterator[tuple[str, str, str]]:
        protocol = self.files.fs.protocol
        protocols = protocol if isinstance(protocol, tuple) else (protocol,)
        if "file" in protocols or "local" in protocols:
            yield activity_id, name, self.files._full(path)
            return
        fd, tmp = tempfile.mkstemp(prefix="bufdir-attachment-")
        try:
            with os.fdopen(fd, "wb") as out, self.files.open(path) as src:
                shutil.copyfileobj(src, out, 1024 * 1024)
            yield activity_id, name, tmp
        finally:
            os.unlink(tmp)
