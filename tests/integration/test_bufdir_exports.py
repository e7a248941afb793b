"""Bufdir exports end to end: API → queue → worker → signed download, read model, sweep."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from fastapi.testclient import TestClient

from bootstrap import Services
from domain.bufdir_config import DEFAULT_CONFIG
from domain.shared import Actor
from infrastructure.projections.runner import rebuild
from interfaces.http.auth import Role
from tests.integration.bufdir_helpers import (
    PDF,
    activity,
    download,
    get_export,
    put_activities,
    request_export,
    sheets,
    zip_member,
    zip_names,
)
from tests.integration.conftest import Tokens, drain_queue

PIPELINE = ["initialised", "querying_activities", "mapping_columns", "generating_file",
            "storing_file", "completed"]
REASON_COLUMN = "Årsakskode"


def seed(client: TestClient, org: Tokens) -> None:
    items = [activity(i, f"2024-03-{1 + i % 28:02d}") for i in range(10)]
    items.append(activity(10, "2024-04-02", participants=2))  # too few for a group meeting
    items.append(activity(11, "2024-04-03", activity_type="besøk", participants=1,
                          municipality="4601", duration_minutes=None, contact_mode="in_person"))
    items.append(activity(12, "2023-12-31"))  # outside the period
    items.append(activity(13, "2019-05-01", municipality="1201"))  # outside, old number
    assert put_activities(client, org, items).status_code == 200


def completed(client: TestClient, services: Services, org: Tokens, **kw: Any) -> dict[str, Any]:
    export_id = request_export(client, org, **kw)
    drain_queue(services)
    return get_export(client, org, export_id)


def test_xlsx_export_end_to_end(client: TestClient, services: Services, org: Tokens) -> None:
    seed(client, org)
    export = completed(client, services, org)
    assert export["status"] == "completed", export
    assert [h["status"] for h in export["status_history"]] == PIPELINE
    times = [datetime.fromisoformat(h["at"].replace("Z", "+00:00")) for h in
             export["status_history"]]
    assert times == sorted(times) and all(t.tzinfo is not None for t in times)
    assert export["row_count"] == 12 and export["error_message"] is None
    assert export["config_version"] == 0
    content = download(client, export["download_url"])
    assert export["file_size_bytes"] == len(content)
    book = sheets(content)
    assert list(book) == ["Aktiviteter", "Per kategori", "Per fylke", "Per kommune",
                          "Ikke talt", "Om rapporten"]
    rows = book["Aktiviteter"]
    assert list(rows[0]) == DEFAULT_CONFIG.headers
    assert len(rows) == 13
    by_id = {r[0]: dict(zip(rows[0], r)) for r in rows[1:]}  # noqa: B905 - trailing blanks
    assert by_id["akt-00010"]["Telles"] == "Nei"
    assert by_id["akt-00010"][REASON_COLUMN] == "too_few_participants"
    assert by_id["akt-00011"]["Telles"] == "Ja" and by_id["akt-00011"]["Kommune"] == "Bergen"
    assert by_id["akt-00000"]["Dato"] == "01.03.2024"
    total = book["Per kategori"][-1]
    assert total[1] == "Totalt" and total[2] == 11  # 11 of 12 rows count
    summary = export["summary"]
    assert (summary["counted_activities"], summary["activity_days"]) == (11, 11)
    assert summary["not_counted"]["too_few_participants"] == 1
    # The URL is bound to its file.
    parts = urlsplit(export["download_url"].replace(".xlsx", ".csv"))
    assert client.get(f"{parts.path}?{parts.query}").status_code == 403


def test_csv_and_zip_with_attachments(client: TestClient, services: Services, org: Tokens) -> None:
    seed(client, org)
    url = f"/v1/orgs/{org.org_id}/activities/akt-00001/attachments"
    h = {**org.header(), "Content-Type": "application/octet-stream"}
    assert client.put(f"{url}/kvittering.pdf", content=PDF, headers=h).status_code == 201
    assert client.put(f"{url}/referat.txt", content=b"Referat", headers=h).status_code == 201
    export = completed(client, services, org, fmt="csv")
    text = download(client, export["download_url"]).decode("utf-8-sig")
    lines = text.strip().splitlines()
    assert lines[0].split(";") == DEFAULT_CONFIG.headers and len(lines) == 13
    bundle = completed(client, services, org, fmt="csv", attachments=True)
    assert "bundling_attachments" in [h["status"] for h in bundle["status_history"]]
    content = download(client, bundle["download_url"])
    names = zip_names(content)
    assert "vedlegg/akt-00001/kvittering.pdf" in names
    assert "vedlegg/akt-00001/referat.txt" in names
    assert zip_member(content, "vedlegg/akt-00001/kvittering.pdf") == PDF
    assert next(n for n in names if not n.startswith("vedlegg/")).endswith(".csv")


def test_empty_period_completes_empty(client: TestClient, services: Services, org: Tokens) -> None:
    seed(client, org)
    export = completed(client, services, org, start="2025-01-01", end="2025-01-31")
    assert export["status"] == "completed_empty"
    assert export["row_count"] == 0 and export["download_url"] is None
    assert [h["status"] for h in export["status_history"]] == [
        "initialised", "querying_activities", "completed_empty"]


def test_org_rule_by_configuration_changes_the_counting(
    client: TestClient, services: Services, org: Tokens
) -> None:
    seed(client, org)
    before = sheets(download(client, completed(client, services, org)["download_url"]))
    counts = before["Aktiviteter"][0].index("Telles")
    assert {r[0]: r[counts] for r in before["Aktiviteter"][1:]}["akt-00001"] == "Ja"
    document = DEFAULT_CONFIG.model_dump(mode="json")
    url = f"/v1/orgs/{org.org_id}/bufdir-config"
    document["activity_types"]["gruppemøte"]["min_participants"] = 2
    looser = client.put(url, json=document, headers=org.header(Role.ADMIN))
    assert looser.status_code == 422, looser.text
    assert looser.json()["errors"][0]["field"] == "activity_types.gruppemøte.min_participants"
    document["activity_types"]["gruppemøte"]["min_participants"] = 6
    put = client.put(url, json=document, headers=org.header(Role.ADMIN))
    assert put.status_code == 200 and put.json()["version"] == 1
    export = completed(client, services, org)
    assert export["config_version"] == 1
    after = sheets(download(client, export["download_url"]))
    assert {r[0]: r[counts] for r in after["Aktiviteter"][1:]}["akt-00001"] == "Nei"
    assert after["Per kategori"][-1][2] == 1  # only the visit still counts
    assert export["summary"]["not_counted"]["too_few_participants"] == 11


def dump(services: Services) -> list[tuple[Any, ...]]:
    with services.pool.connection() as conn:
        return [tuple(r) for r in conn.execute("SELECT * FROM bufdir_audit_log ORDER BY export_id")]


def test_read_model_lists_newest_first_and_rebuilds_identically(
    client: TestClient, services: Services, org: Tokens
) -> None:
    seed(client, org)
    first = completed(client, services, org)
    second = completed(client, services, org, start="2030-01-01", end="2030-01-31")
    rebuild(services.env, "bufdir_audit_log")
    once = dump(services)
    rebuild(services.env, "bufdir_audit_log")
    assert dump(services) == once and len(once) == 2
    listed = client.get(f"/v1/orgs/{org.org_id}/bufdir-exports", headers=org.header(Role.ANALYST))
    assert listed.status_code == 200
    assert [e["export_id"] for e in listed.json()] == [second["export_id"], first["export_id"]]
    without_url = {k: v for k, v in first.items() if k != "download_url"}
    assert {k: v for k, v in listed.json()[1].items() if k != "download_url"} == without_url
    assert listed.json()[1]["download_url"].split("?")[0] == first["download_url"].split("?")[0]
    limited = client.get(f"/v1/orgs/{org.org_id}/bufdir-exports?limit=1&status=completed_empty",
                         headers=org.header())
    assert [e["export_id"] for e in limited.json()] == [second["export_id"]]
    other = Tokens(UUID(int=org.org_id.int ^ 1))
    assert client.get(f"/v1/orgs/{other.org_id}/bufdir-exports/{first['export_id']}",
                      headers=other.header()).status_code == 404


def test_bad_requests_and_roles(client: TestClient, org: Tokens) -> None:
    url = f"/v1/orgs/{org.org_id}/bufdir-exports"
    good = {"period_start": "2024-01-01", "period_end": "2024-12-31", "format": "xlsx",
            "include_attachments": False}
    for bad, field in (({"format": "pdf"}, "format"), ({"period_end": "2023-01-01"}, "period_end"),
                       ({"include_attachments": "yes"}, "include_attachments"),
                       ({"period_start": 20240101}, "period_start")):
        response = client.post(url, json={**good, **bad}, headers=org.header())
        assert response.status_code == 422 and field in [e["field"] for e in response.json()["errors"]]
    for role in (Role.AUDITOR, Role.ANALYST, Role.SCHEDULER):
        assert client.post(url, json=good, headers=org.header(role)).status_code == 403
    assert client.get(f"{url}/not-a-uuid", headers=org.header()).status_code == 422
    h = {**org.header(), "Idempotency-Key": "bufdir-1"}
    first, again = client.post(url, json=good, headers=h), client.post(url, json=good, headers=h)
    assert first.status_code == again.status_code == 202 and first.json() == again.json()


def _die_after_querying(services: Services, export_id: str) -> None:
    """A worker that committed `querying_activities` and was killed; its job is gone."""
    export = services.store.get(UUID(export_id))
    export.enter_step("query_activities", Actor("system:worker", export.org_id, "dead"))
    services.store.save(export)
    with services.pool.connection() as conn:
        conn.execute("UPDATE procrastinate_jobs SET status = 'failed' "
                     "WHERE args ->> 'export_id' = %s", (export_id,))


def test_killed_worker_is_requeued_and_completes(
    client: TestClient, services: Services, org: Tokens
) -> None:
    seed(client, org)
    export_id = request_export(client, org)
    _die_after_querying(services, export_id)
    drain_queue(services)
    assert get_export(client, org, export_id)["status"] == "querying_activities"
    rebuild(services.env, "bufdir_audit_log")
    requeued, failed = services.upkeep.sweep_bufdir_exports(idle_seconds=0)
    assert requeued == [UUID(export_id)] and failed == []
    drain_queue(services)
    export = get_export(client, org, export_id)
    assert export["status"] == "completed" and export["row_count"] == 12
    assert [h["status"] for h in export["status_history"]] == PIPELINE


def test_export_open_past_the_timeout_is_failed_by_the_sweep(
    client: TestClient, services: Services, org: Tokens
) -> None:
    seed(client, org)
    export_id = request_export(client, org)
    _die_after_querying(services, export_id)
    rebuild(services.env, "bufdir_audit_log")
    services.upkeep.run_timeout_seconds = 1
    time.sleep(1.1)
    services.upkeep.sweep()
    export = get_export(client, org, export_id)
    assert export["status"] == "failed" and export["download_url"] is None
    assert "tidsgrensen" in export["error_message"]
    drain_queue(services)  # a late job changes nothing
    assert get_export(client, org, export_id)["status"] == "failed"


def test_demo_data_exports_for_each_organisation(client: TestClient, services: Services) -> None:
    from interfaces.demo import ORGS, load_demo

    assert load_demo(services)
    today = datetime.now().date()
    for demo in ORGS:
        org = Tokens(demo.org_id)
        config = client.get(f"/v1/orgs/{org.org_id}/bufdir-config", headers=org.header()).json()
        assert config["version"] == 1
        export_id = request_export(client, org, start=f"{today.year - 1}-01-01",
                                   end=f"{today.year}-12-31")
        drain_queue(services)
        export = get_export(client, org, export_id)
        assert export["status"] == "completed" and export["row_count"] == 240, export
        assert export["config_version"] == 1
        rows = sheets(download(client, export["download_url"]))["Aktiviteter"]
        header = list(rows[0])
        counted = [r[header.index("Telles")] for r in rows[1:]]
        summary = export["summary"]
        assert counted.count("Ja") == summary["counted_activities"] > 100
        assert summary["activity_days"] == sum(r[header.index("Aktivitetsdager")]
                                               for r in rows[1:])
        assert summary["activity_days"] > summary["counted_activities"]  # courses over days
        assert summary["not_counted"]["not_a_counting_type"] > 0  # arrangement never counts
        assert summary["not_counted"]["not_in_person"] > 0  # phone conversations


def test_demo_data_loads_once_with_schedules_and_accounting_settings(
    client: TestClient, services: Services
) -> None:
    from interfaces.demo import ORGS, load_demo

    assert load_demo(services) is True
    assert load_demo(services) is False  # the second start leaves the data alone
    for demo in ORGS:
        org = Tokens(demo.org_id)
        schedule = client.get(f"/v1/orgs/{org.org_id}/sync-schedules/{demo.target}",
                              headers=org.header())
        assert schedule.status_code == 200 and schedule.json()["cron"] == "0 6 2 * *"
        settings = client.get(f"/v1/orgs/{org.org_id}/accounting-settings", headers=org.header())
        assert settings.json()["version"] == 1
