"""Delivery by API: an organisation's connection to its accounting system, the lines a run posts,
and the rules that keep every line posted exactly once.

No I/O here: what a connection may point at (the host allow-list), how a posted line is
recognised again in the ledger (`line_key`) and when the next health check is due are rules.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

from domain.shared import DomainError, Lifecycle

TARGETS = ("xledger", "dynamics")
#: The vendors' own API hosts: the allow-list when the operator names none.
DEFAULT_HOSTS = ("www.xledger.net", "api.businesscentral.dynamics.com", "login.microsoftonline.com")
XLEDGER_ENDPOINT = "https://www.xledger.net/graphql"
BC_ENDPOINT = "https://api.businesscentral.dynamics.com"
BC_TOKEN_URL = "https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token"  # noqa: S105
DEFAULT_DIMENSION_CODE = "AVDELING"

#: Identifiers each target needs besides endpoint and token_url, and its credential names.
IDENTIFIERS: dict[str, tuple[str, ...]] = {
    "xledger": (),
    "dynamics": ("tenant_id", "environment", "company_id", "journal"),
}
OPTIONAL_IDENTIFIERS: dict[str, tuple[str, ...]] = {"xledger": (), "dynamics": ("dimension_code",)}
CREDENTIALS: dict[str, tuple[str, ...]] = {
    "xledger": ("api_token",),
    "dynamics": ("client_id", "client_secret"),
}

HEALTH_INTERVAL = timedelta(minutes=15)
HEALTH_BACKOFF_MAX = timedelta(hours=6)
LOOPBACK_NAMES = frozenset({"localhost"})


class InvalidConnection(DomainError):
    """A connection setting is missing, malformed or not allowed; `field` names it."""

    code = "invalid_connection"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class DeliveryNotRetryable(DomainError):
    """Only a failed delivery can be retried (a delivered one is never posted again)."""

    code = "delivery_not_retryable"
    http_status = 409


class DeliveryStatus(str, Enum):
    PENDING = "pending"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    FAILED = "failed"


D = DeliveryStatus

#: Moves of a run's delivery. `resume` is a restart after a crash or a repeated job: it first
#: reads what the ledger already holds, so it never posts a line twice.
DELIVERY = Lifecycle(
    "Delivery",
    DeliveryStatus,
    [
        ("start", D.PENDING, D.DELIVERING),
        ("resume", D.DELIVERING, D.DELIVERING),
        ("post", D.DELIVERING, D.DELIVERING),
        ("complete", D.DELIVERING, D.DELIVERED),
        ("fail", [D.PENDING, D.DELIVERING], D.FAILED),
        ("retry", D.FAILED, D.PENDING),
    ],
)


def _text(values: Mapping[str, Any], name: str, max_len: int = 100) -> str:
    value = values.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidConnection(name, "must be a non-empty string")
    value = value.strip()
    if len(value) > max_len or any(c in value for c in "\r\n\t'\"/\\?#"):
        raise InvalidConnection(name, f"must be at most {max_len} plain characters")
    return value


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(field: str, url: Any, allowed_hosts: Iterable[str]) -> str:
    """An https URL on the allow-list (ports are not part of the match); http only for a
    loopback host on the list (a local stand-in). No user info, query or fragment."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidConnection(field, "must be a URL")
    parts = urlsplit(url.strip())
    try:
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise InvalidConnection(field, "is not a valid URL") from None
    if parts.scheme not in ("https", "http") or not host:
        raise InvalidConnection(field, "must be an https:// URL")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise InvalidConnection(field, "must not carry user info, a query or a fragment")
    if host not in {h.strip().lower() for h in allowed_hosts if h.strip()}:
        raise InvalidConnection(field, f"host {host} is not on the delivery allow-list")
    if parts.scheme == "http" and not is_loopback(host):
        raise InvalidConnection(field, "must use https://")
    return url.strip().rstrip("/")


def validate_connection(
    target: str, values: Mapping[str, Any], allowed_hosts: Iterable[str]
) -> dict[str, Any]:
    """The connection's settings (no credentials) with defaults applied, or InvalidConnection."""
    if target not in TARGETS:
        raise InvalidConnection("target", f"must be one of {', '.join(TARGETS)}")
    hosts = list(allowed_hosts)
    enabled = values.get("enabled", True)
    if not isinstance(enabled, bool):
        raise InvalidConnection("enabled", "must be true or false")
    default_endpoint = XLEDGER_ENDPOINT if target == "xledger" else BC_ENDPOINT
    settings: dict[str, Any] = {
        "enabled": enabled,
        "endpoint": check_url("endpoint", values.get("endpoint") or default_endpoint, hosts),
    }
    for name in IDENTIFIERS[target]:
        settings[name] = _text(values, name)
    for name in OPTIONAL_IDENTIFIERS[target]:
        if values.get(name):
            settings[name] = _text(values, name, 20)
    if target == "dynamics":
        settings.setdefault("dimension_code", DEFAULT_DIMENSION_CODE)
        token_url = values.get("token_url") or BC_TOKEN_URL.format(tenant_id=settings["tenant_id"])
        settings["token_url"] = check_url("token_url", token_url, hosts)
    elif values.get("token_url"):
        raise InvalidConnection("token_url", "Xledger uses its API token; no token URL")
    return settings


def validate_credentials(target: str, credentials: Any) -> dict[str, str]:
    if not isinstance(credentials, Mapping):
        raise InvalidConnection("credentials", "must be an object")
    names = CREDENTIALS[target]
    unknown = sorted(set(credentials) - set(names))
    if unknown:
        raise InvalidConnection(f"credentials.{unknown[0]}", "is not a credential of this target")
    out: dict[str, str] = {}
    for name in names:
        value = credentials.get(name)
        if not isinstance(value, str) or not value.strip() or len(value) > 4096:
            raise InvalidConnection(f"credentials.{name}", "must be a non-empty string")
        out[name] = value.strip()
    return out


@dataclass(frozen=True)
class DeliveryLine:
    """One line to post. `document` and `reference` are what the ledger stores and what a
    retried delivery reads back; `key` tells two lines apart within a run."""

    document: str  # BC documentNumber; Xledger voucher number within the run
    reference: str  # BC externalDocumentNumber (the claim); Xledger ImpSystemRef
    account: str
    amount: Decimal  # NOK, what the ledger posts
    posting_date: date
    description: str
    tax_code: str
    dimension: str | None
    claim_id: str
    voucher_type: str = ""

    @property
    def key(self) -> str:
        return line_key(self.document, self.reference, self.account, self.amount)


def line_key(document: str, reference: str, account: str, amount: Decimal | str | float) -> str:
    """How a posted line is recognised when read back: its document, reference, account and
    amount to the cent. The same claim's expense and counter lines differ in account."""
    cents = Decimal(str(amount)).quantize(Decimal("0.01"))
    return f"{document}|{reference}|{account}|{cents}"


def next_health_check(now: datetime, ok: bool, failures: int) -> datetime:
    """At most one check per 15 minutes; after failures the wait doubles, up to 6 hours."""
    if ok:
        return now + HEALTH_INTERVAL
    wait: timedelta = HEALTH_INTERVAL * (2 ** min(max(failures - 1, 0), 8))
    return now + min(wait, HEALTH_BACKOFF_MAX)
