"""Property-based requests generated from our own OpenAPI schema: whatever a client sends, the
service answers without a 500, a traceback, SQL or a secret, and every answer is one the schema
documents: its status code, content type, headers and body."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from pydantic import SecretStr
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from bootstrap import bootstrap
from infrastructure.settings import Settings
from interfaces.http.auth import Role, mint
from tests.conftest import TEMPLATE, create_database, drop_database
from tests.integration.conftest import SECRET

ORG = uuid4()
DOCUMENTED = [status_code_conformance, content_type_conformance, response_headers_conformance,
              response_schema_conformance]
LEAKS = ("Traceback", "psycopg", "SELECT ", "INSERT ", SECRET)


@pytest.fixture(scope="module")
def api_schema(pg_admin_url: str, template_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from interfaces.server import build_app

    url = create_database(pg_admin_url, TEMPLATE)
    data_dir: Path = tmp_path_factory.mktemp("fuzz")
    services = bootstrap(Settings(data_dir=data_dir, jwt_secret=SecretStr(SECRET),
                                  delivery_hosts="stand-in.invalid"), database_url=url)
    try:
        app = build_app(services, background=False)
        yield schemathesis.openapi.from_asgi("/openapi.json", app)
    finally:
        services.close()
        drop_database(pg_admin_url, url)


# Hypothesis warns when the global `random` state moves while it draws; the service's own
# threads (the pools' jitter) move it at any moment, which is no use of `random` in a strategy.
@pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
def test_no_request_produces_a_server_error(api_schema: Any) -> None:
    token = "Bearer " + mint(SECRET, "fuzz", ORG, Role.ADMIN)
    checked = []
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)
        def answers_without_server_error(case: Any) -> None:
            if "org_id" in (case.path_parameters or {}):
                case.path_parameters["org_id"] = str(ORG)  # our own organisation: reach handlers
            case.headers = {**(case.headers or {}), "Authorization": token}
            response = case.call()
            where = (case.method, case.formatted_path)
            assert response.status_code < 500, (where, response.text[:500])
            case.validate_response(response, checks=DOCUMENTED)
            assert not any(leak in response.text for leak in LEAKS), where

        answers_without_server_error()
        checked.append(operation.label)
    assert len(checked) >= 30, checked
