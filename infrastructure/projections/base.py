"""What every read model shares: rows and tracking in one transaction, reset for a rebuild."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder

Statement = tuple[str, Any]


class TrackedView(PostgresTrackingRecorder):
    """A PostgreSQL read model; `tables` are emptied by `reset` before a rebuild."""

    tables: Sequence[str] = ()

    def apply(self, statements: Sequence[Statement], tracking: Tracking) -> None:
        """Write the rows an event implies and advance the position, atomically."""
        with self.datastore.transaction(commit=True) as curs:
            for sql, params in statements:
                curs.execute(sql, params)
            self._insert_tracking(curs, tracking)

    def reset(self) -> None:
        with self.datastore.transaction(commit=True) as curs:
            for table in self.tables:
                curs.execute(f"DELETE FROM {table}")  # noqa: S608 - names are class constants
            curs.execute(
                f"DELETE FROM {self.tracking_table_name} "  # noqa: S608
                "WHERE application_name <> '__migration__'"
            )

    def position(self, application_name: str) -> int:
        return self.max_tracking_id(application_name) or 0
