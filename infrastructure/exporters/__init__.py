"""The accounting exporters this service ships; a new target is one module plus one line below."""

from __future__ import annotations

from application.ports import AccountingExporter
from infrastructure.exporters.dynamics import DynamicsExporter
from infrastructure.exporters.xledger import XledgerExporter


def default_exporters() -> list[AccountingExporter]:
    return [
        XledgerExporter(),
        DynamicsExporter(),
    ]


__all__ = ["DynamicsExporter", "XledgerExporter", "default_exporters"]
