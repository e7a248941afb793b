"""The composition root: the one place that wires application services to real adapters.

`bootstrap()` gives the whole service; the HTTP app, pages, the worker and the CLI take what
they need from it: `services.app` (use cases only), `services.upkeep` (tasks, periodic jobs,
sweep), `services.task_handlers()` and `services.queue()` (the worker), `services.projections`
(read models kept current in this process). Tests pass keyword overrides for any adapter.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import procrastinate
from psycopg_pool import ConnectionPool

from application.accounting import AccountingSettingsBook, ExporterRegistry
from application.audit import Audit
from application.bufdir_config_book import BufdirConfigBook
from application.bufdir_exports import BufdirExports
from application.delivery import Deliveries, RetryPolicy
from application.export_runs import ExportRuns
from application.idempotency import Idempotency
from application.ports import (
    AccountingExporter,
    ActivityRecords,
    AuditLedger,
    ClaimSource,
    Clock,
    ConfigLoader,
    DeliveryConnections,
    EventStore,
    FileStorage,
    IdempotencyKeys,
    LedgerClients,
    ReportReader,
    ReportWriter,
    RunCounters,
    RunListing,
    ScheduleTable,
    ServiceFlags,
    SyncRunLog,
    UpkeepTables,
    UrlSigner,
)
from application.services import ApplicationServices
from application.source_data import Downloads, SourceData
from application.sync_accounting import AccountingSyncs
from application.sync_runs import SyncRuns
from application.sync_schedules import SyncSchedules
from application.upkeep import Upkeep
from infrastructure.activities import PostgresActivities
from infrastructure.analytics import Analyst
from infrastructure.audit_heads import PostgresAuditLedger
from infrastructure.availability import UNAVAILABLE_ERRORS as UNAVAILABLE_ERRORS
from infrastructure.availability import readiness_of
from infrastructure.bufdir_files import BufdirFileWriter
from infrastructure.bufdir_report_reader import BufdirReportReader
from infrastructure.claims import PostgresClaims
from infrastructure.database import (
    RECONNECT_SECONDS,
    SessionOptionsOptional,
    check_unless_recently_used,
    ensure_database,
    eventsourcing_env,
    mark_returned,
    start_embedded,
    stop_embedded,
)
from infrastructure.delivery import HttpLedgerClients
from infrastructure.delivery.connections import PostgresDeliveryConnections
from infrastructure.delivery.credentials import cipher_for
from infrastructure.delivery.lines import VoucherLines
from infrastructure.event_store import (
    CONNECT_TIMEOUT_SECONDS,
    STATEMENT_TIMEOUT_SECONDS,
    EventLog,
    PostgresEventStore,
    open_event_log,
)
from infrastructure.exporters import default_exporters
from infrastructure.files import DownloadSigner, FsspecStorage
from infrastructure.idempotency import PostgresIdempotencyKeys
from infrastructure.metrics import PrometheusCounters, refresh_gauges
from infrastructure.migrations import ChangedMigration as ChangedMigration  # for the CLI
from infrastructure.projections.runner import ProjectionCatchUp, ProjectionSupervisor
from infrastructure.projections.sync_run_log import PostgresSyncRunLog
from infrastructure.queue import (
    JOBS,
    RunningJobs,
    TaskHandlers,
    WorkerHealth,
    build_queue,
    supervise_worker,
)
from infrastructure.read_models import ReadModels
from infrastructure.service_flags import PostgresServiceFlags
from infrastructure.settings import Settings

__all__ = ["Operations", "Services", "Settings", "bootstrap", "migrate_database",
           "resolve_database_url", "stop_embedded_database"]
from infrastructure.upkeep import PostgresScheduleTable, PostgresUpkeepTables

log = logging.getLogger(__name__)

EMBEDDED_DBNAME = "export_service"
POOL_WAIT_SECONDS = 3.0


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def resolve_database_url(settings: Settings) -> str:
    """DATABASE_URL, or an embedded server under the data directory (started if needed)."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    return ensure_database(start_embedded(settings.data_dir), EMBEDDED_DBNAME)


def stop_embedded_database(settings: Settings) -> None:
    """Stop the embedded server of this data directory (nothing with DATABASE_URL)."""
    if settings.database_url is None:
        stop_embedded(settings.data_dir)


