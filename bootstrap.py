"""The composition root: the one place that wires application services to real adapters."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg_pool import ConnectionPool

from application.accounting import AccountingSettingsBook, ExporterRegistry
from application.bufdir_config_book import BufdirConfigBook
from application.bufdir_exports import BufdirExports
from application.export_runs import ExportRuns
from infrastructure.activities import PostgresActivities
from infrastructure.audit_trail import AuditTrail
from infrastructure.bufdir_files import BufdirFileWriter
from infrastructure.claims import PostgresClaims
from infrastructure.database import ensure_database, eventsourcing_env, start_embedded
from infrastructure.event_store import EventLog, PostgresEventStore, open_event_log
from infrastructure.exporters import default_exporters
from infrastructure.files import DownloadSigner, FsspecStorage
from infrastructure.idempotency import PostgresIdempotencyKeys
from infrastructure.read_models import ReadModels
from infrastructure.settings import Settings
from infrastructure.sync_wiring import SyncServices, build_sync

log = logging.getLogger(__name__)

EMBEDDED_DBNAME = "export_service"


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def resolve_database_url(settings: Settings) -> str:
    """DATABASE_URL, or an embedded server under the data directory (started if needed)."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    return ensure_database(start_embedded(settings.data_dir), EMBEDDED_DBNAME)


@dataclass
class Services:
    settings: Settings
    database_url: str
    env: dict[str, str]
    pool: ConnectionPool
    event_log: EventLog
    store: PostgresEventStore
    claims: PostgresClaims
    idempotency: PostgresIdempotencyKeys
    files: FsspecStorage
    signer: DownloadSigner
    export_runs: ExportRuns
    accounting_settings: AccountingSettingsBook
    jwt_secret: str
    activities: PostgresActivities
    bufdir_config: BufdirConfigBook
    bufdir_exports: BufdirExports
    sync: SyncServices
    read_models: ReadModels
    audit: AuditTrail
    extras: dict[str, Any] = field(default_factory=dict)

    def catch_up(self, timeout: float = 2.0) -> None:
        """Read your writes: with projections running in this process, wait until the read
        models include every event appended so far (bounded; a lagging one is logged)."""
        projections = self.extras.get("projections")
        if projections is not None:
            projections.wait_for(self.store.max_notification_id(), timeout=timeout)

    def close(self) -> None:
        self.pool.close()
        self.event_log.close()


def bootstrap(settings: Settings | None = None, *, database_url: str | None = None) -> Services:
    settings = settings or Settings()
    url = database_url or resolve_database_url(settings)
    env = eventsourcing_env(url, settings.pool_size)
    pool = ConnectionPool(url, min_size=1, max_size=settings.pool_size, open=True, name="service")
    event_log = open_event_log(url, settings.pool_size)
    store = PostgresEventStore(event_log)
    claims = PostgresClaims(pool)
    files = FsspecStorage(settings.storage_url or f"file://{(settings.data_dir / 'files').resolve()}")
    secret = settings.resolved_jwt_secret()
    signer = DownloadSigner(secret, settings.public_url, settings.download_url_ttl_seconds)
    accounting_settings = AccountingSettingsBook(store)
    export_runs = ExportRuns(
        store=store,
        claims=claims,
        files=files,
        exporters=ExporterRegistry(default_exporters()),
        clock=SystemClock(),
        settings_of=accounting_settings.for_export,
        timeout=timedelta(seconds=settings.run_timeout_seconds),
    )
    activities = PostgresActivities(pool, files)
    bufdir_config = BufdirConfigBook(store)
    bufdir_exports = BufdirExports(store, activities, bufdir_config.load, BufdirFileWriter(), files)
    return Services(
        settings=settings,
        database_url=url,
        env=env,
        pool=pool,
        event_log=event_log,
        store=store,
        claims=claims,
        idempotency=PostgresIdempotencyKeys(pool),
        files=files,
        signer=signer,
        export_runs=export_runs,
        accounting_settings=accounting_settings,
        jwt_secret=secret,
        activities=activities,
        bufdir_config=bufdir_config,
        bufdir_exports=bufdir_exports,
        sync=build_sync(settings, pool, store, export_runs, SystemClock()),
        read_models=ReadModels(pool),
        audit=AuditTrail(pool, store, files),
    )
