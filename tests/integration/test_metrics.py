"""/metrics by the Prometheus conventions: route templates as labels, durations in seconds,
no `_created` series, and the queue's depth and age read from the database at scrape time."""

from __future__ import annotations

import re
import time

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from bootstrap import Services
from tests.integration.conftest import Tokens, drain_queue

PERIOD = {"period_start": "2025-02-01", "period_end": "2025-02-28", "target": "xledger"}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(text: str, name: str, **labels: str) -> float | None:
    return samples(text).get((name, tuple(sorted(labels.items()))))


def ended(text: str) -> float:
    return sum(v for (name, _), v in samples(text).items()
               if name == "export_service_export_runs_finished_total")


def test_requests_are_labelled_by_route_template_and_timed_in_seconds(
    client: TestClient, org: Tokens
) -> None:
    route = "/v1/orgs/{org_id}/export-runs"
    before = client.get("/metrics").text
    count_before = value(before, "export_service_http_requests_total", method="POST", route=route,
                         status="202") or 0
    r = client.post(f"/v1/orgs/{org.org_id}/export-runs", json=PERIOD, headers=org.header())
    assert r.status_code == 202
    client.get(f"/v1/orgs/{org.org_id}/nowhere", headers=org.header())
    text = client.get("/metrics").text
    assert value(text, "export_service_http_requests_total", method="POST", route=route,
                 status="202") == count_before + 1
    assert (value(text, "export_service_http_request_duration_seconds_count", method="POST",
                  route=route) or 0) >= 1
    assert value(text, "export_service_http_requests_total", method="GET", route="unmatched",
                 status="404")
    assert str(org.org_id) not in text  # ids never become label values
    assert "_created" not in text
    assert not re.search(r'route="\?"', text)


def test_queue_depth_and_oldest_job_age_come_from_the_queue(
    client: TestClient, services: Services, org: Tokens
) -> None:
    for month in ("03", "04", "05"):
        period = {"period_start": f"2025-{month}-01", "period_end": f"2025-{month}-28",
                  "target": "xledger"}
        assert client.post(f"/v1/orgs/{org.org_id}/export-runs", json=period,
                           headers=org.header()).status_code == 202
    time.sleep(1.1)
    text = client.get("/metrics").text
    assert value(text, "export_service_queue_jobs", task="execute_export_run", status="todo") == 3
    assert (value(text, "export_service_queue_oldest_job_age_seconds") or 0) >= 1
    ended_before = ended(text)
    drain_queue(services)
    text = client.get("/metrics").text
    assert value(text, "export_service_queue_jobs", task="execute_export_run", status="todo") == 0
    assert value(text, "export_service_queue_oldest_job_age_seconds") == 0
    assert ended(text) == ended_before + 3  # run outcomes: each run that ended, by status
