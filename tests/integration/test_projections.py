"""Read models are built only from events: a rebuild gives the same rows, a runner killed
mid-batch resumes without a gap or a double count, and their positions are visible."""

from __future__ import annotations

import re
import signal
import time

import psycopg
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from bootstrap import Services
from infrastructure.audit import verify_all
from infrastructure.event_store import EVENTS_TABLE
from infrastructure.projections.runner import PROJECTIONS, rebuild
from interfaces.cli import app as cli
from tests.integration.conftest import Tokens
from tests.integration.history_helpers import seed_all
from tests.integration.projection_helpers import (
    append_runs,
    catch_up,
    chained_ids,
    dump,
    positions,
    scalar,
    start_runner_process,
    tracked_position,
    wait_caught_up,
)

WATCHED = ("export_runs", "audit_chain")

COUNT_REQUESTED = (
    f"SELECT count(*) FROM {EVENTS_TABLE} "
    "WHERE topic = 'domain.export_run:ExportRun.Requested'"
)


def test_rebuilding_every_projection_gives_identical_read_models(
    client: TestClient, services: Services, org: Tokens
) -> None:
    seeded = seed_all(client, services, org)
    catch_up(services)
    before = dump(services.database_url)
    # Data in every read model: a completed and a failed run, Bufdir exports, sync runs.
    runs = "\n".join(before["export_runs"])
    assert seeded.completed_run in runs and seeded.failed_run in runs
    assert '"status": "completed"' in runs and '"status": "failed"' in runs
    assert len(before["bufdir_audit_log"]) == 2
    for name, model in PROJECTIONS.items():
        tables = model.tables or ("audit_chain",)
        assert any(before[t] for t in tables), f"{name} is empty: comparing would prove nothing"
    assert seeded.sync_runs
    assert all(any(str(s) in "\n".join(v) for v in before.values()) for s in seeded.sync_runs)

    for name in PROJECTIONS:
        rebuild(services.env, name, timeout=60)
    after = dump(services.database_url)
    assert after == before
    # The chain is append-only (its rebuild only catches up): it must still verify.
    with psycopg.connect(services.database_url) as conn:
        results = verify_all(conn)
    assert results and all(r.ok for r in results)
    assert {r.org_id for r in results} >= {org.org_id}


def kill_mid_batch(services: Services, db_url: str) -> int:
    """Start a runner process and SIGKILL it while it is between position 0 and the head."""
    for _attempt in range(3):
        runner = start_runner_process(db_url)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and runner.poll() is None:
                now = positions(db_url)
                behind = [now[n] for n in WATCHED if 0 < now[n][0] < now[n][1]]
                if behind:
                    runner.send_signal(signal.SIGKILL)
                    return behind[0][0]
                if all(now[n][0] == now[n][1] for n in WATCHED):
                    break  # too fast to catch: give it more to do, then try again
                time.sleep(0.002)
        finally:
            if runner.poll() is None:
                runner.send_signal(signal.SIGKILL)
            runner.wait(timeout=10)
        append_runs(services, 150)
    raise AssertionError("the runner was never caught mid-batch")


def test_runner_killed_mid_batch_resumes_without_gap_or_double_count(
    services: Services, db_url: str
) -> None:
    append_runs(services, 150)
    killed_at = kill_mid_batch(services, db_url)
    now = positions(db_url)
    assert killed_at > 0 and any(now[n][0] < now[n][1] for n in WATCHED)  # work left behind
    assert chained_ids(db_url) == list(range(1, now["audit_chain"][0] + 1))

    # More events arrive while no runner is up, then a new one resumes from the positions.
    append_runs(services, 20)
    runner = start_runner_process(db_url)
    try:
        wait_caught_up(db_url, list(WATCHED))
    finally:
        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=10)

    head = scalar(db_url, f"SELECT max(notification_id) FROM {EVENTS_TABLE}")
    events = scalar(db_url, f"SELECT count(*) FROM {EVENTS_TABLE}")
    assert head == events  # the log itself has no gap
    assert all(tracked_position(db_url, n) == head for n in WATCHED)
    # Every event linked exactly once, in order: no gap, no double count (and it verifies).
    assert chained_ids(db_url) == list(range(1, head + 1))
    with psycopg.connect(db_url) as conn:
        assert all(r.ok for r in verify_all(conn))
        per_org = conn.execute(
            "SELECT count(*) FROM audit_chain GROUP BY org_id HAVING max(seq) <> count(*)"
        ).fetchall()
    assert per_org == []
    # Every run exactly once and in its final state, counts equal to the event log.
    requested = scalar(db_url, COUNT_REQUESTED)
    assert requested == events // 3
    assert scalar(db_url, "SELECT count(DISTINCT run_id) FROM export_runs") == requested
    assert scalar(db_url, "SELECT count(*) FROM export_runs") == requested
    assert scalar(db_url, "SELECT count(*) FROM export_runs WHERE status <> 'completed' "
                          "OR version <> 3") == 0
    # And the resumed read model is exactly what a rebuild from nothing gives.
    before = dump(db_url)["export_runs"]
    rebuild(services.env, "export_runs", timeout=60)
    assert dump(db_url)["export_runs"] == before


def test_cli_status_and_rebuild(services: Services, db_url: str) -> None:
    append_runs(services, 3)
    runner = CliRunner()
    env = {"DATABASE_URL": db_url}
    status = runner.invoke(cli, ["projections", "status"], env=env)
    assert status.exit_code == 0, status.output
    for name in PROJECTIONS:
        assert re.search(rf"^{name}\s+0\s+9\s+9$", status.output, re.MULTILINE), status.output

    rebuilt = runner.invoke(cli, ["projections", "rebuild", "export_runs"], env=env)
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "export_runs: rebuilt up to event 9" in rebuilt.output
    assert scalar(db_url, "SELECT count(*) FROM export_runs") == 3
    status = runner.invoke(cli, ["projections", "status"], env=env)
    assert re.search(r"^export_runs\s+9\s+9\s+0$", status.output, re.MULTILINE), status.output

    unknown = runner.invoke(cli, ["projections", "rebuild", "no_such_view"], env=env)
    assert unknown.exit_code == 2


def test_metrics_expose_projection_lag(
    client: TestClient, services: Services
) -> None:
    append_runs(services, 2)
    text = client.get("/metrics").text
    for name in PROJECTIONS:
        assert f'export_service_projection_lag_events{{name="{name}"}} 6.0' in text
    rebuild(services.env, "export_runs", timeout=30)
    text = client.get("/metrics").text
    assert 'export_service_projection_lag_events{name="export_runs"} 0.0' in text
