"""Connections to the accounting systems: stored by an admin, credentials write-only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from interfaces.http.auth import Role
from interfaces.http.deps import ServicesDep, actor_of, require
from interfaces.http.schemas import StrictBody

router = APIRouter(prefix="/v1/orgs/{org_id}/delivery", tags=["delivery"])

EDITORS = frozenset({Role.ADMIN})
VIEWERS = frozenset({Role.ADMIN, Role.COORDINATOR, Role.AUDITOR})
Target = Literal["xledger", "dynamics"]


class ConnectionIn(StrictBody):
    enabled: bool = True
    endpoint: str | None = Field(default=None, description="Base URL; the vendor's by default")
    token_url: str | None = Field(default=None, description="Business Central OAuth2 token URL")
    tenant_id: str | None = Field(default=None, description="Business Central: Entra tenant")
    environment: str | None = Field(default=None, description="Business Central environment")
    company_id: str | None = Field(default=None, description="Business Central company id")
    journal: str | None = Field(default=None, description="Business Central journal code")
    dimension_code: str | None = Field(
        default=None, description="Business Central dimension for the category's dimension"
    )
    credentials: dict[str, str] | None = Field(
        default=None,
        description='Write-only. Xledger {"api_token"}; Business Central {"client_id", '
        '"client_secret"}. Omit to keep the stored ones.',
    )


class Health(BaseModel):
    ok: bool
    at: datetime
    message: str


class ConnectionOut(BaseModel):
    org_id: UUID
    target: str
    enabled: bool
    endpoint: str
    token_url: str | None = None
    tenant_id: str | None = None
    environment: str | None = None
    company_id: str | None = None
    journal: str | None = None
    dimension_code: str | None = None
    credentials_set: bool
    configured_at: datetime
    configured_by: str
    health: Health | None


def out(conn: Any) -> ConnectionOut:
    health = None
    if conn.health:
        health = Health(ok=conn.health["ok"], at=conn.health["at"], message=conn.health["message"])
    return ConnectionOut(
        org_id=conn.org_id, target=conn.target, credentials_set=conn.credentials_set,
        configured_at=conn.configured_at, configured_by=conn.configured_by, health=health,
        **conn.settings,
    )


@router.put("/{target}", response_model=ConnectionOut)
def put_connection(
    org_id: UUID,
    target: Target,
    body: ConnectionIn,
    request: Request,
    services: ServicesDep,
    principal: Annotated[Any, require(EDITORS)],
) -> ConnectionOut:
    """Store the connection after checking it (a token request and one harmless read).
    Hosts outside EXPORT_SERVICE_DELIVERY_HOSTS are refused before anything is contacted."""
    values = body.model_dump(exclude_none=True)
    conn = services.delivery.configure(org_id, target, values, actor_of(request, principal))
    return out(conn)


@router.get("/{target}", response_model=ConnectionOut)
def get_connection(
    org_id: UUID, target: Target, services: ServicesDep, _: Annotated[Any, require(VIEWERS)]
) -> ConnectionOut:
    """The settings without secrets and the last health check."""
    return out(services.delivery.connection(org_id, target))
