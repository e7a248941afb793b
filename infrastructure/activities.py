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
from infrastructure.sql import queries

STREAM_BATCH = 2000
ID_CHUNK = 1000

SQL = queries("activities")


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
                SQL["upsert"],
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
            row = conn.execute(SQL["exists"], {"org_id": org_id, "id": activity_id}).fetchone()
        return row is not None

    def count(self, org_id: UUID, start: date, end: date) -> int:
        with self.pool.connection() as conn:
            row = conn.execute(SQL["count_period"], {"org_id": org_id, "start": start, "end": end}
                               ).fetchone()
        return int(row[0]) if row else 0

    def stream(self, org_id: UUID, start: date, end: date) -> Iterator[dict[str, Any]]:
        name = f"activities_{uuid.uuid4().hex[:12]}"
        with self.pool.connection() as conn, conn.transaction(), conn.cursor(
            name=name, row_factory=dict_row
        ) as cur:
            cur.itersize = STREAM_BATCH
            cur.execute(SQL["period"], {"org_id": org_id, "start": start, "end": end})
            for row in cur:
                yield _as_activity(row)

    def add_attachment(
        self, org_id: UUID, activity_id: str, name: str, stored: StoredFile
    ) -> None:
        with self.pool.connection() as conn:
            conn.execute(SQL["upsert_attachment"], {
                "org_id": org_id, "activity_id": activity_id, "name": name, "path": stored.path,
                "content_type": stored.content_type, "size": stored.size_bytes,
                "sha256": stored.sha256,
            })

    def attachments(
        self, org_id: UUID, activity_ids: Iterable[str]
    ) -> Iterator[tuple[str, str, str]]:
        """(activity id, name, local path); files on non-local storage are copied to a temp
        file that is removed once the consumer asks for the next one."""
        ids = list(activity_ids)
        for i in range(0, len(ids), ID_CHUNK):
            with self.pool.connection() as conn:
                rows = conn.execute(
                    SQL["attachments"], {"org_id": org_id, "ids": ids[i : i + ID_CHUNK]}
                ).fetchall()
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
