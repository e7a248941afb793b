"""An export run's evidence bundle can be checked offline: file hash and chain links."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import psycopg
import pytest
from fastapi.testclient import TestClient

from bootstrap import Services
from domain.vouchers import claim_id_of
from infrastructure.audit import verify_chain
from infrastructure.projections.audit_chain import chain_link, genesis
from infrastructure.projections.runner import rebuild
from interfaces.demo import ORGS, demo_settings
from interfaces.http.auth import Role
from tests.integration.conftest import Tokens, claim_json, drain_queue


@pytest.fixture
def audit_client(services: Services) -> Iterator[TestClient]:
    from interfaces.http.routers.audit import router
    from interfaces.server import build_app

    services.extras.setdefault("routers", []).append(router)
    with TestClient(build_app(services, background=False), raise_server_exceptions=False) as c:
        yield c


def completed_run(client: TestClient, services: Services, org: Tokens) -> str:
    claims = [claim_json("2024-03-05", "250.00"), claim_json("2024-03-12", "99.50",
                                                           category="bevertning")]
    admin = org.header(Role.ADMIN)
    base = f"/v1/orgs/{org.org_id}"
    assert client.put(f"{base}/claims", json={"claims": claims}, headers=admin).status_code == 200
    settings = client.put(
        f"{base}/accounting-settings", json=demo_settings(ORGS[0]), headers=admin
    )
    assert settings.status_code == 200, settings.text
    answer = client.post(
        f"{base}/export-runs",
        json={"period_start": "2024-03-01", "period_end": "2024-03-31", "target": "xledger"},
        headers=admin,
    )
    assert answer.status_code == 202, answer.text
    drain_queue(services)
    rebuild(services.env, "audit_chain", timeout=30)
    run_id: str = answer.json()["run_id"]
    return run_id


def test_evidence_bundle_recomputes_offline(
    audit_client: TestClient, services: Services, org: Tokens, db_url: str, tmp_path: Path
) -> None:
    run_id = completed_run(audit_client, services, org)
    url = f"/v1/orgs/{org.org_id}/export-runs/{run_id}/evidence"
    response = audit_client.get(url, headers=org.header(Role.AUDITOR))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    bundle = zipfile.ZipFile(io.BytesIO(response.content))
    names = set(bundle.namelist())
    assert {"events.json", "events_stored.jsonl", "file.sha256", "claims.json", "chain.json",
            "README.txt"} <= names

    events = json.loads(bundle.read("events.json"))
    assert [e["type"] for e in events] == ["Requested", "Started", "ClaimsTaken", "Completed"]
    assert events[0]["actor"]["org_id"] == str(org.org_id)
    completed = events[-1]["data"]["file"]

    (file_name,) = [n for n in names if n.startswith("file/")]
    content = bundle.read(file_name)
    digest = hashlib.sha256(content).hexdigest()
    assert bundle.read("file.sha256").decode().split()[0] == digest == completed["sha256"]

    claims = json.loads(bundle.read("claims.json"))
    assert sorted(c["amount"] for c in claims) == ["250.00", "99.50"]
    # Each claim's reference in the accounting file maps back to exactly that claim.
    assert all(str(claim_id_of(c["ledger_ref"])) == c["claim_id"] for c in claims)

    chain = json.loads(bundle.read("chain.json"))
    links = {c["notification_id"]: c for c in chain["links"]}
    stored = [json.loads(line) for line in bundle.read("events_stored.jsonl").splitlines()]
    assert [r["originator_version"] for r in stored] == [1, 2, 3, 4]
    for row in stored:
        entry = links[row["notification_id"]]
        recomputed = chain_link(
            entry["prev_link"], row["notification_id"], row["originator_id"],
            row["originator_version"], row["topic"], row["state"].encode("utf-8"),
        )
        assert recomputed == entry["link"]
    # The org's chain here is settings (1 event) + the run (4): the last link is the head.
    assert chain["genesis"] == genesis(org.org_id)
    assert [c["seq"] for c in chain["links"]] == [2, 3, 4, 5]
    assert chain["head"]["events"] == 5
    assert chain["head"]["link"] == chain["links"][-1]["link"]
    with psycopg.connect(db_url) as conn:
        assert verify_chain(conn, org.org_id).head == chain["head"]["link"]
    assert run_readme_snippet(bundle, tmp_path) == ["ok", "ok", "ok", "ok", "True"]


def run_readme_snippet(bundle: zipfile.ZipFile, tmp_path: Path) -> list[str]:
    """The README's check, run as written in the unzipped folder."""
    readme = bundle.read("README.txt").decode()
    snippet = textwrap.dedent(readme.split("Python 3, run in the unzipped folder", 1)[1]
                              .split("\n", 1)[1])
    bundle.extractall(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", snippet], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    return [line.split()[-1] for line in done.stdout.splitlines()]


def test_evidence_is_only_for_auditors_of_the_runs_org(
    audit_client: TestClient, services: Services, org: Tokens
) -> None:
    run_id = completed_run(audit_client, services, org)
    url = f"/v1/orgs/{org.org_id}/export-runs/{run_id}/evidence"
    assert audit_client.get(url, headers=org.header(Role.COORDINATOR)).status_code == 403
    assert audit_client.get(url, headers=org.header(Role.ADMIN)).status_code == 200
    other = uuid4()
    other_url = f"/v1/orgs/{other}/export-runs/{run_id}/evidence"
    assert audit_client.get(other_url, headers=org.header(Role.AUDITOR, org_id=other)).status_code == 404
    missing = f"/v1/orgs/{org.org_id}/export-runs/{uuid4()}/evidence"
    assert audit_client.get(missing, headers=org.header(Role.AUDITOR)).status_code == 404
