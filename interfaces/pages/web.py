"""What every page shares: the signed-in person from the session cookie, CSRF tokens, rendering.

The session cookie holds the same bearer token the API takes (HttpOnly, SameSite=Strict, Secure
over https), so a page can do exactly what its token may do through the API and nothing more.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

import jwt
from fastapi import Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from application.services import ApplicationServices
from interfaces.http.auth import InvalidToken, Principal, Role, decode
from interfaces.http.deps import AUDITORS, EXPORTERS, SYNC_STARTERS
from interfaces.pages.i18n import environment, negotiate

SESSION_COOKIE = "es_session"
CSRF_COOKIE = "es_csrf"
CSRF_FIELD = "csrf_token"
ADMINS = frozenset({Role.ADMIN})
SETTINGS_READERS = frozenset({Role.ADMIN, Role.COORDINATOR, Role.AUDITOR})


class SignInRequired(Exception):
    """No session, or its token has expired or is not valid: back to the sign-in page."""

    def __init__(self, expired: bool) -> None:
        self.expired = expired


class PageError(Exception):
    """A page answer other than 200 (403, 404, 409, 422) shown as a page that reveals nothing."""

    def __init__(self, status: int) -> None:
        self.status = status


def services_of(request: Request) -> ApplicationServices:
    services: ApplicationServices = request.app.state.services
    return services


def jwt_secret(request: Request) -> str:
    secret: str = request.app.state.jwt_secret
    return secret


def is_secure(request: Request) -> bool:
    """Secure cookies over https, and always when the service's public URL is https."""
    return request.url.scheme == "https" or bool(request.app.state.secure_cookies)


def current_principal(request: Request) -> Principal | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        return decode(token, jwt_secret(request))
    except InvalidToken:
        raise SignInRequired(expired=True) from None


def signed_in(request: Request) -> Principal:
    principal = current_principal(request)
    if principal is None:
        raise SignInRequired(expired=False)
    return principal


def member(
    request: Request, org_id: Annotated[UUID, Path()],
) -> Principal:
    """The signed-in person, when the page's organisation is theirs; 403 (nothing shown) if not."""
    principal = signed_in(request)
    if principal.org_id != org_id:
        raise PageError(403)
    return principal


Member = Annotated[Principal, Depends(member)]


def may(principal: Principal | None) -> dict[str, bool]:
    """Which action controls a page shows; the server checks the same sets again on submit."""
    role = principal.role if principal else None
    return {
        "export": role in EXPORTERS,
        "sync": role in SYNC_STARTERS,
        "audit": role in AUDITORS,
        "admin": role in ADMINS,
        "settings": role in SETTINGS_READERS,
    }


def require(principal: Principal, roles: frozenset[Role]) -> None:
    if principal.role not in roles:
        raise PageError(403)


# CSRF: a random cookie, and in each form an HMAC of it under the service's key.


def _csrf_seed(request: Request) -> str:
    seed = getattr(request.state, "csrf_seed", None) or request.cookies.get(CSRF_COOKIE)
    if not seed:
        seed = secrets.token_urlsafe(32)
        request.state.new_csrf_seed = seed
    request.state.csrf_seed = seed
    return str(seed)


def csrf_token(request: Request) -> str:
    key = jwt_secret(request).encode()
    return hmac.new(key, b"csrf|" + _csrf_seed(request).encode(), hashlib.sha256).hexdigest()


def check_csrf(request: Request, given: str | None) -> None:
    seed = request.cookies.get(CSRF_COOKIE)
    if not seed or not given or not hmac.compare_digest(csrf_token(request), given):
        raise PageError(403)


def finish(request: Request, response: Response) -> Response:
    """Cookies every page answer needs: the CSRF seed when it was just made."""
    seed = getattr(request.state, "new_csrf_seed", None)
    if seed:
        response.set_cookie(CSRF_COOKIE, seed, httponly=True, samesite="strict",
                            secure=is_secure(request), path="/")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def render(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    language = negotiate(request)
    principal = context.pop("principal", None)
    here = context.pop("here", None) or str(request.url.path) + (
        f"?{request.url.query}" if request.url.query else "")
    if principal is None:
        try:
            principal = current_principal(request)
        except SignInRequired:
            principal = None
    html = environment(language).get_template(template).render(
        request=request,
        principal=principal,
        may=may(principal),
        csrf_field=CSRF_FIELD,
        csrf=csrf_token(request),
        path=request.url.path,
        here=here,
        **context,
    )
    return finish(request, HTMLResponse(html, status_code=status))


def sign_in_redirect(request: Request, expired: bool) -> Response:
    target = "/sign-in?next=" + quote(request.url.path, safe="/")
    if expired:
        target += "&expired=1"
    if request.headers.get("hx-request"):
        response: Response = Response(status_code=204, headers={"HX-Redirect": target})
    else:
        response = RedirectResponse(target, status_code=303)
    if expired:
        response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def start_session(request: Request, token: str, target: str) -> Response:
    """The cookie lives as long as the token does."""
    claims = jwt.decode(token, options={"verify_signature": False})
    max_age = max(0, int(claims.get("exp", 0)) - int(time.time()))
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, httponly=True, samesite="strict",
                        secure=is_secure(request), path="/")
    return finish(request, response)


def safe_next(value: str | None, fallback: str) -> str:
    """Only a path on this site: never `//host` or a full URL."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return fallback
