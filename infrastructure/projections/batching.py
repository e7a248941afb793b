"""One read model kept up with the log a page at a time.

Each page (about a thousand events) is one transaction: lock the projection's tracking row,
read the page, let the read model write, move the tracking row to the page's last event,
commit. Events the read model does not handle are neither sent nor decoded; the position still
moves past them. The same loop serves a rebuild (as fast as it can) and live catch-up (woken by
the appends' NOTIFY, with a short poll as a fallback).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
from eventsourcing.persistence import Mapper, StoredEvent

from infrastructure.event_store import APP_NAME, EVENTS_TABLE
from infrastructure.projections.base import ReadModel, Row
from infrastructure.sql.composed import composed

PAGE_SIZE = 1000
#: How long a live runner waits for a NOTIFY before looking at the log anyway: only a fallback
#: (every append notifies, and notifications wait on the connection until read), so idle
#: runners do not keep reading the log.
POLL_SECONDS = 5.0
#: How often an idle runner looks whether it is being stopped (no query: a wait on its socket).
WAKE_SECONDS = 0.25


class BatchRunner:
    """Applies the log to one read model; `position` is the last event committed for it."""

    def __init__(
        self, model: ReadModel, conninfo: str, mapper: Mapper[Any], page_size: int = PAGE_SIZE
    ) -> None:
        self.model = model
        self.conninfo = conninfo
        self.mapper = mapper
        self.page_size = page_size
        self.position = 0
        #: Set while the runner is down (its last step failed: the database is gone, say) and
        #: until a step succeeds again: a reader then does not wait for it (`wait`).
        self.stalled = False
        self.changed = threading.Condition()
        self.conn: psycopg.Connection[Any] | None = None
        self.sql = composed("projections", tracking=f"{model.name}_tracking",
                            events=EVENTS_TABLE)
        self.params: dict[str, Any] = {
            "app": APP_NAME, "size": page_size, "every": model.every_event,
            "topics": model.topics() + model.bare_topics(), "bare": model.bare_topics(),
        }

    def open(self) -> psycopg.Connection[Any]:
        if self.conn is None or self.conn.closed:
            self.conn = psycopg.connect(self.conninfo, autocommit=True)
            self.conn.execute(self.sql["listen"])
            self.model.forget()
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def step(self) -> int:
        """Apply the next page; returns how many events it covered (0: the log has no more)."""
        conn = self.open()
        try:
            with conn.transaction():
                conn.execute(self.sql["claim_position"], self.params)
                locked = conn.execute(self.sql["lock_position"], self.params).fetchone()
                start = int(locked[0]) if locked else 0
                if start != self.position:  # another runner or a rebuild moved it
                    self.model.forget()
                # Binary results: the payloads arrive as bytes, not as hex text to decode.
                rows = conn.execute(self.sql["page"], {**self.params, "after": start},
                                    binary=True).fetchall()
                if not rows:
                    self._advance(start)
                    return 0
                end = int(rows[-1][0])
                events = [Row._make(r) for r in rows[:-1]]
                if events:
                    self.model.write(conn, events, self.decode)
                conn.execute(self.sql["advance_position"], {**self.params, "position": end})
        except BaseException:
            self.model.forget()  # what it remembered may include the rolled-back page
            raise
        self._advance(end)
        return end - start

    def decode(self, row: Row) -> Any:
        assert row.state is not None, "bare rows are never decoded"
        return self.mapper.to_domain_event(
            StoredEvent(row.originator_id, row.originator_version, row.topic, bytes(row.state))
        )

    def _advance(self, position: int) -> None:
        with self.changed:
            self.position = position
            self.stalled = False
            self.changed.notify_all()

    def stall(self) -> None:
        """Down until a step succeeds: wake the readers waiting for it (they read what the read
        model holds, or meet the database's absence themselves, without waiting in vain)."""
        with self.changed:
            self.stalled = True
            self.changed.notify_all()

    def catch_up(self, head: int) -> None:
        """Apply pages until the position reaches `head` (or the log ends)."""
        while self.position < head and self.step():
            pass

    def idle(self, stopping: threading.Event | None = None) -> None:
        """Wait for an append's NOTIFY (or the poll interval), then return; early when
        `stopping` is set (it is looked at every WAKE_SECONDS, without a query)."""
        conn = self.open()
        deadline = time.monotonic() + POLL_SECONDS
        while time.monotonic() < deadline and not (stopping is not None and stopping.is_set()):
            for _ in conn.notifies(timeout=WAKE_SECONDS, stop_after=1):
                return

    def wait(self, notification_id: int, timeout: float) -> bool:
        """Block until `notification_id` is in the read model; False if `timeout` passed or
        the runner is down (`stall`)."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while self.position < notification_id:
                left = deadline - time.monotonic()
                if left <= 0 or self.stalled:
                    return False
                self.changed.wait(left)
        return True

    def reset(self) -> None:
        """Empty the read model and its position, so the next pages rebuild it from event 1."""
        if self.model.append_only:
            return
        conn = self.open()
        with conn.transaction():
            conn.execute(self.sql["claim_position"], self.params)
            conn.execute(self.sql["lock_position"], self.params)
            self.model.reset(conn)
            conn.execute(self.sql["forget_position"], self.params)
        self.model.forget()
        self._advance(0)
