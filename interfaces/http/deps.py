"""Request dependencies: the services, the caller, and the organisation in the path."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Depends, HTTPException, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from application.services import ApplicationServices
from domain.shared import Actor
from interfaces.http.auth import InvalidToken, Principal, Role, decode

bearer = HTTPBearer(auto_error=False, description="HS256 JWT with sub, org_id, role, exp")

READERS = frozenset(Role)
EXPORTERS = frozenset({Role.COORDINATOR, Role.ADMIN})
SYNC_STARTERS = frozenset({Role.SCHEDULER, Role.COORDINATOR, Role.ADMIN})
AUDITORS = frozenset({Role.AUDITOR, Role.ADMIN})


# The dependencies below never block, so they are coroutines: FastAPI runs a plain `def`
# dependency in the thread pool, a hop per dependency per request.


async def get_services(request: Request) -> ApplicationServices:
    """The use cases (application services only: routers never see an adapter)."""
    services: ApplicationServices = request.app.state.services
    return services


ServicesDep = Annotated[ApplicationServices, Depends(get_services)]


async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    try:
        principal = decode(credentials.credentials, request.app.state.jwt_secret)
    except InvalidToken:
        raise HTTPException(
            401, "invalid or expired token", headers={"WWW-Authenticate": "Bearer"}
        ) from None
    request.state.principal = principal  # who asked, for the request's log line
    return principal


async def org_member(
    org_id: Annotated[UUID, Path(description="The caller's organisation")],
    principal: Annotated[Principal, Depends(get_principal)],
) -> Principal:
    """403 when the path names another organisation; nothing about it is revealed."""
    if principal.org_id != org_id:
        raise HTTPException(403, "forbidden")
    return principal


Member = Annotated[Principal, Depends(org_member)]


def require(roles: frozenset[Role]) -> object:
    async def check(principal: Member) -> Principal:
        if principal.role not in roles:
            raise HTTPException(403, f"role '{principal.role.value}' may not do this")
        return principal

    return Depends(check)


def actor_of(request: Request, principal: Principal) -> Actor:
    return Actor(principal.sub, principal.org_id, request.state.correlation_id)
