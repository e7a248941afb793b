"""An analyst through PgBouncer (transaction pooling) sees their organisation; a shared login none.

Runs a real PgBouncer on 127.0.0.1 when the binary is installed (Debian package `pgbouncer`).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.integration.analytics_helpers import Analysts, analysts, seed_org

__all__ = ["analysts"]

pytestmark = pytest.mark.skipif(shutil.which("pgbouncer") is None, reason="pgbouncer not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server(db_url: str) -> dict[str, Any]:
    """Where PgBouncer finds the test server: host (or socket directory), port, database."""
    params = conninfo_to_dict(db_url)
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT current_setting('port'), current_database()").fetchone()
    assert row is not None
    return {"host": params.get("host") or "127.0.0.1", "port": row[0], "dbname": row[1]}


@pytest.fixture
def bouncer() -> Iterator[tuple[Path, int]]:
    """A directory PgBouncer may use (it never runs as root) and a free port."""
    tmp = Path(tempfile.mkdtemp(prefix="es-test-pgbouncer-"))
    tmp.chmod(0o755)
    try:
        yield tmp, free_port()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def start(tmp: Path, port: int, db_url: str, users: dict[str, str], shared: str) -> Any:
    where = server(db_url)
    target = f"host={where['host']} port={where['port']} dbname={where['dbname']}"
    (tmp / "users.txt").write_text(
        "".join(f'"{u}" "{v}"\n' for u, v in users.items()), encoding="utf-8")
    run_as = ""
    if os.geteuid() == 0:  # PgBouncer refuses root: run it as the server's user (its socket)
        host = Path(where["host"])
        user = pwd.getpwuid(host.stat().st_uid).pw_name if host.is_dir() else "nobody"
        run_as = f"user = {user}\n"
        for f in [tmp, *tmp.iterdir()]:
            shutil.chown(f, user)
    (tmp / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"analytics = {target}\n"
        f"analytics_shared = {target} user={shared}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = scram-sha-256\nauth_file = {tmp / 'users.txt'}\n"
        f"pool_mode = transaction\nlogfile = {tmp / 'pgbouncer.log'}\n"
        f"pidfile = {tmp / 'pgbouncer.pid'}\n{run_as}",
        encoding="utf-8",
    )
    proc = subprocess.Popen(["pgbouncer", str(tmp / "pgbouncer.ini")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    log = tmp / "pgbouncer.log"
    raise AssertionError("pgbouncer did not start: " + (log.read_text() if log.exists() else ""))


@contextmanager
def login_role(db_url: str, prefix: str, password: str) -> Iterator[str]:
    """A superuser login role with a name of its own for one test, dropped after it: roles
    belong to the whole server, which runs of the suite against a server of your own share."""
    role = f"{prefix}_{uuid4().hex[:8]}"
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN SUPERUSER PASSWORD {}").format(
            sql.Identifier(role), sql.Literal(password)))
    try:
        yield role
    finally:
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def verifier(db_url: str, role: str) -> str:
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s",
                           (role,)).fetchone()
    assert row is not None
    return str(row[0])


def test_analyst_through_pgbouncer(
    db_url: str, analysts: Analysts, bouncer: tuple[Path, int]
) -> None:
    mine, other = uuid4(), uuid4()
    seed_org(db_url, mine, runs=2)
    seed_org(db_url, other, runs=3)
    role, pooler = analysts.login(org_id=mine), analysts.name()
    with psycopg.connect(db_url, autocommit=True) as conn:  # a shared login, never mapped
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(pooler)))
        for grant in ["GRANT USAGE ON SCHEMA analytics TO {}",
                      "GRANT SELECT ON ALL TABLES IN SCHEMA analytics TO {}",
                      "GRANT EXECUTE ON FUNCTION analytics_access.rows_of(anyelement) TO {}",
                      "GRANT {} TO {}"]:
            idents = [sql.Identifier(pooler)] if grant.count("{}") == 1 else [
                sql.Identifier(role), sql.Identifier(pooler)]
            conn.execute(sql.SQL(grant).format(*idents))
    tmp, port = bouncer
    proc = start(tmp, port, db_url, {role: verifier(db_url, role)}, pooler)
    try:
        via = make_conninfo(host="127.0.0.1", port=port, user=role, dbname="analytics",
                            password=analysts.password)
        for _ in range(3):  # each transaction may get another server connection
            with psycopg.connect(via, autocommit=True) as conn:
                assert conn.execute("SELECT session_user").fetchone() == (role,)
                assert conn.execute(
                    "SELECT org_id, count(*) FROM analytics.export_runs GROUP BY 1"
                ).fetchall() == [(mine, 2)]
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(make_conninfo(via, password="wrong")).close()
        # The shared login switching to the analyst's role sees nothing (fails closed).
        shared = make_conninfo(via, dbname="analytics_shared")
        with psycopg.connect(shared, autocommit=True) as conn:
            assert conn.execute("SELECT session_user").fetchone() == (pooler,)
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
            assert conn.execute("SELECT count(*) FROM analytics.export_runs").fetchone() == (0,)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