@dataclass
class Services:
    """The wired service. Interfaces use `app`, `upkeep` and the methods; the adapters are
    here for the worker, the CLI and the tests."""

    settings: Settings
    #: None when every database adapter was given (unit tests over fakes).
    database: Database | None
    store: EventStore
    claims: ClaimSource
    activities: ActivityRecords
    idempotency: IdempotencyKeys
    files: FileStorage
    signer: UrlSigner
    jwt_secret: str
    projections: ProjectionCatchUp
    app: ApplicationServices
    upkeep: Upkeep
    delivery_connections: DeliveryConnections
    flags: ServiceFlags
    #: Hooks for more tasks ("tasks": name -> function) and routers ("routers": [APIRouter]).
    extras: dict[str, Any] = field(default_factory=dict)
    worker_health: WorkerHealth = field(default_factory=WorkerHealth)
    #: The jobs this process is running and has finished (a worker's memory limit waits for
    #: a moment with none running: interfaces/worker.py).
    running_jobs: RunningJobs = field(default_factory=lambda: JOBS)

    @property
    def db(self) -> Database:
        if self.database is None:
            raise RuntimeError("this service was wired without a database")
        return self.database

    @property
    def database_url(self) -> str:
        return self.db.url

    @property
    def env(self) -> dict[str, str]:
        return self.db.env

    @property
    def pool(self) -> ConnectionPool:
        return self.db.pool

    @property
    def event_log(self) -> EventLog:
        return self.db.event_log

    @property
    def export_runs(self) -> ExportRuns:
        return self.app.export_runs

    @property
    def bufdir_exports(self) -> BufdirExports:
        return self.app.bufdir_exports

    @property
    def bufdir_config(self) -> BufdirConfigBook:
        return self.app.bufdir_config

    @property
    def accounting_settings(self) -> AccountingSettingsBook:
        return self.app.accounting_settings

    def catch_up(self, timeout: float = 2.0) -> None:
        self.projections.catch_up(timeout)

    def task_handlers(self) -> TaskHandlers:
        return TaskHandlers(
            tasks={**self.upkeep.tasks(), **self.extras.get("tasks", {})},
            sweep=self.upkeep.sweep,
            stalled_after_seconds=self.settings.stalled_job_seconds,
            periodic=self.upkeep.periodic(),
        )

    def queue(self) -> procrastinate.App:
        return build_queue(self.database_url, self.task_handlers())

    async def run_worker(self, name: str = "worker", concurrency: int = 2, **options: Any) -> None:
        """Recover what a crash left behind, then work the queue (`concurrency` jobs at once)
        until cancelled; supervised: any failure (the database gone, the listener lost) restarts
        it with backoff."""
        handlers = self.task_handlers()
        await supervise_worker(
            lambda: build_queue(self.database_url, handlers, pool_size=concurrency + 2),
            handlers, self.worker_health, name=name, concurrency=concurrency, **options,
        )

    def projection_supervisor(self, names: list[str] | None = None) -> ProjectionSupervisor:
        return ProjectionSupervisor(self.env, names)

    def refresh_metrics(self) -> None:
        refresh_gauges(self.pool)

    def readiness(self, worker: bool = False) -> Callable[[], tuple[bool, str]]:
        """The /readyz check; with `worker` the worker of this process must be running too."""
        return readiness_of(self.database_url, self.worker_health.alive if worker else None)

    def check_credentials_key(self) -> int:
        """At start of `serve` and `worker`: the key is there and decrypts every stored
        credential (how many); CredentialsUnavailable naming the variable otherwise."""
        connections = self.delivery_connections
        if not isinstance(connections, PostgresDeliveryConnections):
            return 0
        problem = getattr(connections.cipher, "problem", None)
        if problem is not None:
            raise problem
        return connections.verify_all()

    def close(self) -> None:
        if self.database is not None:
            self.database.close()


