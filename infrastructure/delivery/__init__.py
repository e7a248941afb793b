"""Delivery by API: the vendor clients, encrypted connection storage and the lines posted."""

from __future__ import annotations

from typing import Any

from application.ports import LedgerClient
from infrastructure.delivery.business_central import BusinessCentralClient
from infrastructure.delivery.http import new_client
from infrastructure.delivery.xledger import XledgerClient


class HttpLedgerClients:
    """Opens the client of a target with a fresh httpx client (closed with it)."""

    def __init__(self, timeout_seconds: float = 30.0) -> None:
        self.timeout_seconds = timeout_seconds

    def open(
        self, target: str, settings: dict[str, Any], credentials: dict[str, str]
    ) -> LedgerClient:
        http = new_client(self.timeout_seconds)
        if target == "dynamics":
            return BusinessCentralClient(settings, credentials, http)
        if target == "xledger":
            return XledgerClient(settings, credentials, http)
        http.close()
        raise KeyError(target)
