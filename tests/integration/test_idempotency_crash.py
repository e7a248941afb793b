"""A POST whose process dies after the append and before the answer: the retry with the same
Idempotency-Key gets the first run back (its answer was stored with the events), never a second.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from application.task_names import EXECUTE_BUFDIR_EXPORT, EXECUTE_EXPORT_RUN
from tests.integration.conftest import SECRET, Tokens

ROOT = Path(__file__).resolve().parents[2]

#: Runs the real app in its own process, with the event store wrapped (through bootstrap's
#: override) so that the process is killed right after the append has committed.
DIES_AFTER_APPEND = """
import json, os, sys
from fastapi.testclient import TestClient
from pydantic import SecretStr
from bootstrap import bootstrap
from infrastructure.settings import Settings
from interfaces.server import build_app

class DiesAfterAppend:
    def __init__(self, store):
        self.store = store
    def __getattr__(self, name):
        return getattr(self.store, name)
    def save(self, *aggregates, **kwargs):
        self.store.save(*aggregates, **kwargs)
        os.kill(os.getpid(), 9)  # committed; no answer ever leaves

url, path, body, headers = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
settings = Settings(data_dir=os.environ["DATA_DIR"], jwt_secret=SecretStr(os.environ["SECRET"]))
services = bootstrap(settings, database_url=url, store=DiesAfterAppend)
with TestClient(build_app(services, background=False)) as client:
    client.post(path, json=body, headers=headers)
sys.exit(3)  # not reached when the append happened
"""

CASES = {
    "bufdir-exports": (
        {"period_start": "2025-01-01", "period_end": "2025-12-31", "format": "csv"},
        EXECUTE_BUFDIR_EXPORT, "export_id",
    ),
    "export-runs": (
        {"period_start": "2025-01-01", "period_end": "2025-01-31", "target": "xledger"},
        EXECUTE_EXPORT_RUN, "run_id",
    ),
}


@pytest.mark.parametrize("resource", sorted(CASES))
def test_killed_between_append_and_answer_the_retry_returns_the_first(
    resource: str, client: TestClient, org: Tokens, db_url: str, tmp_path: Path
) -> None:
    body, task, id_field = CASES[resource]
    path = f"/v1/orgs/{org.org_id}/{resource}"
    headers = {**org.header(), "Idempotency-Key": f"crash-{resource}"}
    env = {**os.environ, "DATA_DIR": str(tmp_path), "SECRET": SECRET, "PYTHONPATH": str(ROOT)}
    died = subprocess.run(
        [sys.executable, "-c", DIES_AFTER_APPEND, db_url, path, json.dumps(body),
         json.dumps(headers)],
        env=env, cwd=ROOT, capture_output=True, timeout=120, check=False,
    )
    assert died.returncode == -9, died.stderr.decode()[-2000:]

    retry = client.post(path, json=body, headers=headers)
    assert retry.status_code == 202, retry.text
    assert retry.headers.get("Idempotent-Replayed") == "true"
    with psycopg.connect(db_url) as conn:
        queued = [r[0] for r in conn.execute(
            "SELECT args ->> %s FROM procrastinate_jobs WHERE task_name = %s", (id_field, task)
        )]
    assert queued == [retry.json()[id_field]]  # the first one, and no second
