"""Delivery outcomes in /metrics, read against what really happened at the stand-in: lines posted
and runs delivered or failed by target (connection health: test_delivery_connections.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bootstrap import Services
from infrastructure.settings import Settings
from tests.integration.conftest import Tokens, drain_queue
from tests.integration.delivery_helpers import (
    delivery_settings,
    prepare,
    request_run,
    run_of,
    xl,  # noqa: F401 - fixture
    xl_connection,
)
from tests.integration.test_metrics import value
from tests.standins.xledger import Xledger


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return delivery_settings(tmp_path)


def delivered(text: str, outcome: str) -> float:
    return value(text, "export_service_delivery_total", target="xledger", outcome=outcome) or 0


def test_metrics_count_lines_posted_and_runs_delivered(
    services: Services, client: TestClient, org: Tokens, xl: tuple[Xledger, str]  # noqa: F811
) -> None:
    standin, url = xl
    before = client.get("/metrics").text
    prepare(client, org, "xledger", xl_connection(standin, url), claims=6)
    run_id = request_run(client, org, "xledger")
    drain_queue(services)
    assert run_of(client, org, run_id)["delivery"]["status"] == "delivered"
    text = client.get("/metrics").text
    assert delivered(text, "posted") - delivered(before, "posted") == len(standin.items)
    assert delivered(text, "delivered") - delivered(before, "delivered") == 1
    assert delivered(text, "failed") == delivered(before, "failed")

