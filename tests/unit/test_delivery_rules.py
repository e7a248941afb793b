"""Delivery rules without I/O: the host allow-list, health-check spacing, line keys, the retry
policy's waits (Retry-After honoured) and the delivery lifecycle of a run."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest
from tenacity import RetryCallState

from application.delivery import RetryPolicy
from application.ports import DeliveryUnavailable
from domain.delivery import (
    InvalidConnection,
    check_url,
    line_key,
    next_health_check,
    validate_connection,
    validate_credentials,
)
from domain.export_run import ExportRun, ExportTarget
from domain.shared import Actor, Period, TransitionNotAllowed

HOSTS = ["api.businesscentral.dynamics.com", "login.microsoftonline.com", "127.0.0.1"]


@pytest.mark.parametrize("url", [
    "https://api.businesscentral.dynamics.com", "https://API.businesscentral.dynamics.com:8443/x",
    "http://127.0.0.1:5000",
])
def test_allowed_urls(url: str) -> None:
    assert check_url("endpoint", url, HOSTS) == url.rstrip("/")


@pytest.mark.parametrize(("url", "why"), [
    ("https://evil.example.com", "allow-list"),
    ("https://api.businesscentral.dynamics.com.evil.com", "allow-list"),
    ("http://api.businesscentral.dynamics.com", "https"),
    ("ftp://127.0.0.1", "https"),
    ("https://x@api.businesscentral.dynamics.com", "user info"),
    ("https://api.businesscentral.dynamics.com/?a=1", "query"),
    ("https://api.businesscentral.dynamics.com:99999", "valid"),
])
def test_refused_urls_name_the_field(url: str, why: str) -> None:
    with pytest.raises(InvalidConnection, match=why) as refused:
        check_url("token_url", url, HOSTS)
    assert refused.value.field == "token_url"


def test_business_central_defaults_and_required_identifiers() -> None:
    values = {"tenant_id": "t1", "environment": "production", "company_id": "c1", "journal": "UTL"}
    settings = validate_connection("dynamics", values, HOSTS)
    assert settings["endpoint"] == "https://api.businesscentral.dynamics.com"
    assert settings["token_url"] == "https://login.microsoftonline.com/t1/oauth2/v2.0/token"
    with pytest.raises(InvalidConnection) as missing:
        validate_connection("dynamics", {**values, "journal": ""}, HOSTS)
    assert missing.value.field == "journal"
    with pytest.raises(InvalidConnection) as default_host:  # the vendor's host, not allowed here
        validate_connection("xledger", {}, ["127.0.0.1"])
    assert default_host.value.field == "endpoint"


def test_credentials_are_named_per_target() -> None:
    assert validate_credentials("xledger", {"api_token": " t "}) == {"api_token": "t"}
    with pytest.raises(InvalidConnection) as unknown:
        validate_credentials("xledger", {"api_token": "t", "password": "p"})
    assert unknown.value.field == "credentials.password"
    with pytest.raises(InvalidConnection) as missing:
        validate_credentials("dynamics", {"client_id": "c"})
    assert missing.value.field == "credentials.client_secret"


def test_health_checks_are_15_minutes_apart_and_back_off_after_failures() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert next_health_check(now, True, 0) - now == timedelta(minutes=15)
    waits = [next_health_check(now, False, n) - now for n in range(1, 8)]
    assert waits[:3] == [timedelta(minutes=15), timedelta(minutes=30), timedelta(hours=1)]
    assert waits == sorted(waits) and waits[-1] == timedelta(hours=6)


def test_line_key_tells_expense_and_counter_line_apart_and_ignores_amount_format() -> None:
    assert line_key("D1", "c", "7140", Decimal("100")) == line_key("D1", "c", "7140", 100.0)
    assert line_key("D1", "c", "7140", "100.00") != line_key("D1", "c", "2930", "-100.00")


def _state(attempt: int, error: Exception) -> RetryCallState:
    state = RetryCallState(retry_object=RetryPolicy().retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = attempt
    state.set_exception((type(error), error, None))
    return state


def test_retry_waits_grow_and_never_undercut_retry_after() -> None:
    policy = RetryPolicy(initial_seconds=0.5, max_seconds=60)
    plain = [policy._wait(_state(n, DeliveryUnavailable("503"))) for n in range(1, 6)]
    assert all(0.5 * 2 ** (n - 1) <= w <= 0.5 * 2 ** (n - 1) + 1 for n, w in enumerate(plain, 1))
    told = policy._wait(_state(1, DeliveryUnavailable("429", retry_after=7)))
    assert 7 <= told <= 8
    capped = RetryPolicy(retry_after_cap_seconds=30)._wait(
        _state(1, DeliveryUnavailable("429", retry_after=86400)))
    assert capped <= 31


def test_delivery_lifecycle_of_a_run() -> None:
    org = uuid4()
    actor = Actor("system", org, "t")
    run = ExportRun.request(org, Period(date(2025, 1, 1), date(2025, 1, 31)),
                            ExportTarget.DYNAMICS, actor)
    with pytest.raises(TransitionNotAllowed):
        run.queue_delivery(actor)  # only a completed run is delivered
    run.start([], actor)
    run.complete({"path": "p", "size_bytes": 1, "sha256": "x", "content_type": "text/csv"}, actor)
    with pytest.raises(TransitionNotAllowed):
        run.retry_delivery(actor)  # no delivery yet
    run.queue_delivery(actor)
    run.start_delivery(4, 0, actor)
    run.record_lines_posted(1, ["a", "b"], actor)
    assert run.delivery is not None and run.delivery["lines_posted"] == 2
    run.start_delivery(4, 3, actor)  # resumed after a crash: 3 lines found in the ledger
    assert run.delivery["attempts"] == 2 and run.delivery["lines_posted"] == 3
    run.fail_delivery("unavailable", "HTTP 503", actor)
    run.retry_delivery(actor)
    run.start_delivery(4, 3, actor)
    run.record_lines_posted(1, ["d"], actor)
    run.complete_delivery("2025-02-01T00:00:00+00:00", actor)
    assert run.delivery["status"] == "delivered" and run.delivery["lines_posted"] == 4
    with pytest.raises(TransitionNotAllowed):
        run.retry_delivery(actor)  # delivered is final: never posted again
