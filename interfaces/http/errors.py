"""One place that turns domain and application errors into HTTP answers, without internals."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from application.errors import Forbidden, IdempotencyConflict, IdempotencyMismatch
from application.ports import (
    ConcurrentChange,
    CredentialsUnavailable,
    DatabaseUnavailable,
    NotFound,
)
from domain.export_run import RunAlreadyExists
from domain.shared import DomainError, TransitionNotAllowed

log = logging.getLogger(__name__)


def field_of(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def validation_body(errors: list[dict[str, Any]]) -> dict[str, Any]:
    items = [{"field": field_of(e.get("loc", ())), "message": e.get("msg", "invalid")} for e in errors]
    return {"detail": "invalid request", "errors": items}


def install(
    app: FastAPI, unavailable_errors: tuple[type[Exception], ...] = (DatabaseUnavailable,)
) -> None:
    """Every error to its status; `unavailable_errors` (the adapters' "database not reachable
    now", given by the composition root) answer 503."""
    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(validation_body(list(exc.errors())), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        body = exc.detail if isinstance(exc.detail, dict) else {"detail": exc.detail}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RunAlreadyExists)
    async def duplicate(_: Request, exc: RunAlreadyExists) -> JSONResponse:
        existing = str(exc.existing_run_id) if exc.existing_run_id else None
        return JSONResponse({"status": "duplicate", "existing_run_id": existing}, status_code=409)

    @app.exception_handler(TransitionNotAllowed)
    async def not_allowed(_: Request, exc: TransitionNotAllowed) -> JSONResponse:
        return JSONResponse(
            {"detail": str(exc), "code": exc.code, "status": exc.status}, status_code=409
        )

    @app.exception_handler(DomainError)
    async def domain_error(_: Request, exc: DomainError) -> JSONResponse:
        field = getattr(exc, "field", None)
        status = getattr(exc, "http_status", 422)
        body: dict[str, Any] = {"detail": str(exc), "code": exc.code}
        if field or status == 422:  # a 422 always names what was wrong (the body at least)
            body["errors"] = [{"field": field or "body", "message": str(exc)}]
        return JSONResponse(body, status_code=status)

    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": "not found"}, status_code=404)

    @app.exception_handler(Forbidden)
    async def forbidden(_: Request, exc: Forbidden) -> JSONResponse:
        return JSONResponse({"detail": "forbidden"}, status_code=403)

    @app.exception_handler(IdempotencyConflict)
    async def in_flight(_: Request, exc: IdempotencyConflict) -> JSONResponse:
        return JSONResponse(
            {"detail": "a request with this Idempotency-Key is still being processed"},
            status_code=409,
        )

    @app.exception_handler(IdempotencyMismatch)
    async def mismatch(_: Request, exc: IdempotencyMismatch) -> JSONResponse:
        return JSONResponse(
            {
                "detail": "Idempotency-Key was used with a different request",
                "errors": [{"field": "Idempotency-Key", "message": "reused with another body"}],
            },
            status_code=422,
        )

    @app.exception_handler(ConcurrentChange)
    async def concurrent(_: Request, exc: ConcurrentChange) -> JSONResponse:
        return JSONResponse({"detail": "changed concurrently; retry"}, status_code=409)

    @app.exception_handler(CredentialsUnavailable)
    async def no_key(_: Request, exc: CredentialsUnavailable) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    for kind in unavailable_errors:
        app.add_exception_handler(kind, unavailable)
    app.add_exception_handler(Exception, unexpected)


RETRY_AFTER_SECONDS = 5


async def unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The database cannot be reached now: 503 the client may retry, never a 500."""
    log.warning("database unavailable (%s) on %s %s", type(exc).__name__, request.method,
                request.url.path)
    return JSONResponse(
        {"detail": "the database is unavailable; retry later", "retry_after": RETRY_AFTER_SECONDS},
        status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def unexpected(request: Request, exc: Exception) -> JSONResponse:
    """Log the kind of failure (never its text: it may hold SQL or secrets) and answer 500."""
    log.error(
        "unhandled %s on %s %s (request %s)",
        type(exc).__name__,
        request.method,
        request.url.path,
        getattr(request.state, "correlation_id", "-"),
    )
    return JSONResponse(
        {"detail": "internal error", "correlation_id": getattr(request.state, "correlation_id", None)},
        status_code=500,
    )
