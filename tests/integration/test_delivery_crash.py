"""A worker killed (SIGKILL) in the middle of posting: the next worker reads what the journal
already holds and posts only the rest. No line twice, none lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bootstrap import Services
from infrastructure.settings import Settings
from tests.integration.conftest import SECRET, Tokens
from tests.integration.delivery_helpers import (
    bc,  # noqa: F401 - fixture
    bc_connection,
    bc_keys,
    delivery_settings,
    prepare,
    request_run,
    run_of,
)
from tests.standins.business_central import BusinessCentral

pytestmark = pytest.mark.slow
CLAIMS = 40


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return delivery_settings(tmp_path, delivery_batch_size=5)


def worker(db_url: str, data_dir: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "EXPORT_SERVICE_DATA_DIR": str(data_dir),
        "EXPORT_SERVICE_JWT_SECRET": SECRET,
        # the key the in-process service generated when it stored the connection
        "EXPORT_SERVICE_CREDENTIALS_KEY": (data_dir / "credentials-key").read_text(),
        "EXPORT_SERVICE_DELIVERY_HOSTS": "127.0.0.1",
        "EXPORT_SERVICE_DELIVERY_BATCH_SIZE": "5",
        "EXPORT_SERVICE_DELIVERY_RETRY_INITIAL_SECONDS": "0.05",
        "EXPORT_SERVICE_STALLED_JOB_SECONDS": "1",
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-c", "from interfaces.cli import main; main()", "worker"],
        env=env, stdout=subprocess.DEVNULL, stderr=(data_dir / "worker.log").open("ab"),
    )


def wait_for(predicate: object, timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(interval)
    return False


def test_killed_worker_mid_posting_then_restart_posts_no_line_twice(
    services: Services, client, org: Tokens, bc: tuple[BusinessCentral, str],  # noqa: F811
    db_url: str, tmp_path: Path,
) -> None:
    standin, url = bc
    prepare(client, org, "dynamics", bc_connection(standin, url), claims=CLAIMS)
    standin.faults.post_delay_seconds = 0.2  # 16 batches: posting takes a few seconds
    run_id = request_run(client, org, "dynamics")
    first = worker(db_url, tmp_path)
    try:
        posting = wait_for(lambda: len(standin.lines) >= 20, 60)
        assert posting, (tmp_path / "worker.log").read_text()[-3000:]
        first.send_signal(signal.SIGKILL)
    finally:
        if first.poll() is None:
            first.kill()
        first.wait(10)
    time.sleep(0.5)  # a batch the server was handling when the worker died may still land
    posted_before = len(standin.lines)
    assert 20 <= posted_before < 2 * CLAIMS, "the worker was killed in the middle of posting"
    assert run_of(client, org, run_id)["delivery"]["status"] == "delivering"
    time.sleep(1.5)  # the dead worker's heartbeat goes stale; its lock died with its session
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
    assert len(standin.lines) == 2 * CLAIMS and set(keys.values()) == {1}
    delivery = run_of(client, org, run_id)["delivery"]
    assert delivery["attempts"] == 2 and delivery["lines_posted"] == 2 * CLAIMS
    history = client.get(f"/v1/orgs/{org.org_id}/export-runs/{run_id}/events", headers=org.header())
    started = [e["data"] for e in history.json() if e["type"] == "DeliveryStarted"]
    assert started[0]["already_present"] == 0 and started[1]["already_present"] == posted_before
