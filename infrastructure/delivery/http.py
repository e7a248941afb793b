"""What both vendor clients share: one httpx client, and turning answers into the three
outcomes the use case knows (refused, credentials refused, unavailable) with a sanitised
vendor message (no control characters, no secrets, bounded length)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx

from application.ports import CredentialsRefused, DeliveryRefused, DeliveryUnavailable

T = TypeVar("T")
MESSAGE_MAX = 300
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
TRANSIENT = frozenset({408, 425, 429, 500, 502, 503, 504})


def new_client(timeout: float) -> httpx.Client:
    """No redirects (an allowed host must not bounce us elsewhere), no environment proxies."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": "export-service"},
    )


def sanitise(message: Any, secrets: Iterable[str] = ()) -> str:
    text = _CONTROL.sub(" ", str(message or "")).strip()
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text[:MESSAGE_MAX] or "no message"


def vendor_message(response: httpx.Response) -> str:
    """BC/OData `{"error": {"code", "message"}}`, OAuth `error_description`, GraphQL
    `errors[0].message`, or the status line."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return f"{error.get('code', '')}: {error['message']}".strip(": ")
        if body.get("error_description"):
            return str(body["error_description"])
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("message", "error"))
        if isinstance(error, str):
            return error
    return f"HTTP {response.status_code}"


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def check(response: httpx.Response, secrets: Iterable[str] = ()) -> httpx.Response:
    if response.status_code < 300:
        return response
    message = sanitise(vendor_message(response), secrets)
    status = response.status_code
    if status in TRANSIENT:
        raise DeliveryUnavailable(f"HTTP {status}: {message}", retry_after(response))
    if status in (401, 403):
        raise CredentialsRefused(f"HTTP {status}: {message}")
    raise DeliveryRefused(f"HTTP {status}: {message}")


def call(request: Callable[[], httpx.Response], secrets: Iterable[str] = ()) -> httpx.Response:
    """Send; network failures (refused, reset, dropped, timed out) are transient."""
    try:
        return check(request(), secrets)
    except httpx.TransportError as error:
        raise DeliveryUnavailable(f"network error: {type(error).__name__}") from None


def json_of(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise DeliveryUnavailable("the answer was not JSON") from None
