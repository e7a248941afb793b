"""What an auditor asks of the service: the organisation's chain check and a run's evidence."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from application.ports import AuditLedger, EventStore, Freshness
from application.runs import owned
from domain.export_run import ExportRun


class Audit:
    def __init__(self, store: EventStore, ledger: AuditLedger, freshness: Freshness) -> None:
        self.store = store
        self.ledger = ledger
        self.freshness = freshness

    def verify(self, org_id: UUID) -> dict[str, Any]:
        """Recompute the organisation's chain from the stored events (contract shape)."""
        self.freshness.catch_up(timeout=5.0)
        return self.ledger.verify(org_id)

    def evidence(self, org_id: UUID, run_id: UUID) -> bytes:
        """The run's evidence zip; NotFound for a run of another organisation."""
        self.freshness.catch_up(timeout=5.0)
        owned(self.store, ExportRun, org_id, run_id)
        return self.ledger.evidence(org_id, run_id)
