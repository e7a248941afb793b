"""Bearer tokens: HS256 JWTs with sub, org_id, role and exp."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
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


#: Tokens verified before, with what they said and when they expire: a client sends the same
#: token with every request, and checking an HS256 signature and its claims again costs more
#: than the rest of a small read. Bounded; the least recently used are forgotten.
VERIFIED_MAX = 4096
_verified: OrderedDict[tuple[str, str], tuple[Principal, float]] = OrderedDict()
_verified_lock = threading.Lock()


def decode(token: str, secret: str) -> Principal:
    """The caller a bearer token names; InvalidToken unless signed with `secret` and unexpired.
    A token verified before is only checked for expiry (its signature cannot have changed)."""
    key = (secret, token)
    with _verified_lock:
        known = _verified.get(key)
        if known is not None:
            _verified.move_to_end(key)
    if known is not None:
        principal, expires = known
        if time.time() < expires:
            return principal
        raise InvalidToken("ExpiredSignatureError")
    principal, expires = _verify(token, secret)
    with _verified_lock:
        _verified[key] = (principal, expires)
        while len(_verified) > VERIFIED_MAX:
            _verified.popitem(last=False)
    return principal


def _verify(token: str, secret: str) -> tuple[Principal, float]:
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
        principal = Principal(sub=sub, org_id=UUID(str(claims["org_id"])),
                              role=Role(claims["role"]))
        return principal, float(claims["exp"])
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
