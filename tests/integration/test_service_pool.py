"""The service pool lends a connection that was just handed back without a check (one round
trip less per read) and checks one that sat idle, so a server that went away meanwhile costs
no request."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from infrastructure import database
from infrastructure.database import check_unless_recently_used, mark_returned


@pytest.fixture
def pool(db_url: str) -> Iterator[ConnectionPool]:
    with ConnectionPool(db_url, min_size=1, max_size=1, check=check_unless_recently_used,
                        reset=mark_returned, timeout=5) as pool:
        yield pool


def server_pid(pool: ConnectionPool) -> int:
    with pool.connection() as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    return int(row[0])


def kill(db_url: str, pid: int) -> None:
    with psycopg.connect(db_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_an_idle_connection_is_checked_and_replaced(
        db_url: str, pool: ConnectionPool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(database, "RECENTLY_USED_SECONDS", 0.0)
    before = server_pid(pool)
    kill(db_url, before)
    after = server_pid(pool)  # the check found it gone: a new connection answered
    assert after != before


def test_a_recently_used_connection_is_lent_without_a_check(
        db_url: str, pool: ConnectionPool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(database, "RECENTLY_USED_SECONDS", 3600.0)
    before = server_pid(pool)
    kill(db_url, before)
    # Not checked, so the read meets the lost connection (the service answers 503 to it)...
    with pytest.raises(psycopg.OperationalError):
        server_pid(pool)
    # ...and the pool replaces it at once: the next read works.
    assert server_pid(pool) != before
