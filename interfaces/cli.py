"""The `export-service` command line."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

import typer

if TYPE_CHECKING:
    from bootstrap import Operations

app = typer.Typer(help="export-service: accounting exports and Bufdir reports, event-sourced.",
                  no_args_is_help=True)
projections_app = typer.Typer(help="Read models built from the event log.", no_args_is_help=True)
app.add_typer(projections_app, name="projections")
key_app = typer.Typer(help="The key that encrypts stored delivery credentials.", no_args_is_help=True)
app.add_typer(key_app, name="credentials-key")


def _setup_logging() -> None:
    from bootstrap import setup_logging

    setup_logging()


def _migrate_or_exit(url: str) -> list[str]:
    """Apply missing migrations; stop with a clear message when an applied one was edited."""
    from bootstrap import ChangedMigration, migrate_database

    try:
        return migrate_database(url)
    except ChangedMigration as changed:
        logging.getLogger("export_service.migrations").error("%s", changed)
        typer.echo(f"error: {changed}", err=True)
        raise typer.Exit(1) from None


def _stop_on_sigterm() -> None:
    """SIGTERM (systemd, docker stop, timeout) ends the process like Ctrl+C does, so `finally`
    blocks and exit handlers run (the embedded PostgreSQL is stopped) instead of dying at once.
    uvicorn and the worker install their own graceful handlers while they run."""

    def terminate(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)


def _stop_embedded() -> None:
    from bootstrap import Settings, stop_embedded_database

    stop_embedded_database(Settings())


def _database_url() -> str:
    from bootstrap import Settings, resolve_database_url

    return resolve_database_url(Settings())


def _operations() -> Operations:
    from bootstrap import Operations

    return Operations(_database_url())


@app.command()
def migrate(
    status: Annotated[bool, typer.Option("--status", help="List applied and pending, change nothing")] = False,
) -> None:
    """Apply missing migrations (safe to run again: nothing changes)."""
    _setup_logging()
    if status:
        _migration_status()
        return
    applied = _migrate_or_exit(_database_url())
    typer.echo(f"applied: {', '.join(applied)}" if applied else "database is up to date")


def _migration_status() -> None:
    found = _operations().migration_states()
    typer.echo(f"{'version':>7}  {'state':<8} {'applied at':<25} name")
    for m in found:
        at = m.applied_at.isoformat(timespec="seconds") if m.applied_at else "-"
        typer.echo(f"{m.version:>7}  {m.state:<8} {at:<25} {m.name}")
    counts = {s: sum(m.state == s for m in found) for s in ("applied", "pending", "changed")}
    typer.echo(", ".join(f"{n} {s}" for s, n in counts.items()))
    if counts["changed"]:
        raise typer.Exit(1)


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    demo: Annotated[bool | None, typer.Option(help="Load demo data (default: embedded only)")] = None,
) -> None:
    """API, worker and projection runner in one process."""
    _setup_logging()
    _stop_on_sigterm()
    import uvicorn

    from bootstrap import Settings, bootstrap
    from interfaces.server import build_app

    settings = Settings(public_url=os.environ.get("EXPORT_SERVICE_PUBLIC_URL", f"http://{host}:{port}"))
    try:
        url = _database_url()
        _migrate_or_exit(url)
        services = bootstrap(settings, database_url=url)
        try:
            _check_credentials_key(services)
            if demo if demo is not None else settings.embedded:
                from interfaces.demo import load_demo, print_welcome

                print_welcome(services, host, port, loaded=load_demo(services))
            # Our middleware logs each request (with its correlation id); uvicorn's access log
            # would repeat it without. uvicorn stops gracefully on SIGTERM and SIGINT.
            app = build_app(services)
            # What is loaded by now lives as long as the process: kept out of the collector's
            # scans, so a full collection no longer walks it in the middle of a request.
            gc.collect()
            gc.freeze()
            uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)
        finally:
            services.close()
    finally:
        _stop_embedded()


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Jobs run at the same time")] = 2,
    health_host: Annotated[str, typer.Option(help="Address of the health port")] = "127.0.0.1",
    health_port: Annotated[int, typer.Option(
        min=0, max=65535,
        help="Serve /healthz, /readyz and /metrics of this worker on this port (0: none)",
    )] = 0,
    memory_limit_mb: Annotated[int | None, typer.Option(
        min=0, help="Start afresh between jobs once resident memory is over this many MB "
                    "(0: never; default EXPORT_SERVICE_WORKER_MEMORY_LIMIT_MB, else 128)",
    )] = None,
) -> None:
    """Workers alone, for more machines on the same database."""
    _setup_logging()
    _stop_on_sigterm()
    from bootstrap import Settings, bootstrap
    from interfaces.worker import restart_afresh, run_worker_process

    settings = Settings()
    # Each job running at once holds a connection; keep two for the sweep and the projections.
    settings.pool_size = max(settings.pool_size, concurrency + 2)
    limit = settings.worker_memory_limit_mb if memory_limit_mb is None else memory_limit_mb
    afresh = False
    try:
        url = _database_url()
        _migrate_or_exit(url)
        services = bootstrap(settings, database_url=url)
        try:
            _check_credentials_key(services)
            # SIGTERM/SIGINT let running jobs finish (their grace period), then stop.
            afresh = asyncio.run(run_worker_process(
                services, health_host, health_port or None, f"worker-{os.getpid()}",
                concurrency=concurrency, memory_limit_mb=limit,
            ))
        finally:
            services.close()
    finally:
        _stop_embedded()
    if afresh:
        restart_afresh()


@app.command("db-url")
def db_url() -> None:
    """Print the database URL (with the embedded server: its socket URL, while `serve` runs)."""
    typer.echo(_operations().redacted_url())


@app.command()
def token(
    org: Annotated[UUID, typer.Option(help="Organisation id")],
    role: Annotated[str, typer.Option(help="coordinator|admin|auditor|analyst|scheduler")] = "coordinator",
    sub: Annotated[str, typer.Option(help="User id")] = "cli-user",
    hours: Annotated[int, typer.Option(min=1, max=24 * 30)] = 12,
) -> None:
    """Mint a bearer token with the service's key."""
    from bootstrap import Settings
    from interfaces.http.auth import Role, mint

    try:
        parsed = Role(role)
    except ValueError:
        typer.echo(f"unknown role {role!r}", err=True)
        raise typer.Exit(2) from None
    typer.echo(mint(Settings().resolved_jwt_secret(), sub, org, parsed, hours * 3600))


