"""A client generated from the service's own /openapi.json (openapi-python-client) drives an
export from settings to download: the published document is complete enough to build on."""

from __future__ import annotations

import hashlib
import importlib
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import uuid4

import httpx
import pytest

from interfaces.demo import ORGS, demo_settings
from interfaces.http.auth import Role, mint
from tests.e2e.conftest import SECRET, RunningService
from tests.integration.conftest import claim_json

pytestmark = pytest.mark.slow

CONFIG = ("content_type_overrides:\n  application/zip: application/octet-stream\n"
          "  application/xml: application/octet-stream\n")


def generate_client(service: RunningService, tmp_path: Path) -> Any:
    spec = tmp_path / "openapi.json"
    spec.write_bytes(httpx.get(service.base_url + "/openapi.json", timeout=10).content)
    (tmp_path / "config.yaml").write_text(CONFIG)
    package = tmp_path / "export_service_client"
    generator = Path(sys.executable).parent / "openapi-python-client"
    result = subprocess.run(
        [str(generator), "generate", "--path", str(spec), "--output-path", str(package),
         "--meta", "none", "--config", str(tmp_path / "config.yaml")],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert "WARNING parsing" not in output, output  # every operation and response was generated
    sys.path.insert(0, str(tmp_path))
    return importlib.import_module("export_service_client")


def test_generated_client_runs_an_export(service: RunningService, tmp_path: Path) -> None:
    client_package = generate_client(service, tmp_path)
    try:
        drive_export(client_package, service)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.startswith("export_service_client")]:
            del sys.modules[name]


def drive_export(pkg: Any, service: RunningService) -> None:
    models = importlib.import_module("export_service_client.models")
    # Operation ids become module names: they are fixed, so these imports keep working.
    from export_service_client.api.accounting_settings import put_accounting_settings
    from export_service_client.api.export_runs import (
        get_export_run,
        list_export_runs,
        request_export_run,
    )
    from export_service_client.api.files import download_file
    from export_service_client.api.source_data import upsert_claims

    org_id = uuid4()

    def as_role(role: Role) -> Any:
        return pkg.AuthenticatedClient(base_url=service.base_url,
                                       token=mint(SECRET, "gen-user", org_id, role))

    admin, coordinator = as_role(Role.ADMIN), as_role(Role.COORDINATOR)
    saved = put_accounting_settings.sync(
        org_id=org_id, client=admin, body=models.SettingsIn.from_dict(demo_settings(ORGS[0]))
    )
    assert isinstance(saved, models.SettingsOut), saved
    claims = [claim_json("2025-05-05", "120.00"), claim_json("2025-05-20", "80.50")]
    upserted = upsert_claims.sync(org_id=org_id, client=coordinator,
                                  body=models.ClaimBatch.from_dict({"claims": claims}))
    assert isinstance(upserted, models.ClaimsUpserted) and upserted.upserted == 2

    request = models.ExportRunRequest(period_start=date(2025, 5, 1), period_end=date(2025, 5, 31),
                                      target=models.ExportTarget.XLEDGER)
    accepted = request_export_run.sync_detailed(org_id=org_id, client=coordinator, body=request,
                                                idempotency_key="generated-1")
    assert accepted.status_code == 202 and isinstance(accepted.parsed, models.Accepted)
    run_id = accepted.parsed.run_id

    deadline = time.monotonic() + 30
    run = get_export_run.sync(org_id=org_id, run_id=run_id, client=coordinator)
    while isinstance(run, models.ExportRunOut) and run.status.value in ("pending", "running"):
        assert time.monotonic() < deadline, run
        time.sleep(0.1)
        run = get_export_run.sync(org_id=org_id, run_id=run_id, client=coordinator)
    assert isinstance(run, models.ExportRunOut) and run.status == models.ExportRunStatus.COMPLETED
    assert run.record_count == 2

    listed = list_export_runs.sync(org_id=org_id, client=as_role(Role.AUDITOR))
    assert isinstance(listed, list) and [r.run_id for r in listed] == [run_id]
    assert all(isinstance(r, models.ExportRunOut) for r in listed)

    link = urlsplit(run.file.download_url)
    downloaded = download_file.sync_detailed(
        path=link.path.removeprefix("/v1/files/"), sig=parse_qs(link.query)["sig"][0],
        client=pkg.Client(base_url=service.base_url),
    )
    assert downloaded.status_code == 200
    assert hashlib.sha256(downloaded.content).hexdigest() == run.file.sha256

    # Errors arrive as the documented models.
    duplicate = request_export_run.sync(org_id=org_id, client=coordinator, body=request)
    assert isinstance(duplicate, models.Duplicate) and duplicate.existing_run_id == run_id
    backwards = models.ExportRunRequest(period_start=date(2025, 6, 30), period_end=date(2025, 6, 1),
                                        target=models.ExportTarget.DYNAMICS)
    refused = request_export_run.sync(org_id=org_id, client=coordinator, body=backwards)
    assert isinstance(refused, models.ValidationProblem)
    assert [e.field for e in refused.errors] == ["period_end"]
    stranger = request_export_run.sync_detailed(
        org_id=uuid4(), client=coordinator, body=request
    )
    assert stranger.status_code == 403 and isinstance(stranger.parsed, models.Problem)
