"""Tamper evidence for auditors: recompute the organisation's hash chain, download a run's bundle."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

from application.ports import NotFound
from interfaces.http.deps import AUDITORS, ServicesDep, require

router = APIRouter(prefix="/v1/orgs/{org_id}", tags=["audit"])



@router.get("/audit/verify")
def verify(
    org_id: UUID, services: ServicesDep, _: Annotated[Any, require(AUDITORS)]
) -> dict[str, Any]:
    """Recompute the chain from the stored events; the first mismatch says what happened."""
    return services.audit.verify(org_id)


@router.get(
    "/export-runs/{run_id}/evidence",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}}},
)
def evidence(
    org_id: UUID, run_id: UUID, services: ServicesDep, _: Annotated[Any, require(AUDITORS)]
) -> Response:
    """A zip with the run's events, file, sha256, claims and chain links (see its README.txt)."""
    try:
        body = services.audit.evidence(org_id, run_id)
    except NotFound:
        raise HTTPException(404, "export run not found") from None
    return Response(
        body,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="evidence-{run_id}.zip"'},
    )
