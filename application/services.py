"""The application as the interfaces see it: use cases only, never an adapter.

bootstrap builds one; HTTP routers, pages and the CLI take what they need from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from application.accounting import AccountingSettingsBook
from application.audit import Audit
from application.bufdir_config_book import BufdirConfigBook
from application.bufdir_exports import BufdirExports
from application.delivery import Deliveries
from application.export_runs import ExportRuns
from application.idempotency import Idempotency
from application.sign_in import SignInCodes
from application.source_data import Downloads, SourceData
from application.sync_runs import SyncRuns
from application.sync_schedules import SyncSchedules


@dataclass(frozen=True)
class ApplicationServices:
    export_runs: ExportRuns
    bufdir_exports: BufdirExports
    sync_runs: SyncRuns
    sync_schedules: SyncSchedules
    accounting_settings: AccountingSettingsBook
    bufdir_config: BufdirConfigBook
    source_data: SourceData
    downloads: Downloads
    audit: Audit
    idempotency: Idempotency
    delivery: Deliveries
    #: One-time sign-in links of the pages (demo mode prints one at start-up).
    sign_in: SignInCodes = field(default_factory=SignInCodes)
