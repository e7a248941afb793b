"""Shared fixtures: one PostgreSQL server per test session and a fresh database per test.

With TEST_DATABASE_URL (or DATABASE_URL) set, that server is used (CI points it at a
PostgreSQL 15 cluster); otherwise an embedded PostgreSQL is started in a temporary directory.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest
from psycopg import sql

from infrastructure.database import with_dbname

#: Marks the embedded servers of this test run (all xdist workers inherit it).
RUN_MARK = "es-test-pg-" + os.environ.setdefault("ES_TEST_RUN", uuid.uuid4().hex[:10])

# One template per xdist worker: workers may share one server (TEST_DATABASE_URL).
TEMPLATE = "es_test_template_" + os.environ.get("PYTEST_XDIST_WORKER", "main")

# A command or bootstrap a test runs without naming a data directory gets one of this run's,
# never the default `.data` of the working directory (the checkout), where an embedded
# PostgreSQL started by a test would outlive the run unseen.
if "EXPORT_SERVICE_DATA_DIR" not in os.environ:
    os.environ["EXPORT_SERVICE_DATA_DIR"] = tempfile.mkdtemp(prefix=RUN_MARK + "-data-")


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    url = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    from infrastructure.database import start_embedded, stop_embedded

    tmp = Path(tempfile.mkdtemp(prefix=RUN_MARK + "-"))
    try:
        yield start_embedded(tmp)
    finally:
        stop_embedded(tmp)  # before its directory goes: a server without one never stops
        shutil.rmtree(tmp, ignore_errors=True)


def postgres_left_behind(marks: list[str]) -> list[psutil.Process]:
    """PostgreSQL server processes whose command line names one of `marks` (their data dir)."""
    found = []
    for p in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(p.info["cmdline"] or [])
        if p.info["name"] in ("postgres", "postmaster") and any(m in cmdline for m in marks):
            found.append(p)
    return found


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The run must leave no PostgreSQL behind: neither the session servers nor any started by
    a test under its temporary directory. Checked once, after every xdist worker ended."""
    if hasattr(session.config, "workerinput"):
        return
    marks = [RUN_MARK, str(session.config._tmp_path_factory.getbasetemp())]
    deadline = time.monotonic() + 15  # a server asked to stop may take a moment to exit
    left = postgres_left_behind(marks)
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = postgres_left_behind(marks)
    if left:
        pids = ", ".join(str(p.pid) for p in left)
        session.config.get_terminal_writer().line(
            f"FAILED: the test run left PostgreSQL processes behind (pids {pids})", red=True
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif os.environ["EXPORT_SERVICE_DATA_DIR"].startswith(tempfile.gettempdir() + "/" + RUN_MARK):
        shutil.rmtree(os.environ["EXPORT_SERVICE_DATA_DIR"], ignore_errors=True)


@pytest.fixture(scope="session")
def template_db(pg_admin_url: str) -> str:
    """A migrated database that every test database is cloned from."""
    from infrastructure.migrations import migrate

    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(TEMPLATE)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE)))
    url = with_dbname(pg_admin_url, TEMPLATE)
    migrate(url)
    return url


def create_database(admin_url: str, template: str | None = None) -> str:
    name = f"es_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            query = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        conn.execute(query)
    return with_dbname(admin_url, name)


def drop_database(admin_url: str, url: str) -> None:
    name = url.rsplit("/", 1)[-1].split("?")[0]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def db_url(pg_admin_url: str, template_db: str) -> Iterator[str]:
    """A fresh, migrated database for one test."""
    url = create_database(pg_admin_url, TEMPLATE)
    yield url
    drop_database(pg_admin_url, url)


@pytest.fixture
def empty_db_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh database with no migrations applied."""
    url = create_database(pg_admin_url)
    yield url
    drop_database(pg_admin_url, url)
