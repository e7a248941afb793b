"""The registry of accounting exporters, keyed by target; the use cases know no concrete one."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from application.ports import (
    AccountingExporter,
    EventStore,
    ImportDefinition,
    NotFound,
    PublishesImportDefinition,
)
from application.runs import owned, retry_on_conflict
from domain.accounting_settings import AccountingSettings, ExportSettings
from domain.shared import Actor


class UnknownTarget(KeyError):
    pass


class ExporterRegistry:
    def __init__(self, exporters: Iterable[AccountingExporter]) -> None:
        self._by_target = {e.target: e for e in exporters}

    def for_target(self, target: str) -> AccountingExporter:
        try:
            return self._by_target[target]
        except KeyError:
            raise UnknownTarget(target) from None

    @property
    def targets(self) -> list[str]:
        return sorted(self._by_target)

    def import_definition(self, target: str) -> ImportDefinition:
        """The file the accounting system needs to read our files (Business Central's data
        exchange definition); NotFound for a target that reads them without one."""
        exporter = self.for_target(target)
        if not isinstance(exporter, PublishesImportDefinition):
            raise NotFound(target)
        content_type, filename, content = exporter.import_definition()
        return ImportDefinition(content_type, filename, content)


class AccountingSettingsBook:
    """An organisation's chart-of-accounts mapping; every change is an audited event."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    @retry_on_conflict()
    def configure(self, org_id: UUID, values: Mapping[str, Any], actor: Actor) -> AccountingSettings:
        settings: AccountingSettings
        try:
            settings = self.store.get(AccountingSettings.create_id(org_id))
        except NotFound:
            settings = AccountingSettings.configure(org_id, values, actor)
        else:
            settings.change(values, actor)
        self.store.save(settings)
        return settings

    def get(self, org_id: UUID) -> AccountingSettings:
        return owned(self.store, AccountingSettings, org_id, AccountingSettings.create_id(org_id))

    def for_export(self, org_id: UUID) -> ExportSettings | None:
        try:
            return self.get(org_id).view()
        except NotFound:
            return None

    def for_export_as_of(self, org_id: UUID, at: datetime | None) -> ExportSettings | None:
        """The settings as they stood at `at` (when a run's file was written): a delivery
        retried after the mapping changed posts the file's lines, never different ones."""
        if at is None:
            return self.for_export(org_id)
        settings_id = AccountingSettings.create_id(org_id)
        try:
            seen = [e.version for e in self.store.history(settings_id) if e.timestamp <= at]
        except NotFound:
            return None
        if not seen:
            return None
        found = self.store.get(settings_id, version=max(seen))
        return found.view() if isinstance(found, AccountingSettings) else None
