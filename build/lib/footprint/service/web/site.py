"""The web app as mounted by ``footprint serve``: its routers, the home page, the language switch,
the admin's user pages, and how refusals become pages (login redirect, 403, 404).

A page module (``manufacturer``, ``reviewer``, ``issuer``) exposes ``router``; listing it in
``PAGES`` mounts it, and importing it registers its job handlers for the job worker too.
"""

from __future__ import annotations

import importlib

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from footprint.registry import users
from footprint.registry.records import RegistryError
from footprint.registry.users import User
from footprint.service.web import i18n, jobs, sessions
from footprint.service.web.sessions import LoginRequired, PageError, csrf, render, require

PAGES = ["footprint.service.web.manufacturer", "footprint.service.web.reviewer", "footprint.service.web.issuer"]
START = {"manufacturer": "/parks", "reviewer": "/review", "issuer": "/issue", "admin": "/admin/users"}
router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    user = sessions.current_user(request)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(START[user.role], status_code=303)


@router.get("/lang/{lang}")
def switch_language(request: Request, lang: str, next: str = "/") -> Response:  # noqa: A002 - query name
    if lang not in i18n.LANGS:
        raise PageError(404, "error.not_found")
    response = RedirectResponse(sessions.safe_next(next), status_code=303)
    response.set_cookie(i18n.COOKIE, lang, max_age=365 * 86400, samesite="lax", path="/",
                        secure=request.url.scheme == "https")
    return response


@router.get("/admin/users", response_class=HTMLResponse)
def user_list(request: Request, user: User = require("admin")) -> HTMLResponse:
    return render(request, "web/admin_users.html.j2", users=users.listing(request.app.state.service.registry),
                  roles=users.ROLES, problem=None, done=request.query_params.get("done"), typed={})


@router.post("/admin/users", dependencies=[Depends(csrf)], response_model=None)
async def user_add(request: Request, user: User = require("admin")) -> Response:
    import asyncio

    form = await request.form()
    registry = request.app.state.service.registry
    enterprises = [e for e in str(form.get("enterprises") or "").replace(",", " ").split() if e]
    try:
        added = await asyncio.to_thread(users.add, registry, str(form.get("email") or ""),
                                        str(form.get("role") or ""), str(form.get("password") or ""), enterprises)
    except RegistryError as e:
        typed = {k: str(form.get(k) or "") for k in ("email", "role", "enterprises")}
        return render(request, "web/admin_users.html.j2", 400, users=users.listing(registry), roles=users.ROLES,
                      problem=str(e), done=None, typed=typed)
    return RedirectResponse(f"/admin/users?done={added.id}", status_code=303)


@router.post("/admin/users/disable", dependencies=[Depends(csrf)], response_model=None)
async def user_disable(request: Request, user: User = require("admin")) -> Response:
    form = await request.form()
    registry = request.app.state.service.registry
    try:
        users.disable(registry, str(form.get("email") or ""))
    except RegistryError as e:
        return render(request, "web/admin_users.html.j2", 400, users=users.listing(registry), roles=users.ROLES,
                      problem=str(e), done=None, typed={})
    return RedirectResponse("/admin/users", status_code=303)


def warm() -> None:
    """At server start, in a thread: what the first download would otherwise wait for (pandas, openpyxl and
    the template, about a second of imports and building)."""
    import pandas  # noqa: F401 - imported for the results CSV's first request

    from footprint.park.template import workbook_bytes

    workbook_bytes()


def install(app: FastAPI) -> None:
    """Mount the web app's routers on ``app`` and answer its refusals as pages."""

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, _exc: LoginRequired) -> Response:
        return sessions.login_redirect(request)

    @app.exception_handler(PageError)
    async def _refused(request: Request, exc: PageError) -> Response:
        if isinstance(exc.message, tuple):
            message = exc.message[0] if i18n.lang_of(request) == "zh" else exc.message[1]
        else:
            message = i18n.translator(i18n.lang_of(request))(exc.message, **exc.values)
        return render(request, "web/error.html.j2", exc.status, code=exc.status, message=message)

    app.include_router(sessions.router)
    app.include_router(router)
    app.include_router(jobs.router)
    for name in PAGES:
        app.include_router(importlib.import_module(name).router)
