"""A delivery whose job failed for good (pending or posting, no live job) is queued again by the
periodic sweep, exactly once, and the next worker posts only what the ledger lacks."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from uuid import UUID

import psycopg
import pytest

from bootstrap import Services
from infrastructure.settings import Settings
from tests.integration.conftest import Tokens, drain_queue
from tests.integration.delivery_helpers import (
    bc,  # noqa: F401 - fixture
    bc_connection,
    bc_keys,
    delivery_settings,
    prepare,
    request_run,
    run_of,
)
from tests.integration.test_delivery_crash import wait_for, worker
from tests.standins.business_central import BusinessCentral

TASK = "deliver_export_run"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return delivery_settings(tmp_path, delivery_batch_size=5)


def fail_jobs_for_good(db_url: str, statuses: tuple[str, ...]) -> int:
    """What procrastinate leaves when a job's last attempt failed: the job is `failed`."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        cur = conn.execute("UPDATE procrastinate_jobs SET status = 'failed' "
                           "WHERE task_name = %s AND status = ANY(%s)", (TASK, list(statuses)))
        return cur.rowcount


def live_jobs(db_url: str, run_id: UUID) -> int:
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT count(*) FROM procrastinate_jobs WHERE task_name = %s "
                           "AND args ->> 'run_id' = %s AND status IN ('todo', 'doing')",
                           (TASK, str(run_id))).fetchone()
    return int(row[0]) if row else 0


def open_deliveries(db_url: str) -> list[tuple[UUID, str]]:
    with psycopg.connect(db_url) as conn:
        return [(r[0], r[1]) for r in conn.execute("SELECT run_id, status FROM open_deliveries")]


def test_a_pending_delivery_whose_job_failed_is_queued_again_once(
    services: Services, client, org: Tokens, bc: tuple[BusinessCentral, str], db_url: str  # noqa: F811
) -> None:
    standin, url = bc
    prepare(client, org, "dynamics", bc_connection(standin, url), claims=4)
    run_id = request_run(client, org, "dynamics")
    services.app.export_runs.execute(run_id)  # completed; its delivery job waits in the queue
    assert open_deliveries(db_url) == [(run_id, "pending")]
    assert services.upkeep.requeue_orphaned_deliveries(older_than_seconds=0) == []  # job alive
    assert fail_jobs_for_good(db_url, ("todo",)) == 1
    assert run_of(client, org, run_id)["delivery"]["status"] == "pending"
    # Two sweeps (e.g. the periodic one and a worker's start-up recovery): one new job.
    assert services.upkeep.requeue_orphaned_deliveries(older_than_seconds=0) == [run_id]
    assert services.upkeep.requeue_orphaned_deliveries(older_than_seconds=0) == []
    assert live_jobs(db_url, run_id) == 1
    drain_queue(services)
    assert run_of(client, org, run_id)["delivery"]["status"] == "delivered"
    assert len(standin.lines) == 8 and set(bc_keys(standin).values()) == {1}
    assert open_deliveries(db_url) == []
    assert services.upkeep.requeue_orphaned_deliveries(older_than_seconds=0) == []


def test_a_delivery_recently_touched_is_left_to_its_job(
    services: Services, client, org: Tokens, bc: tuple[BusinessCentral, str], db_url: str  # noqa: F811
) -> None:
    standin, url = bc
    prepare(client, org, "dynamics", bc_connection(standin, url), claims=2)
    run_id = request_run(client, org, "dynamics")
    services.app.export_runs.execute(run_id)
    fail_jobs_for_good(db_url, ("todo",))
    # The default sweep waits a minute after the last event before it calls a delivery orphaned.
    assert services.upkeep.requeue_orphaned_deliveries() == []
    assert live_jobs(db_url, run_id) == 0


@pytest.mark.slow
def test_killed_worker_whose_job_failed_for_good_is_swept_and_delivered_once(
    services: Services, client, org: Tokens, bc: tuple[BusinessCentral, str],  # noqa: F811
    db_url: str, tmp_path: Path,
) -> None:
    standin, url = bc
    claims = 30
    prepare(client, org, "dynamics", bc_connection(standin, url), claims=claims)
    standin.faults.post_delay_seconds = 0.2
    run_id = request_run(client, org, "dynamics")
    first = worker(db_url, tmp_path)
    try:
        posting = wait_for(lambda: len(standin.lines) >= 15, 60)
        assert posting, (tmp_path / "worker.log").read_text()[-3000:]
        first.send_signal(signal.SIGKILL)
    finally:
        if first.poll() is None:
            first.kill()
        first.wait(10)
    time.sleep(0.5)  # a batch the server was handling when the worker died may still land
    posted_before = len(standin.lines)
    assert posted_before < 2 * claims, "the worker was killed in the middle of posting"
    # The killed worker's job is given up for good (its attempts are spent): no stalled-job
    # recovery will bring it back; only the sweep can.
    assert fail_jobs_for_good(db_url, ("doing",)) == 1
    assert open_deliveries(db_url) == [(run_id, "delivering")]
    assert services.upkeep.requeue_orphaned_deliveries(older_than_seconds=0) == [run_id]
    assert services.upkeep.requeue_orphaned_deliveries(older_than_seconds=0) == []
    standin.faults.post_delay_seconds = 0.0
    second = worker(db_url, tmp_path)
    try:
        delivered = wait_for(
            lambda: run_of(client, org, run_id)["delivery"]["status"] == "delivered", 90, 0.2)
        assert delivered, (tmp_path / "worker.log").read_text()[-3000:]
    finally:
        second.terminate()
        second.wait(20)
    keys = bc_keys(standin)
    assert len(standin.lines) == 2 * claims and set(keys.values()) == {1}, "no line twice"
    history = client.get(f"/v1/orgs/{org.org_id}/export-runs/{run_id}/events", headers=org.header())
    started = [e["data"] for e in history.json() if e["type"] == "DeliveryStarted"]
    assert len(started) == 2 and started[1]["already_present"] == posted_before
    assert open_deliveries(db_url) == []
