"""Idempotency-Key handling shared by the POST endpoints."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any
from uuid import UUID

from fastapi import HTTPException
from fastapi.responses import JSONResponse

from application.errors import IdempotencyConflict, IdempotencyMismatch
from infrastructure.idempotency import PostgresIdempotencyKeys

KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def fingerprint(path: str, body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{path}\n{canonical}".encode()).hexdigest()


def begin(
    keys: PostgresIdempotencyKeys, org_id: UUID, key: str | None, path: str, body: dict[str, Any]
) -> JSONResponse | None:
    """None when the request is new; the first answer when it was seen before."""
    if key is None:
        return None
    if not KEY.match(key):
        raise HTTPException(
            422,
            {
                "detail": "invalid Idempotency-Key",
                "errors": [{"field": "Idempotency-Key", "message": "1-255 visible ASCII characters"}],
            },
        )
    outcome = keys.begin(org_id, key, fingerprint(path, body))
    if outcome.kind == "mismatch":
        raise IdempotencyMismatch()
    if outcome.kind == "in_flight":
        raise IdempotencyConflict()
    if outcome.kind == "replay":
        assert outcome.status_code is not None
        return JSONResponse(outcome.body, status_code=outcome.status_code,
                            headers={"Idempotent-Replayed": "true"})
    return None
