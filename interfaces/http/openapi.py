"""The published OpenAPI document, made honest for client generators in one place:

- fixed operation ids and summaries (a generated client's method names never change);
- every error status an operation can answer, with the body the service really sends
  (422 is `{"detail", "errors": [{"field", "message"}]}`, never FastAPI's own shape);
- a description and an example for every request body and response.

Routers stay plain; a new route gets an id from its function name and its errors from the
rules below until it is named in OPERATIONS.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

ORG = "/v1/orgs/{org_id}"

#: (method, path) -> (operationId, summary).
OPERATIONS: dict[tuple[str, str], tuple[str, str]] = {
    ("GET", "/healthz"): ("getHealth", "Is the process alive"),
    ("GET", "/readyz"): ("getReadiness", "Is the service ready for traffic"),
    ("GET", "/metrics"): ("getMetrics", "Prometheus metrics of this process"),
    ("GET", "/v1/files/{path}"): ("downloadFile", "Download a file through its signed link"),
    ("PUT", f"{ORG}/claims"): ("upsertClaims", "Store approved expense claims"),
    ("PUT", f"{ORG}/activities"): ("upsertActivities", "Store activity records"),
    ("PUT", f"{ORG}/activities/{{activity_id}}/attachments/{{name}}"): (
        "uploadAttachment", "Upload an attachment of an activity"),
    ("PUT", f"{ORG}/accounting-settings"): ("putAccountingSettings", "Store the accounting settings"),
    ("GET", f"{ORG}/accounting-settings"): ("getAccountingSettings", "Read the accounting settings"),
    ("GET", f"{ORG}/accounting-settings/dynamics-import-definition"): (
        "getDynamicsImportDefinition", "Business Central's import definition of our journal files"),
    ("POST", f"{ORG}/export-runs"): ("requestExportRun", "Request an export run"),
    ("GET", f"{ORG}/export-runs"): ("listExportRuns", "List export runs, newest first"),
    ("GET", f"{ORG}/export-runs/{{run_id}}"): ("getExportRun", "Read an export run"),
    ("GET", f"{ORG}/export-runs/{{run_id}}/events"): ("listExportRunEvents", "An export run's events"),
    ("GET", f"{ORG}/export-runs/{{run_id}}/evidence"): (
        "getExportRunEvidence", "Download an export run's evidence bundle"),
    ("POST", f"{ORG}/sync-runs"): ("startSyncRun", "Start a sync run"),
    ("GET", f"{ORG}/sync-runs"): ("listSyncRuns", "List sync runs, newest first"),
    ("GET", f"{ORG}/sync-runs/latest"): ("latestSyncRuns", "The latest sync run of each integration"),
    ("GET", f"{ORG}/sync-runs/{{run_id}}"): ("getSyncRun", "Read a sync run"),
    ("POST", f"{ORG}/sync-runs/{{run_id}}/status"): ("endSyncRun", "End a running sync run"),
    ("GET", f"{ORG}/sync-runs/{{sync_run_id}}/events"): ("listSyncRunEvents", "A sync run's events"),
    ("PUT", f"{ORG}/sync-schedules/{{integration_type}}"): ("putSyncSchedule", "Schedule an integration's syncs"),
    ("GET", f"{ORG}/sync-schedules/{{integration_type}}"): ("getSyncSchedule", "Read an integration's schedule"),
    ("DELETE", f"{ORG}/sync-schedules/{{integration_type}}"): (
        "deleteSyncSchedule", "Stop scheduling an integration's syncs"),
    ("PUT", f"{ORG}/bufdir-config"): ("putBufdirConfig", "Store the Bufdir report configuration"),
    ("GET", f"{ORG}/bufdir-config"): ("getBufdirConfig", "Read the Bufdir report configuration"),
    ("POST", f"{ORG}/bufdir-exports"): ("requestBufdirExport", "Request a Bufdir report"),
    ("GET", f"{ORG}/bufdir-exports"): ("listBufdirExports", "List Bufdir reports, newest first"),
    ("GET", f"{ORG}/bufdir-exports/{{export_id}}"): ("getBufdirExport", "Read a Bufdir report"),
    ("GET", f"{ORG}/bufdir-exports/{{export_id}}/events"): (
        "listBufdirExportEvents", "A Bufdir report's events"),
    ("GET", f"{ORG}/bufdir-exports/{{export_id}}/not-counted"): (
        "getBufdirRowsNotCounted", "A Bufdir report's rows that did not count, by reason"),
    ("GET", f"{ORG}/audit/verify"): ("verifyAuditChain", "Verify the organisation's hash chain"),
    ("PUT", f"{ORG}/delivery/{{target}}"): ("putDeliveryConnection", "Store and check a delivery connection"),
    ("GET", f"{ORG}/delivery/{{target}}"): ("getDeliveryConnection", "Read a delivery connection and its health"),
    ("POST", f"{ORG}/export-runs/{{run_id}}/delivery"): ("retryDelivery", "Retry a failed delivery"),
}

#: Operations that answer 409 (a state that does not allow the change, or a concurrent one).
CONFLICTS = {
    ("POST", f"{ORG}/export-runs"), ("POST", f"{ORG}/sync-runs"),
    ("POST", f"{ORG}/sync-runs/{{run_id}}/status"), ("PUT", f"{ORG}/accounting-settings"),
    ("PUT", f"{ORG}/bufdir-config"), ("PUT", f"{ORG}/sync-schedules/{{integration_type}}"),
    ("DELETE", f"{ORG}/sync-schedules/{{integration_type}}"),
    ("POST", f"{ORG}/export-runs/{{run_id}}/delivery"), ("PUT", f"{ORG}/delivery/{{target}}"),
    ("GET", f"{ORG}/bufdir-exports/{{export_id}}/not-counted"),
}
#: Operations without an id in the path that still answer 404 (nothing stored yet).
MISSING = {("GET", f"{ORG}/accounting-settings")}
#: Operations with an id in the path that create what is missing instead of answering 404.
CREATING = {("PUT", f"{ORG}/sync-schedules/{{integration_type}}"), ("PUT", f"{ORG}/delivery/{{target}}")}


class FieldError(BaseModel):
    """One bad field."""

    field: str = Field(description="Where: a field name, `claims.3.amount`, or a header")
    message: str = Field(description="What is wrong with it")


class Problem(BaseModel):
    """An error: what went wrong, in words; `code` when a client may act on it."""

    detail: str = Field(description="What went wrong")
    code: str | None = Field(default=None, description="A stable code, e.g. `not_running`")


class ValidationProblem(BaseModel):
    """Bad input: every field that is wrong, by name."""

    detail: str = Field(description="What went wrong")
    code: str | None = Field(default=None, description="A stable code, when there is one")
    errors: list[FieldError] = Field(description="Each bad field with its message")


class Unavailable(BaseModel):
    """The service cannot do this right now (the database is unreachable): retry later."""

    detail: str = Field(description="What went wrong")
    retry_after: int | None = Field(
        default=None, description="Seconds to wait before retrying (also the Retry-After header)"
    )


ERRORS: dict[int, tuple[str, type[BaseModel], dict[str, Any]]] = {
    401: ("Missing, malformed, expired or badly signed bearer token.", Problem,
          {"detail": "invalid or expired token"}),
    403: ("The path names another organisation, the role may not do this, or the signature "
          "of a download link does not match.", Problem, {"detail": "forbidden"}),
    404: ("Nothing with this id in the caller's organisation.", Problem, {"detail": "not found"}),
    409: ("The current state does not allow this (or it changed concurrently); nothing was stored.",
          Problem, {"detail": "run is not running", "code": "not_running"}),
    413: ("The request body is larger than the configured limit.", Problem,
          {"detail": "Request Entity Too Large"}),
    422: ("Bad input; every bad field is named.", ValidationProblem,
          {"detail": "invalid request",
           "errors": [{"field": "period_end", "message": "period_end must not be before period_start"}]}),
    503: ("The database cannot be reached right now; retry after `Retry-After` seconds.",
          Unavailable, {"detail": "the database is unavailable; retry later", "retry_after": 5}),
}

RETRY_AFTER = {"description": "Seconds to wait before retrying",
               "schema": {"type": "integer"}}
BINARY = {"schema": {"type": "string", "format": "binary"}}
#: Binary first: generators read the body as bytes for the first type they support.
FILE_TYPES = ("application/octet-stream", "text/csv",
              "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
              "application/json", "application/zip")
READINESS_REF = {"$ref": "#/components/schemas/Readiness"}
READINESS = {"title": "Readiness", "type": "object", "required": ["status", "reason"], "properties": {
    "status": {"type": "string", "enum": ["ready", "not ready"]},
    "reason": {"type": "string", "description": "`ok`, or why not: `database unreachable`, `migrations not applied`, `worker not running`"}}}
#: Bodies that are not JSON models: (method, path) -> status -> (description, content).
BODIES: dict[tuple[str, str], dict[int, tuple[str, dict[str, Any]]]] = {
    ("GET", "/healthz"): {
        200: ("The process is alive.", {"application/json": {"schema": {
            "title": "Health", "type": "object", "required": ["status"],
            "properties": {"status": {"type": "string", "enum": ["ok"]}}},
            "example": {"status": "ok"}}}),
    },
    ("GET", "/readyz"): {
        200: ("Ready: the database answers now, every migration is applied, the worker runs.",
              {"application/json": {"schema": READINESS_REF, "example": {"status": "ready", "reason": "ok"}}}),
        503: ("Not ready yet, or not any more; the reason says why.",
              {"application/json": {"schema": READINESS_REF,
                                    "example": {"status": "not ready", "reason": "database unreachable"}}}),
    },
    ("GET", "/metrics"): {
        200: ("Prometheus text exposition format.", {"text/plain": {
            "schema": {"type": "string"},
            "example": 'export_service_http_requests_total{method="GET",route="/healthz",status="200"} 1.0\n'}}),
    },
    ("GET", "/v1/files/{path}"): {
        200: ("The file; its type follows its extension.", dict.fromkeys(FILE_TYPES, BINARY)),
    },
    ("GET", f"{ORG}/accounting-settings/dynamics-import-definition"): {
        200: ("The data exchange definition (XML) to import in Business Central.",
              {"application/xml": {"schema": {"type": "string"},
                                   "example": '<?xml version="1.0" encoding="UTF-8"?><root/>'}}),
    },
    ("GET", f"{ORG}/export-runs/{{run_id}}/evidence"): {
        200: ("A zip: the run's events, its file, the file's sha256, its claims, the chain links.",
              {"application/zip": BINARY}),
    },
}

SUCCESS = {200: "OK", 201: "Created", 202: "Accepted: queued, done in the background",
           204: "Done; no body"}


def operation_id(route: APIRoute) -> str:
    """FastAPI's `generate_unique_id_function`: the id from OPERATIONS, else the function name."""
    method = sorted(route.methods or {"GET"})[0]
    known = OPERATIONS.get((method, route.path_format))
    if known:
        return known[0]
    head, *rest = route.name.split("_")
    return head + "".join(part.title() for part in rest)


