"""Server-rendered pages for coordinators, auditors and whoever watches the integrations:
Jinja2 templates, htmx for live status, every asset served by the service itself."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from interfaces.pages import audit, bufdir, docs, exports, settings, sign_in, syncs
from interfaces.pages.i18n import N_
from interfaces.pages.web import PageError, SignInRequired, render, sign_in_redirect

STATIC = Path(__file__).parent / "static"

TITLES = {
    403: N_("You do not have access to this page"),
    404: N_("Page not found"),
    409: N_("This could not be done now"),
    410: N_("This link is no longer valid"),
}


def install(app: FastAPI, secure_cookies: bool = False) -> None:
    app.state.secure_cookies = secure_cookies
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    docs.install(app)
    for module in (sign_in, exports, syncs, bufdir, audit, settings):
        app.include_router(module.router)

    @app.exception_handler(SignInRequired)
    async def to_sign_in(request: Request, exc: SignInRequired) -> Response:
        return sign_in_redirect(request, exc.expired)

    @app.exception_handler(PageError)
    async def page_error(request: Request, exc: PageError) -> Response:
        return render(request, "error.html", status=exc.status,
                      title=TITLES.get(exc.status, N_("Something went wrong")),
                      status_code=exc.status, here="/")
