"""Accepted runs execute on the queue: claims taken, file written, read model updated."""

from __future__ import annotations

import csv
import io
import os
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import psycopg
from fastapi.testclient import TestClient

from application.export_runs import claims_in_history
from application.task_names import REMOVE_UNFINISHED_FILES
from bootstrap import Services
from domain.shared import Actor
from domain.vouchers import ledger_ref
from infrastructure.settings import Settings
from interfaces.demo import ORGS, demo_settings
from interfaces.http.auth import Role
from tests.integration.conftest import Tokens, claim_json, drain_queue

SETTINGS = demo_settings(ORGS[0])


def setup_org(client: TestClient, org: Tokens, claims: list[dict[str, Any]]) -> None:
    r = client.put(f"/v1/orgs/{org.org_id}/accounting-settings", json=SETTINGS,
                   headers=org.header(Role.ADMIN))
    assert r.status_code == 200, r.text
    r = client.put(f"/v1/orgs/{org.org_id}/claims", json={"claims": claims}, headers=org.header())
    assert r.status_code == 200 and r.json() == {"upserted": len(claims), "unchanged": 0, "locked": []}


def request_run(client: TestClient, org: Tokens, start: str, end: str, target: str = "xledger") -> str:
    r = client.post(f"/v1/orgs/{org.org_id}/export-runs",
                    json={"period_start": start, "period_end": end, "target": target},
                    headers=org.header())
    assert r.status_code == 202, r.text
    return str(r.json()["run_id"])


def get_run(client: TestClient, org: Tokens, run_id: str) -> dict[str, Any]:
    r = client.get(f"/v1/orgs/{org.org_id}/export-runs/{run_id}", headers=org.header())
    assert r.status_code == 200
    return dict(r.json())


def download(client: TestClient, url: str) -> bytes:
    parts = urlsplit(url)
    r = client.get(f"{parts.path}?{parts.query}")
    assert r.status_code == 200
    return r.content


def test_run_executes_on_the_worker_and_file_is_downloadable(
    client: TestClient, services: Services, org: Tokens
) -> None:
    inside = [claim_json("2025-01-10", "120.50"), claim_json("2025-01-31", "80.00")]
    outside = [claim_json("2025-02-01", "99.00")]
    setup_org(client, org, inside + outside)
    run_id = request_run(client, org, "2025-01-01", "2025-01-31")
    drain_queue(services)
    run = get_run(client, org, run_id)
    assert run["status"] == "completed", run
    assert run["record_count"] == 2 and run["completed_at"] is not None
    content = download(client, run["file"]["download_url"])
    import hashlib

    assert hashlib.sha256(content).hexdigest() == run["file"]["sha256"]
    assert len(content) == run["file"]["size_bytes"]
    text = content.decode("utf-8")
    refs = [ledger_ref(c["id"]) for c in (*inside, *outside)]
    assert refs[0] in text and refs[1] in text and refs[2] not in text
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0][0] == "ImpSystem"
    # The event log alone tells which claims, with which amounts, went into the run.
    taken = claims_in_history(services.store.history(run_id_uuid(run_id)))
    assert sorted((c["claim_id"], c["amount"], c["ledger_ref"]) for c in taken) == sorted(
        (c["id"], c["amount"], ledger_ref(c["id"])) for c in inside
    )
    # Every reference in the file is one the events recorded for exactly one claim.
    assert {row[1] for row in rows[1:]} == {c["ledger_ref"] for c in taken}


def run_id_uuid(run_id: str) -> Any:
    from uuid import UUID

    return UUID(run_id)


def test_signed_url_is_bound_to_file_and_signature(client: TestClient, services: Services, org: Tokens) -> None:
    setup_org(client, org, [claim_json("2025-01-10")])
    run_id = request_run(client, org, "2025-01-01", "2025-01-31")
    drain_queue(services)
    url = urlsplit(get_run(client, org, run_id)["file"]["download_url"])
    assert client.get(f"{url.path}?{url.query}").status_code == 200
    assert client.get(f"{url.path}x?{url.query}").status_code == 403
    assert client.get(f"{url.path}?{url.query[:-2]}aa").status_code == 403
    assert client.get(url.path).status_code == 403
    assert client.get(f"/v1/files/../../etc/passwd?{url.query}").status_code in (403, 404)
    expired = services.signer.sign(url.path.removeprefix("/v1/files/"), now=1_000_000)
    e = urlsplit(expired)
    assert client.get(f"{e.path}?{e.query}").status_code == 403