@dataclass
class Database:
    """The PostgreSQL side of a wired service: one pool and the event log."""

    url: str
    env: dict[str, str]
    pool: ConnectionPool[Any]
    event_log: EventLog
    store: PostgresEventStore

    @classmethod
    def open(cls, url: str, pool_size: int) -> Database:
        # Bounded waits: no request hangs on a database that is gone (it gets a 503 instead).
        pool = ConnectionPool(
            url, min_size=1, max_size=pool_size, open=True, name="service",
            timeout=POOL_WAIT_SECONDS, check=check_unless_recently_used, reset=mark_returned,
            connection_class=SessionOptionsOptional, reconnect_timeout=RECONNECT_SECONDS,
            kwargs={"connect_timeout": CONNECT_TIMEOUT_SECONDS,
                    "options": f"-c statement_timeout={STATEMENT_TIMEOUT_SECONDS * 1000}"},
        )
        event_log = open_event_log(url, pool_size)
        return cls(url, eventsourcing_env(url, pool_size), pool, event_log,
                   PostgresEventStore(event_log))

    def close(self) -> None:
        self.pool.close()
        self.event_log.close()


def bootstrap(
    settings: Settings | None = None,
    *,
    database_url: str | None = None,
    store: Callable[[PostgresEventStore], EventStore] | None = None,
    counters: RunCounters | None = None,
    event_store: EventStore | None = None,
    claims: ClaimSource | None = None,
    activities: ActivityRecords | None = None,
    files: FileStorage | None = None,
    clock: Clock | None = None,
    idempotency_keys: IdempotencyKeys | None = None,
    listing: RunListing | None = None,
    freshness: ProjectionCatchUp | None = None,
    sync_run_log: SyncRunLog | None = None,
    schedules: ScheduleTable | None = None,
    upkeep_tables: UpkeepTables | None = None,
    audit_ledger: AuditLedger | None = None,
    exporters: Sequence[AccountingExporter] | None = None,
    report_writer: ReportWriter | None = None,
    report_reader: ReportReader | None = None,
    delivery_connections: DeliveryConnections | None = None,
    ledger_clients: LedgerClients | None = None,
    service_flags: ServiceFlags | None = None,
    bufdir_config_loader: ConfigLoader | None = None,
) -> Services:
    """Wire everything. Each keyword names a port and replaces its adapter (Cosmic Python's
    bootstrap): unit tests pass fakes for all the database ones and get the real service graph
    with no database. `store` wraps the PostgreSQL event store instead (fault injection)."""
    settings = settings or Settings()
    database_ports = (
        event_store, claims, activities, idempotency_keys, listing, freshness, sync_run_log,
        schedules, upkeep_tables, audit_ledger, delivery_connections, service_flags,
    )
    db = None
    if None in database_ports:
        db = Database.open(database_url or resolve_database_url(settings), settings.pool_size)
    files = files or FsspecStorage(
        settings.storage_url or f"file://{(settings.data_dir / 'files').resolve()}"
    )
    if db is not None:
        event_store = event_store or (store(db.store) if store else db.store)
        claims = claims or PostgresClaims(db.pool)
        if activities is None:
            if not isinstance(files, FsspecStorage):
                raise TypeError("PostgresActivities needs fsspec storage: pass activities= too")
            activities = PostgresActivities(db.pool, files)
        listing = listing or ReadModels(db.pool)
        freshness = freshness or ProjectionCatchUp(db.store.max_notification_id,
                                                   db.store.written_for)
        idempotency_keys = idempotency_keys or PostgresIdempotencyKeys(db.pool)
        audit_ledger = audit_ledger or PostgresAuditLedger(db.pool, db.store, files)
        sync_run_log = sync_run_log or PostgresSyncRunLog(db.pool)
        schedules = schedules or PostgresScheduleTable(db.pool)
        upkeep_tables = upkeep_tables or PostgresUpkeepTables(db.pool)
        delivery_connections = delivery_connections or PostgresDeliveryConnections(
            db.pool, cipher_for(settings)
        )
        service_flags = service_flags or PostgresServiceFlags(db.pool)
    assert event_store is not None and claims is not None and activities is not None
    assert listing is not None and freshness is not None and idempotency_keys is not None
    assert audit_ledger is not None and sync_run_log is not None and schedules is not None
    assert upkeep_tables is not None and delivery_connections is not None
    assert service_flags is not None
    ports = Ports(
        events=event_store, claims=claims, activities=activities, files=files,
        clock=clock or SystemClock(), idempotency_keys=idempotency_keys, listing=listing,
        freshness=freshness, sync_run_log=sync_run_log, schedules=schedules,
        upkeep_tables=upkeep_tables, audit_ledger=audit_ledger,
        delivery_connections=delivery_connections, counters=counters or PrometheusCounters(),
        ledger_clients=ledger_clients or HttpLedgerClients(settings.delivery_timeout_seconds),
        exporters=exporters if exporters is not None else default_exporters(),
        report_writer=report_writer or BufdirFileWriter(),
        report_reader=report_reader or BufdirReportReader(),
        bufdir_config_loader=bufdir_config_loader,
    )
    secret = settings.resolved_jwt_secret()
    signer = DownloadSigner(secret, settings.public_url, settings.download_url_ttl_seconds)
    app = use_cases(settings, ports, signer)
    return Services(
        settings=settings,
        database=db,
        store=ports.events,
        claims=claims,
        activities=activities,
        idempotency=idempotency_keys,
        files=files,
        signer=signer,
        jwt_secret=secret,
        projections=freshness,
        app=app,
        upkeep=upkeep_of(settings, ports, app),
        delivery_connections=delivery_connections,
        flags=service_flags,
    )