def install(app: FastAPI) -> None:
    """Replace `app.openapi` by one that completes FastAPI's document once, then caches it."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            complete(generate())
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def complete(schema: dict[str, Any]) -> None:
    _short_component_names(schema)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Readiness"] = READINESS
    for model in (FieldError, Problem, ValidationProblem, Unavailable):
        components[model.__name__] = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components[model.__name__].pop("$defs", None)
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            _complete_operation(method.upper(), path, operation, components)


def _short_component_names(schema: dict[str, Any]) -> None:
    """Two models of one name in different modules get FastAPI's long names
    (`interfaces__http__routers__claims__Upserted`); generators choke on those. Name them
    `ClaimsUpserted` instead, and point every reference at the new name."""
    components = schema.get("components", {}).get("schemas", {})
    renames = {}
    for name in list(components):
        if "__" in name:
            *module, model = name.split("__")
            short = "".join(part.title() for part in module[-1].split("_")) + model
            renames[name] = short if short not in components else name.replace("__", "")
            components[renames[name]] = components.pop(name)
            components[renames[name]]["title"] = renames[name]

    def rewrite(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.rsplit("/", 1)[-1] in renames:
                node["$ref"] = "#/components/schemas/" + renames[ref.rsplit("/", 1)[-1]]
            for value in node.values():
                rewrite(value)
        elif isinstance(node, list):
            for value in node:
                rewrite(value)

    if renames:
        rewrite(schema)


def _complete_operation(
    method: str, path: str, operation: dict[str, Any], components: dict[str, Any]
) -> None:
    key = (method, path)
    if key in OPERATIONS:
        operation["operationId"], operation["summary"] = OPERATIONS[key]
    description = operation.get("description") or operation.get("summary", "")
    operation["description"] = description
    body = operation.get("requestBody")
    if body:
        for media in body.get("content", {}).values():
            media.setdefault("schema", {"type": "string", "format": "binary"})  # a raw upload
            resolved = _resolve(media.get("schema", {}), components)
            body.setdefault("description", resolved.get("description") or "The request body.")
            if "schema" in media and "example" not in media and "examples" not in media:
                example = example_of(media["schema"], components)
                if example is not None:
                    media["example"] = example
    responses = operation.setdefault("responses", {})
    for code, (text, content) in BODIES.get(key, {}).items():
        responses[str(code)] = {"description": text, "content": copy.deepcopy(content)}
    for code in sorted(statuses(method, path, operation) - set(BODIES.get(key, {}))):
        text, model, example = ERRORS[code]
        declared = responses.get(str(code), {}).get("content", {}).get("application/json", {})
        ref = {"$ref": f"#/components/schemas/{model.__name__}"}
        if "schema" in declared and code != 422:
            # The operation's own body for this status (e.g. a duplicate run), or a plain Problem.
            schema_: dict[str, Any] = {"anyOf": [declared["schema"], ref]}
            example = declared.get("example") or example_of(declared["schema"], components) or example
        else:
            schema_ = ref
        responses[str(code)] = {
            "description": responses.get(str(code), {}).get("description") or text,
            "content": {"application/json": {"schema": schema_, "example": example}},
        }
        if code == 503:
            responses[str(code)]["headers"] = {"Retry-After": RETRY_AFTER}
    for code, response in responses.items():
        if response.get("description") in (None, "", "Successful Response"):
            response["description"] = _success_text(int(code), response, components)
        for media in response.get("content", {}).values():
            if "schema" in media and "example" not in media:
                example = example_of(media["schema"], components)
                if example is not None:
                    media["example"] = example


def statuses(method: str, path: str, operation: dict[str, Any]) -> set[int]:
    """The error statuses this operation can answer, by the rules of the error handlers."""
    found: set[int] = set()
    parameters = operation.get("parameters", [])
    if path.startswith("/v1/orgs/"):
        found |= {401, 403, 503}
    if path.startswith("/v1/files/"):
        # 404: a path no route can match (a line break in it) is never a file of ours.
        found |= {403, 404}
    if parameters or operation.get("requestBody"):
        found.add(422)
    if operation.get("requestBody") or method in ("PUT", "POST"):
        found.add(413)
    ids = [p for p in parameters if p.get("in") == "path" and p["name"] not in ("org_id", "path")]
    if (ids and path.startswith("/v1/orgs/") and (method, path) not in CREATING) or (
        (method, path) in MISSING
    ):
        found.add(404)
    if (method, path) in CONFLICTS:
        found.add(409)
    return found


def _success_text(code: int, response: dict[str, Any], components: dict[str, Any]) -> str:
    for media in response.get("content", {}).values():
        resolved = _resolve(media.get("schema", {}), components)
        if resolved.get("description"):
            return str(resolved["description"]).split("\n\n")[0]
        if resolved.get("type") == "array":
            item = _resolve(resolved.get("items", {}), components)
            return f"A list of {item.get('title', 'items')}."
    return SUCCESS.get(code, "OK")


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        return dict(components.get(ref.rsplit("/", 1)[-1], {}))
    return schema


#: Values for well-known field names: what a real client would send or get.
NAMED: dict[str, Any] = {
    "org_id": "a1f0c9e2-5b1d-4c8e-9f3a-000000000001",
    "period_start": "2025-01-01", "period_end": "2025-01-31",
    "target": "xledger", "currency": "NOK", "amount": "250.00", "amount_nok": "250.00",
    "category": "reise", "municipality": "0301", "account": "6800", "counter_account": "2990",
    "tax_code": "0", "company_code": "NHF", "voucher_type": "REISE", "cron": "0 6 1 * *",
    "timezone": "Europe/Oslo", "integration_type": "xledger", "triggered_by": "manual",
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "download_url": "https://exports.example.org/v1/files/exports/a1f0/run.csv?sig=...",
    "activity_type": "gruppemøte", "format": "xlsx",
}
FORMATS = {"uuid": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "date": "2025-01-31",
           "date-time": "2025-01-31T12:00:00+01:00", "uri": "https://example.org/",
           "binary": None}


def example_of(schema: dict[str, Any], components: dict[str, Any], name: str = "",
               depth: int = 0) -> Any:
    """A value valid for `schema`, built from its types, enums, formats and field names."""
    if depth > 8:
        return None
    schema = _resolve(schema, components)
    for key in ("example", "const"):
        if key in schema:
            return copy.deepcopy(schema[key])
    if schema.get("examples"):
        return copy.deepcopy(schema["examples"][0])
    if schema.get("enum"):
        return schema["enum"][0]
    if NAMED.get(name) is not None and schema.get("type") in ("string", None):
        return NAMED[name]
    for key in ("anyOf", "oneOf"):
        options = [s for s in schema.get(key, []) if s.get("type") != "null"]
        if options:
            return example_of(options[0], components, name, depth + 1)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        out = {p: example_of(s, components, p, depth + 1) for p, s in schema.get("properties", {}).items()}
        extra = schema.get("additionalProperties")
        if not out and isinstance(extra, dict):
            out = {"reise": example_of(extra, components, "", depth + 1)}
        return out
    if kind == "array":
        return [example_of(schema.get("items", {}), components, name, depth + 1)]
    if kind == "string":
        if schema.get("format") in FORMATS:
            return FORMATS[schema["format"]]
        pattern = schema.get("pattern", "")
        if re.fullmatch(r"\^?\\d\{(\d+)\}\$?", pattern):
            return "1" * int(re.findall(r"\d+", pattern)[0])
        return "text" if schema.get("default") is None else schema["default"]
    if kind == "integer":
        return max(int(schema.get("minimum", 0)), 1)
    if kind == "number":
        return float(max(schema.get("minimum", 0), 1))
    if kind == "boolean":
        return bool(schema.get("default", False))
    return None
