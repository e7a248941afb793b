"""The audit chain check for auditors: recomputed on request, the first bad event named."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from interfaces.http.deps import AUDITORS
from interfaces.pages.i18n import N_
from interfaces.pages.web import Member, render, require, services_of

router = APIRouter(prefix="/orgs/{org_id}", include_in_schema=False)

PROBLEMS = {"altered": N_("changed after it was recorded"), "removed": N_("removed"),
            "inserted": N_("added outside the chain")}


@router.get("/audit")
def audit(request: Request, org_id: UUID, principal: Member) -> Response:
    """The same check as GET /v1/orgs/{org_id}/audit/verify."""
    require(principal, AUDITORS)
    result = services_of(request).audit.verify(org_id)
    return render(request, "audit.html", principal=principal, org_id=org_id, result=result,
                  problems=PROBLEMS, title=N_("Audit chain"))
