"""The registry of accounting exporters, keyed by target; the use cases know no concrete one."""

from __future__ import annotations

from collections.abc import Iterable

from application.ports import AccountingExporter


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