def test_unmapped_category_fails_the_run_and_frees_claims(client: TestClient, services: Services, org: Tokens) -> None:
    claims = [claim_json("2025-01-10", category="hotell"), claim_json("2025-01-11")]
    setup_org(client, org, claims)
    run_id = request_run(client, org, "2025-01-01", "2025-01-31")
    drain_queue(services)
    run = get_run(client, org, run_id)
    assert run["status"] == "failed" and run["file"] is None
    assert run["error"]["code"] == "unmapped_category" and "hotell" in run["error"]["message"]
    with psycopg.connect(services.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM claim_reservations").fetchone() == (0,)
    # Fixing the settings makes the same period exportable again, with the same claims.
    fixed = {**SETTINGS, "categories": {**SETTINGS["categories"],  # type: ignore[dict-item]
                                        "hotell": {"account": "7140", "tax_code": "0", "dimension": None}}}
    assert client.put(f"/v1/orgs/{org.org_id}/accounting-settings", json=fixed,
                      headers=org.header(Role.ADMIN)).json()["version"] == 2
    again = request_run(client, org, "2025-01-01", "2025-01-31")
    drain_queue(services)
    assert get_run(client, org, again)["record_count"] == 2


def test_run_without_claims_completes_with_zero(client: TestClient, services: Services, org: Tokens) -> None:
    setup_org(client, org, [claim_json("2025-03-10")])
    run_id = request_run(client, org, "2025-01-01", "2025-01-31", "dynamics")
    drain_queue(services)
    run = get_run(client, org, run_id)
    assert (run["status"], run["record_count"]) == ("completed", 0)


def test_rolled_back_append_leaves_no_job(client: TestClient, services: Services, org: Tokens) -> None:
    """The job is deferred in the append's transaction: a refused run leaves no job behind."""
    request_run(client, org, "2025-01-01", "2025-01-31")
    for _ in range(3):
        r = client.post(f"/v1/orgs/{org.org_id}/export-runs",
                        json={"period_start": "2025-01-15", "period_end": "2025-02-15", "target": "xledger"},
                        headers=org.header())
        assert r.status_code == 409
    with psycopg.connect(services.database_url) as conn:
        jobs = conn.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'execute_export_run'"
        ).fetchone()
    assert jobs == (1,)


def test_pending_run_whose_job_was_lost_is_requeued_by_the_sweep(
    client: TestClient, services: Services, org: Tokens
) -> None:
    from infrastructure.projections.runner import rebuild

    setup_org(client, org, [claim_json("2025-01-10")])
    run_id = request_run(client, org, "2025-01-01", "2025-01-31")
    with psycopg.connect(services.database_url) as conn:  # the job vanished (e.g. purged by hand)
        conn.execute("DELETE FROM procrastinate_jobs")
    rebuild(services.env, "export_runs")
    assert [str(i) for i in services.upkeep.requeue_orphaned_export_runs(0)] == [run_id]
    drain_queue(services)
    assert get_run(client, org, run_id)["status"] == "completed"


def test_the_sweep_reads_guard_rows_not_the_lagging_read_models(
    client: TestClient, services: Services, org: Tokens
) -> None:
    """No projection has run here (the export_runs read model is empty), yet the sweep finds
    the orphaned pending run and, once it runs past the timeout, the stuck running one."""
    setup_org(client, org, [claim_json("2025-01-10")])
    pending = request_run(client, org, "2025-01-01", "2025-01-31")
    running = request_run(client, org, "2025-02-01", "2025-02-28")
    with psycopg.connect(services.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM export_runs").fetchone() == (0,)
        conn.execute("DELETE FROM procrastinate_jobs")
    run = services.store.get(run_id_uuid(running))
    run.start([], Actor("system:worker", org.org_id, "crashed-worker"))
    services.store.save(run)
    assert [str(i) for i in services.upkeep.requeue_orphaned_export_runs(0)] == [pending]
    services.export_runs.timeout = timedelta(0)
    assert [str(i) for i in services.upkeep.fail_stuck_export_runs()] == [running]
    assert get_run(client, org, running)["status"] == "failed"


def test_a_file_a_dead_worker_left_unfinished_is_removed_by_the_hourly_job(
    client: TestClient, services: Services, org: Tokens, settings: Settings
) -> None:
    """A worker killed after writing a run's file under its own name (`….pending`) and before
    the run's append answered leaves it behind; the run is executed again with a file of its
    own. The hourly job removes the left file once older than the run timeout, and only it."""
    setup_org(client, org, [claim_json("2025-01-10")])
    run_id = request_run(client, org, "2025-01-01", "2025-01-31")
    drain_queue(services)
    run = get_run(client, org, run_id)
    assert run["status"] == "completed"
    folder = settings.data_dir / "files" / "exports" / str(org.org_id)
    left = folder / f"{run_id}.csv.{'1' * 32}.pending"  # a dead worker's, as `_write` names it
    live = folder / f"{run_id}.csv.{'2' * 32}.pending"  # a live worker's, still written
    left.write_bytes(b"half a file")
    live.write_bytes(b"being written")
    old = time.time() - services.export_runs.timeout.total_seconds() - 60
    os.utime(left, (old, old))
    _, remove_unfinished = services.upkeep.periodic()[REMOVE_UNFINISHED_FILES]
    assert remove_unfinished(0) == [f"exports/{org.org_id}/{left.name}"]
    assert sorted(p.name for p in folder.iterdir()) == sorted([live.name, f"{run_id}.csv"])
    assert download(client, get_run(client, org, run_id)["file"]["download_url"])
