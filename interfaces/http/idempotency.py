"""The Idempotency-Key header of the POST endpoints: checked here, kept by the application."""

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

from application.idempotency import Answer, Idempotency

KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def fingerprint(path: str, body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{path}\n{canonical}".encode()).hexdigest()


def answer_once(
    idempotency: Idempotency,
    org_id: UUID,
    key: str | None,
    request: Request,
    body: BaseModel,
    act: Callable[[str | None], Answer],
) -> JSONResponse:
    """Run `act` at most once per key; a repeat gets the first answer, marked as replayed."""
    if key is not None and not KEY.match(key):
        raise HTTPException(
            422,
            {
                "detail": "invalid Idempotency-Key",
                "errors": [{"field": "Idempotency-Key", "message": "1-255 visible ASCII characters"}],
            },
        )
    fp = fingerprint(request.url.path, body.model_dump(mode="json"))
    answer = idempotency.once(org_id, key, fp, act)
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return JSONResponse(answer.body, status_code=answer.status_code, headers=headers)
