"""Sign in with a token (or a one-time demo link), sign out, and choose the language."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from interfaces.http.auth import InvalidToken, decode
from interfaces.pages.i18n import LANG_COOKIE, LANGUAGES, N_
from interfaces.pages.web import (
    SESSION_COOKIE,
    SignInRequired,
    check_csrf,
    current_principal,
    finish,
    is_secure,
    jwt_secret,
    render,
    safe_next,
    services_of,
    start_session,
)

router = APIRouter(include_in_schema=False)


def home_of(request: Request) -> str:
    try:
        principal = current_principal(request)
    except SignInRequired:
        principal = None
    return f"/orgs/{principal.org_id}" if principal else "/sign-in"


@router.get("/")
def root(request: Request) -> Response:
    return RedirectResponse(home_of(request), status_code=303)


@router.get("/sign-in")
def sign_in_page(request: Request, next: str | None = None, expired: str | None = None,
                 signed_out: str | None = None) -> Response:
    notice = None
    if expired:
        notice = N_("Your session has expired. Sign in again.")
    elif signed_out:
        notice = N_("You are signed out.")
    return render(request, "sign_in.html", principal=None, next=safe_next(next, ""),
                  notice=notice, errors={}, title=N_("Sign in"))


@router.post("/sign-in")
def sign_in(
    request: Request,
    token: Annotated[str, Form(max_length=4000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    check_csrf(request, csrf_token)
    token = token.strip()
    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    error = N_("Enter your access token") if not token else None
    if token:
        try:
            principal = decode(token, jwt_secret(request))
        except InvalidToken:
            error = N_("The access token is not valid or has expired")
    if error:
        return render(request, "sign_in.html", status=422, principal=None,
                      next=safe_next(next, ""), notice=None, errors={"token": error},
                      title=N_("Sign in"))
    return start_session(request, token, safe_next(next, f"/orgs/{principal.org_id}"))


@router.get("/sign-in/code/{code}")
def code_page(request: Request, code: str) -> Response:
    """A page with one button: a link preview or a prefetch never uses up the code."""
    return render(request, "sign_in_code.html", principal=None, code=code[:200], error=None,
                  title=N_("Sign in"))


@router.post("/sign-in/code")
def redeem_code(
    request: Request,
    code: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    check_csrf(request, csrf_token)
    token = services_of(request).sign_in.redeem(code)
    if token is None:
        return render(request, "sign_in_code.html", status=410, principal=None, code="",
                      error=N_("This sign-in link has been used or has expired."),
                      title=N_("Sign in"))
    principal = decode(token, jwt_secret(request))
    return start_session(request, token, f"/orgs/{principal.org_id}")


@router.post("/sign-out")
def sign_out(
    request: Request, csrf_token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    check_csrf(request, csrf_token)
    response = RedirectResponse("/sign-in?signed_out=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict",
                           secure=is_secure(request))
    return finish(request, response)


@router.get("/language/{language}")
def choose_language(request: Request, language: str, next: str | None = None) -> Response:
    """A preference, not an action: a plain link switches and returns to the same page."""
    response = RedirectResponse(safe_next(next, "/"), status_code=303)
    if language in LANGUAGES:
        response.set_cookie(LANG_COOKIE, language, max_age=365 * 24 * 3600, samesite="lax",
                            secure=is_secure(request), path="/")
    return response
