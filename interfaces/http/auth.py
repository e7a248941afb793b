"""Bearer tokens: HS256 JWTs with sub, org_id, role and exp."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from enum import Enum
from uuid import UUID

import jwt


class Role(str, Enum):
    COORDINATOR = "coordinator"
    ADMIN = "admin"
    AUDITOR = "auditor"
    ANALYST = "analyst"
    SCHEDULER = "scheduler"


class InvalidToken(Exception):
    pass


@dataclass(frozen=True)
class Principal:
    sub: str
    org_id: UUID
    role: Role


def decode(token: str, secret: str) -> Principal:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            options={"require": ["exp", "sub", "org_id", "role"]},
        )
        for name in ("exp", "iat", "nbf"):
            # PyJWT accepts "123" as a time; a time that is not a JSON number is refused.
            if name in claims and not _is_finite_number(claims[name]):
                raise InvalidToken(f"bad {name}")
        sub = claims["sub"]
        if not isinstance(sub, str) or not sub or len(sub) > 200:
            raise InvalidToken("bad sub")
        return Principal(sub=sub, org_id=UUID(str(claims["org_id"])), role=Role(claims["role"]))
    except (jwt.PyJWTError, ValueError, TypeError, KeyError, OverflowError) as error:
        raise InvalidToken(type(error).__name__) from None


def _is_finite_number(value: object) -> bool:
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    )


def mint(secret: str, sub: str, org_id: UUID, role: Role, ttl_seconds: int = 12 * 3600) -> str:
    now = int(time.time())
    return jwt.encode(
        {"sub": sub, "org_id": str(org_id), "role": role.value, "iat": now, "exp": now + ttl_seconds},
        secret,
        algorithm="HS256",
    )
