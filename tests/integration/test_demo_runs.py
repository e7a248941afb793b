"""The demo data includes what its monthly sync did last month: one completed export run per
organisation, with the claims approved in that month, so a newcomer's overview is not empty."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from bootstrap import Services
from infrastructure.projections.runner import rebuild
from interfaces.demo import ORGS, demo_claims, last_closed_month, load_demo
from tests.integration.conftest import Tokens, drain_queue


def test_each_demo_organisation_has_last_months_run_completed(
        client: TestClient, services: Services) -> None:
    assert load_demo(services)
    drain_queue(services)
    rebuild(services.env, "export_runs")  # the read model the list answers from
    today = datetime.now(UTC).date()
    month = last_closed_month(today)
    for demo in ORGS:
        org = Tokens(demo.org_id)
        runs = client.get(f"/v1/orgs/{org.org_id}/export-runs", headers=org.header()).json()
        assert [(r["period_start"], r["period_end"], r["target"]) for r in runs] == [
            (str(month.start), str(month.end), demo.target)]
        run = runs[0]
        in_month = [c for c in demo_claims(demo, today)
                    if month.start <= c.approved_at.astimezone(ZoneInfo("Europe/Oslo")).date()
                    <= month.end]
        assert run["status"] == "completed", run
        assert run["record_count"] == len(in_month) > 0


def test_the_month_so_far_is_left_free_for_a_newcomers_first_run(
        client: TestClient, services: Services) -> None:
    assert load_demo(services)
    today = datetime.now(UTC).date()
    org = Tokens(ORGS[0].org_id)
    r = client.post(f"/v1/orgs/{org.org_id}/export-runs", headers=org.header(), json={
        "period_start": str(today.replace(day=1)), "period_end": str(today), "target": "xledger"})
    assert r.status_code == 202, r.text
