"""The FastAPI application factory."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from application.ports import DatabaseUnavailable
from application.services import ApplicationServices
from interfaces import pages
from interfaces.http import errors, openapi
from interfaces.http.input_safety import refuse_non_finite_numbers
from interfaces.http.metrics import LATENCY, REQUESTS
from interfaces.http.routers import (
    accounting_settings,
    activities,
    audit,
    bufdir,
    claims,
    delivery,
    export_runs,
    files,
    history,
    ops,
    sync_runs,
    sync_schedules,
)

REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
ORG_IN_PATH = re.compile(r"^/v1/orgs/([0-9a-fA-F-]{36})(?:/|$)")

log = logging.getLogger("export_service.http")

Readiness = Callable[[], tuple[bool, str]]

DESCRIPTION = """
Moves approved expense claims to accounting systems (Xledger, Microsoft Dynamics) and activity
records into Bufdir grant reports. Every status change is an event; nothing is exported twice.

Authenticate with `Authorization: Bearer <JWT>` (HS256; claims `sub`, `org_id`, `role`, `exp`).
`export-service token --org <uuid> --role coordinator` mints one.
"""


def route_template(request: Request) -> str:
    """The matched route's template (`/v1/orgs/{org_id}/export-runs`), never the raw path:
    labels stay few. The router records the route in the scope while handling the request."""
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


class RequestContext:
    """Per request: the correlation id (given or new) in the request state, the logs' context
    and the `X-Request-ID` answer header; latency and count metrics; one log line. A plain ASGI
    middleware (Starlette's `BaseHTTPMiddleware` costs a task group and a stream per request)."""

    def __init__(self, app: ASGIApp,
                 unavailable_errors: tuple[type[Exception], ...] = (DatabaseUnavailable,)) -> None:
        self.app = app
        self.unavailable_errors = unavailable_errors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        given = request.headers.get("x-request-id", "")
        correlation_id = given if REQUEST_ID.match(given) else str(uuid.uuid4())
        request.state.correlation_id = correlation_id
        org = ORG_IN_PATH.match(scope["path"])
        # Every log line of this request carries these (see infrastructure/logs.py).
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            correlation_id=correlation_id, org_id=org.group(1) if org else None
        )
        status = 500
        started_response = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                status, started_response = message["status"], True
                MutableHeaders(scope=message)["X-Request-ID"] = correlation_id
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        except self.unavailable_errors as exc:  # the database is gone: 503, never a hang
            if started_response:
                raise
            await (await errors.unavailable(request, exc))(scope, receive, send_with_id)
        except Exception as exc:  # the last line of defence: no traceback leaves the process
            if started_response:
                raise
            await (await errors.unexpected(request, exc))(scope, receive, send_with_id)
        elapsed = time.perf_counter() - started
        route = route_template(request)
        LATENCY.labels(request.method, route).observe(elapsed)
        REQUESTS.labels(request.method, route, str(status)).inc()
        principal = getattr(request.state, "principal", None)
        log.info(
            "request",
            extra={
                "method": request.method,
                "route": route,
                "status": status,
                "duration_ms": round(elapsed * 1000, 1),
                "actor": getattr(principal, "sub", None),
            },
        )


def create_app(
    services: ApplicationServices,
    readiness: Readiness,
    *,
    jwt_secret: str,
    max_body_bytes: int = 5 * 1024 * 1024,
    lifespan: Any = None,
    refresh_metrics: Callable[[], None] | None = None,
    routers: Iterable[APIRouter] = (),
    public_url: str = "",
    unavailable_errors: tuple[type[Exception], ...] = (DatabaseUnavailable,),
) -> FastAPI:
    """The API over the application services that bootstrap wired (interfaces.server)."""
    app = FastAPI(
        title="export-service",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        max_body_size=max_body_bytes,  # 413, declared or streamed
        docs_url=None,  # the pages serve Swagger UI and ReDoc with local assets (no CDN)
        redoc_url=None,
        generate_unique_id_function=openapi.operation_id,
        dependencies=[Depends(refuse_non_finite_numbers)],  # NaN/Infinity anywhere: 422
    )
    openapi.install(app)
    app.state.services = services
    app.state.jwt_secret = jwt_secret
    app.state.readiness = readiness
    app.state.refresh_metrics = refresh_metrics
    errors.install(app, unavailable_errors)
    for module in (ops, claims, accounting_settings, audit, export_runs, files, activities, bufdir,
                   history, sync_runs, sync_schedules, delivery):
        app.include_router(module.router)
    for extra in routers:
        app.include_router(extra)
    pages.install(app, secure_cookies=public_url.startswith("https://"))

    app.add_middleware(RequestContext, unavailable_errors=unavailable_errors)
    return app
