"""The published OpenAPI document: fixed ids and summaries, every response and request body
described with an example, every error status with the body the service really sends."""

from __future__ import annotations

from typing import Any

import pytest

from interfaces.http.app import create_app
from interfaces.http.openapi import OPERATIONS, example_of


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    app = create_app(None, lambda: (True, "ok"), jwt_secret="k" * 40)  # type: ignore[arg-type]
    document: dict[str, Any] = app.openapi()
    return document


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m.upper(), p, op) for p, item in spec["paths"].items() for m, op in item.items()]


def test_every_operation_has_a_fixed_id_a_summary_and_a_description(spec: dict[str, Any]) -> None:
    ids = [op["operationId"] for _, _, op in operations(spec)]
    assert len(ids) == len(set(ids))
    for method, path, op in operations(spec):
        assert (method, path) in OPERATIONS, f"{method} {path}: add its id and summary"
        assert (op["operationId"], op["summary"]) == OPERATIONS[(method, path)]
        assert op["description"].strip()


def test_every_request_and_response_has_a_description_and_an_example(spec: dict[str, Any]) -> None:
    for method, path, op in operations(spec):
        body = op.get("requestBody")
        if body:
            assert body["description"]
            for media_type, media in body["content"].items():
                assert "schema" in media, (method, path, media_type)
                if media_type == "application/json":
                    assert media["example"], (method, path)
        for code, response in op["responses"].items():
            assert response["description"] not in ("", "Successful Response"), (method, path, code)
            for media_type, media in response.get("content", {}).items():
                binary = media.get("schema", {}).get("format") == "binary"
                if media_type in ("application/json", "text/plain") and not binary:
                    assert "example" in media, (method, path, code)


def test_errors_are_documented_with_the_bodies_the_service_sends(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert not [name for name in schemas if "__" in name]  # short names generators accept
    assert set(schemas["ValidationProblem"]["required"]) == {"detail", "errors"}
    assert set(schemas["FieldError"]["required"]) == {"field", "message"}
    for method, path, op in operations(spec):
        codes = set(op["responses"])
        if path.startswith("/v1/orgs/"):
            assert {"401", "403", "422"} <= codes, (method, path)
        if "422" in codes:
            body = op["responses"]["422"]["content"]["application/json"]
            assert body["schema"] == {"$ref": "#/components/schemas/ValidationProblem"}
            assert body["example"]["errors"][0]["field"]
    conflict = spec["paths"]["/v1/orgs/{org_id}/export-runs"]["post"]["responses"]["409"]
    refs = {s["$ref"] for s in conflict["content"]["application/json"]["schema"]["anyOf"]}
    assert refs == {"#/components/schemas/Duplicate", "#/components/schemas/Problem"}
    assert "404" in spec["paths"]["/v1/orgs/{org_id}/export-runs/{run_id}"]["get"]["responses"]


def test_list_responses_are_typed_arrays(spec: dict[str, Any]) -> None:
    for method, path, op in operations(spec):
        if op["operationId"].startswith("list"):
            ok = op["responses"]["200"]["content"]["application/json"]["schema"]
            assert ok["type"] == "array" and "$ref" in ok["items"], (method, path)


def test_examples_follow_the_schema() -> None:
    components = {"Run": {"type": "object", "properties": {
        "run_id": {"type": "string", "format": "uuid"},
        "period_start": {"type": "string", "format": "date"},
        "status": {"type": "string", "enum": ["pending", "running"]},
        "count": {"type": "integer", "minimum": 0},
        "municipality": {"type": "string", "pattern": "^\\d{4}$"},
    }}}
    schema = {"type": "array", "items": {"$ref": "#/components/schemas/Run"}}
    [run] = example_of(schema, components)
    assert run["status"] == "pending" and run["count"] == 1 and run["municipality"] == "0301"
    assert len(run["run_id"]) == 36 and run["period_start"] == "2025-01-01"
