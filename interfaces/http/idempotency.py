"""Idempotency-Key handling shared by the POST endpoints."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any
from uuid import UUID

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from application.errors import IdempotencyConflict, IdempotencyMismatch
from application.ports import IdempotencyKeys

KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def fingerprint(path: str, body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{path}\n{canonical}".encode()).hexdigest()


def begin(
    keys: IdempotencyKeys, org_id: UUID, key: str | None, path: str, body: dict[str, Any]
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


Answer = tuple[int, dict[str, Any]]


def answer_once(
    keys: IdempotencyKeys,
    org_id: UUID,
    key: str | None,
    request: Request,
    body: BaseModel,
    act: Callable[[], Answer],
) -> JSONResponse:
    """Run `act` at most once per key; a repeat gets the first answer (IETF draft semantics).

    The answer is remembered here unless the use case already wrote it with its events; a
    request that fails unexpectedly frees its key so the client can retry.
    """
    replay = begin(keys, org_id, key, request.url.path, body.model_dump(mode="json"))
    if replay is not None:
        return replay
    try:
        status_code, answer = act()
    except BaseException:
        if key:
            keys.abandon(org_id, key)
        raise
    if key:
        keys.finish(org_id, key, status_code, answer)
    return JSONResponse(answer, status_code=status_code)