@projections_app.command("status")
def projections_status() -> None:
    """Each read model's position and lag behind the event log."""
    typer.echo(f"{'projection':<20} {'position':>10} {'head':>10} {'lag':>8}")
    for lag in _operations().projection_lags():
        typer.echo(f"{lag.name:<20} {lag.position:>10} {lag.head:>10} {lag.lag:>8}")


@projections_app.command("rebuild")
def projections_rebuild(
    name: Annotated[str | None, typer.Argument(help="One projection; all when omitted")] = None,
) -> None:
    """Drop a read model's rows and position, and replay the whole log into it."""
    _setup_logging()
    operations = _operations()
    known = operations.projection_names()
    names = [name] if name else known
    unknown = [n for n in names if n not in known]
    if unknown:
        typer.echo(f"unknown projection {unknown[0]!r}; known: {', '.join(known)}", err=True)
        raise typer.Exit(2)
    for n in names:
        head = operations.rebuild_projection(n)
        typer.echo(f"{n}: rebuilt up to event {head}")


@app.command()
def verify(
    org: Annotated[UUID | None, typer.Option(help="One organisation; all when omitted")] = None,
) -> None:
    """Recompute the audit hash chain from the stored events; exit 1 at the first bad event."""
    results = _operations().verify_audit_chain(org)
    failed = False
    for r in results:
        if r.ok:
            typer.echo(f"ok: {r.events_verified} events verified, head {r.head} (org {r.org_id})")
            continue
        failed = True
        bad = r.first_bad_event
        assert bad is not None
        typer.echo(
            f"FAILED: event {bad.notification_id} ({bad.originator_id} "
            f"v{bad.originator_version}) {bad.problem} (org {r.org_id})"
        )
    if failed:
        raise typer.Exit(1)


@app.command("analytics-role")
def analytics_role(
    role: Annotated[str | None, typer.Option(help="Login role to create or update")] = None,
    org: Annotated[UUID | None, typer.Option(help="The one organisation the role reads")] = None,
    all_organisations: Annotated[
        bool, typer.Option("--all-organisations", help="Operator-wide: every organisation (logged)")
    ] = False,
    password: Annotated[
        str | None,
        typer.Option(help="Makes it a LOGIN role", envvar="EXPORT_SERVICE_ANALYTICS_PASSWORD"),
    ] = None,
    list_roles: Annotated[bool, typer.Option("--list", help="List analysts and what they read")] = False,
    revoke: Annotated[str | None, typer.Option(help="Take this role's access away")] = None,
) -> None:
    """Analysts' roles: SELECT on the analytics views, rows of one organisation only."""
    _setup_logging()
    ops = _operations()
    try:
        if list_roles:
            for a in ops.list_analytics_roles():
                login = "login" if a.can_login else "no login"
                state = "" if a.exists else " (role no longer exists)"
                typer.echo(f"{a.role}\t{a.scope}\t{login}{state}")
            return
        if revoke:
            typer.echo(ops.revoke_analytics_role(revoke))
            return
        if not role:
            raise ValueError("give --role NAME (or --list, --revoke NAME)")
        done = ops.create_analytics_role(role, org, all_organisations, password)
    except ValueError as e:  # the role or the request refused, in words
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"role {done.role}: SELECT on schema analytics, {done.scope}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


def _check_credentials_key(services: object) -> None:
    """Stop at start with one line naming the variable when the key is missing or does not
    decrypt the stored credentials: never run with a delivery target that cannot work."""
    from application.ports import CredentialsUnavailable

    try:
        services.check_credentials_key()  # type: ignore[attr-defined]
    except CredentialsUnavailable as problem:
        typer.echo(f"export-service: {problem}", err=True)
        raise typer.Exit(2) from None


@key_app.command("new")
def new_key() -> None:
    """Print a new random key (for EXPORT_SERVICE_CREDENTIALS_KEY); touches no database."""
    from bootstrap import Operations

    typer.echo(Operations.new_credentials_key())


@key_app.command("rotate")
def rotate_key() -> None:
    """Re-encrypt every stored credential with the newest key.

    Set EXPORT_SERVICE_CREDENTIALS_KEY="NEW,OLD" (NEW from `credentials-key new`), run this,
    then set it to "NEW" alone. In embedded mode without the variable a new key is generated
    and the key file keeps only it once every credential is re-encrypted.
    """
    _setup_logging()
    from application.ports import CredentialsUnavailable
    from bootstrap import Settings

    try:
        count, replaced = _operations().rotate_credentials_key(Settings())
    except CredentialsUnavailable as problem:
        typer.echo(f"export-service: {problem}", err=True)
        raise typer.Exit(2) from None
    if replaced:
        typer.echo(f"re-encrypted {count} credential(s); the key file now holds the new key only")
    else:
        typer.echo(f"re-encrypted {count} credential(s) with the first key; "
                   "EXPORT_SERVICE_CREDENTIALS_KEY may now hold that key alone")