@dataclass(frozen=True)
class Ports:
    """The adapter chosen for every port: given by the caller or built by `bootstrap`."""

    events: EventStore
    claims: ClaimSource
    activities: ActivityRecords
    files: FileStorage
    clock: Clock
    idempotency_keys: IdempotencyKeys
    listing: RunListing
    freshness: ProjectionCatchUp
    sync_run_log: SyncRunLog
    schedules: ScheduleTable
    upkeep_tables: UpkeepTables
    audit_ledger: AuditLedger
    delivery_connections: DeliveryConnections
    counters: RunCounters
    ledger_clients: LedgerClients
    exporters: Sequence[AccountingExporter]
    report_writer: ReportWriter
    report_reader: ReportReader
    #: None: each organisation's Bufdir configuration from the event store.
    bufdir_config_loader: ConfigLoader | None


def deliveries_of(settings: Settings, ports: Ports, books: AccountingSettingsBook) -> Deliveries:
    """Delivery by API: retries and batches as the settings say."""
    return Deliveries(
        store=ports.events,
        connections=ports.delivery_connections,
        clients=ports.ledger_clients,
        line_source=VoucherLines(),
        clock=ports.clock,
        settings_of=books.for_export_as_of,
        allowed_hosts=settings.allowed_delivery_hosts,
        retry=RetryPolicy(
            attempts=settings.delivery_retry_attempts,
            initial_seconds=settings.delivery_retry_initial_seconds,
            max_seconds=settings.delivery_retry_max_seconds,
        ),
        batch_size=settings.delivery_batch_size,
        observe=getattr(ports.counters, "delivery", None),
    )


def use_cases(settings: Settings, ports: Ports, signer: UrlSigner) -> ApplicationServices:
    """Every application service over the chosen adapters (what routers and pages see)."""
    events, files, clock, freshness = ports.events, ports.files, ports.clock, ports.freshness
    accounting_settings = AccountingSettingsBook(events)
    delivery = deliveries_of(settings, ports, accounting_settings)
    export_runs = ExportRuns(
        store=events,
        claims=ports.claims,
        files=files,
        exporters=ExporterRegistry(ports.exporters),
        clock=clock,
        settings_of=accounting_settings.for_export,
        timeout=timedelta(seconds=settings.run_timeout_seconds),
        listing=ports.listing,
        freshness=freshness,
        delivery_job=delivery.job_for,
    )
    bufdir_config = BufdirConfigBook(events)
    bufdir_exports = BufdirExports(
        events, ports.activities, ports.bufdir_config_loader or bufdir_config.load,
        ports.report_writer, files, ports.listing, freshness, reader=ports.report_reader,
    )

    def sync_timeout_of(integration_type: str) -> timedelta:
        seconds = settings.sync_timeouts.get(integration_type, settings.sync_timeout_seconds)
        return timedelta(seconds=seconds)

    sync_runs = SyncRuns(events, ports.sync_run_log, clock, sync_timeout_of, freshness)
    return ApplicationServices(
        export_runs=export_runs,
        bufdir_exports=bufdir_exports,
        sync_runs=sync_runs,
        sync_schedules=SyncSchedules(events, ports.schedules, sync_runs, clock),
        accounting_settings=accounting_settings,
        bufdir_config=bufdir_config,
        source_data=SourceData(ports.claims, ports.activities, files),
        downloads=Downloads(files, signer),
        audit=Audit(events, ports.audit_ledger, freshness),
        idempotency=Idempotency(ports.idempotency_keys),
        delivery=delivery,
    )


