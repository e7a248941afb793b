"""Liveness, readiness and metrics: no token needed."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """Ready when the database answers now, every migration is applied and the worker of this
    process (if it has one) runs."""
    check = request.app.state.readiness
    ok, reason = check()
    return JSONResponse(
        {"status": "ready" if ok else "not ready", "reason": reason}, status_code=200 if ok else 503
    )


@router.get("/metrics")
def metrics(request: Request) -> Response:
    refresh = getattr(request.app.state, "refresh_metrics", None)
    if refresh is not None:
        refresh()
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