def upkeep_of(settings: Settings, ports: Ports, app: ApplicationServices) -> Upkeep:
    """Tasks, periodic jobs and the sweep, over the same use cases the API uses."""
    return Upkeep(
        ports.upkeep_tables,
        app.export_runs,
        app.bufdir_exports,
        app.sync_runs,
        app.sync_schedules,
        AccountingSyncs(ports.events, app.export_runs),
        ports.idempotency_keys,
        ports.audit_ledger,
        ports.counters,
        run_timeout_seconds=settings.run_timeout_seconds,
        idempotency_ttl_hours=settings.idempotency_ttl_hours,
        delivery=app.delivery,
    )


def migrate_database(url: str) -> list[str]:
    """Apply missing migrations; the names applied. Raises ChangedMigration (applying nothing)
    when an applied migration's file was edited since."""
    from infrastructure.migrations import migrate

    return migrate(url)


def setup_logging(settings: Settings | None = None) -> None:
    """JSON lines (or text with LOG_FORMAT=console), secrets and tracebacks kept out."""
    from infrastructure import logs

    settings = settings or Settings()
    logs.install(settings.log_level, settings.log_format)


@dataclass(frozen=True)
class Operations:
    """What an operator runs from the command line against one database."""

    url: str

    def redacted_url(self) -> str:
        from infrastructure.database import redact

        return redact(self.url)

    def migration_states(self) -> list[Any]:
        """Every migration with its state: applied, pending, changed or unknown."""
        import psycopg

        from infrastructure.migrations import states

        with psycopg.connect(self.url) as conn:
            return states(conn)

    def projection_names(self) -> list[str]:
        from infrastructure.projections.runner import PROJECTIONS

        return list(PROJECTIONS)

    def projection_lags(self) -> list[Any]:
        import psycopg

        from infrastructure.projections.runner import lags

        with psycopg.connect(self.url) as conn:
            return lags(conn)

    def rebuild_projection(self, name: str) -> int:
        """Drop the read model and replay the whole log into it; the head it reached."""
        from infrastructure.projections.runner import rebuild

        return rebuild(eventsourcing_env(self.url), name)

    def verify_audit_chain(self, org_id: Any = None) -> list[Any]:
        import psycopg

        from infrastructure.audit import verify_all, verify_chain

        with psycopg.connect(self.url) as conn:
            return [verify_chain(conn, org_id)] if org_id else verify_all(conn)

    @staticmethod
    def new_credentials_key() -> str:
        from cryptography.fernet import Fernet

        return Fernet.generate_key().decode()

    def rotate_credentials_key(self, settings: Settings) -> tuple[int, bool]:
        """Re-encrypt every stored credential with the newest key; (count, key file replaced).

        With EXPORT_SERVICE_CREDENTIALS_KEY="NEW,OLD": re-encrypts with NEW. Embedded without
        the variable: a new key goes first into the key file (old ones kept until every
        credential is re-encrypted), then the file keeps the new key alone."""
        from infrastructure.delivery.connections import PostgresDeliveryConnections
        from infrastructure.delivery.credentials import (
            CredentialCipher,
            key_file,
            resolve_keys,
            write_key_file,
        )

        keys = resolve_keys(settings)
        from_file = settings.credentials_key is None
        if from_file:
            keys = [self.new_credentials_key(), *keys]
            write_key_file(key_file(settings), keys)
        with ConnectionPool(self.url, min_size=1, max_size=1) as pool:
            count = PostgresDeliveryConnections(pool, CredentialCipher(keys)).rotate_all()
        if from_file:
            write_key_file(key_file(settings), keys[:1])
        return count, from_file

    def create_analytics_role(
        self, role: str, org_id: UUID | None, all_organisations: bool, password: str | None
    ) -> Analyst:
        """An analyst login reading one organisation (or, explicitly, all); refusals: ValueError."""
        from infrastructure.analytics import create_analytics_role

        return create_analytics_role(self.url, role, org_id=org_id,
                                     all_organisations=all_organisations, password=password)

    def list_analytics_roles(self) -> list[Analyst]:
        from infrastructure.analytics import list_analytics_roles

        return list_analytics_roles(self.url)

    def revoke_analytics_role(self, role: str) -> str:
        from infrastructure.analytics import revoke_analytics_role

        return revoke_analytics_role(self.url, role)
