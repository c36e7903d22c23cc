"""Logging in and out, the session cookie, CSRF tokens, login throttling, and the dependencies pages use.

A session is a random 256-bit token in the ``fp_session`` cookie (HttpOnly, SameSite=Lax, Secure on
https); the database keeps only its SHA-256, with the user, an expiry and the session's CSRF token,
so every server process behind a proxy knows every session and logging out or disabling a user ends
it everywhere. Every POST form carries ``csrf_token``: the session's token, or for the login form
(no session yet) the ``fp_csrf`` cookie's value. Failed logins are counted per e-mail and per client
address in the database; past the limit a login is refused before the password is checked.

Pages use :func:`current_user`, :func:`require`, :func:`csrf` and :func:`render`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import delete, func, select

from footprint.registry import users
from footprint.registry.schema import LoginAttempt, WebSession
from footprint.registry.users import User
from footprint.service.web import i18n

router = APIRouter()
TEMPLATES = Path(__file__).resolve().parents[3] / "templates"
COOKIE = "fp_session"
CSRF_COOKIE = "fp_csrf"
SESSION_HOURS = 12
THROTTLE_WINDOW = dt.timedelta(minutes=15)
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_ADDRESS = 30
FORM_OVERHEAD = 1024 * 1024  # a form's fields and multipart envelope besides an uploaded file
CSP = ("default-src 'none'; style-src 'self' 'unsafe-inline'; script-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


class LoginRequired(Exception):
    """An anonymous request for a page that needs a login: answered 303 to /login?next=…"""


class PageError(Exception):
    """A refusal shown as a page: status and a message, either a catalogue key or a (zh, en) pair."""

    def __init__(self, status: int, message: str | tuple[str, str], **values: object):
        super().__init__(str(message))
        self.status, self.message, self.values = status, message, values


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _utc(t: dt.datetime) -> dt.datetime:
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t


def _registry(request: Request):  # noqa: ANN202 - Registry
    return request.app.state.service.registry


def _session(request: Request) -> tuple[User, str] | None:
    """(user, CSRF token) of the request's session cookie, once per request."""
    if "fp_session" not in request.state._state:
        found = None
        token = request.cookies.get(COOKIE)
        if token and len(token) <= 128:
            with _registry(request).read() as s:
                row = s.get(WebSession, _digest(token))
                if row is not None and _utc(row.expires_at) > _now():
                    user = users.get(s, row.user_id)
                    if user is not None and user.active:
                        found = (user, row.csrf_token)
        request.state.fp_session = found
    return request.state.fp_session


def current_user(request: Request) -> User | None:
    """The logged-in user, or None for an anonymous request."""
    found = _session(request)
    return found[0] if found else None


def require(*roles: str) -> Any:
    """A dependency giving the logged-in user of one of ``roles`` (any role when none are named).

    Anonymous: 303 to the login page (coming back here after); another role: the 403 page.
    """
    def dependency(request: Request) -> User:
        user = current_user(request)
        if user is None:
            raise LoginRequired()
        if roles and user.role not in roles:
            raise PageError(403, "error.forbidden")
        return user

    return Depends(dependency)


def csrf_token(request: Request) -> str:
    """The token a form of this page must send back: the session's, else the anonymous cookie's."""
    found = _session(request)
    if found:
        return found[1]
    token = request.cookies.get(CSRF_COOKIE)
    if not token or len(token) > 128:
        token = request.state._state.get("new_csrf") or secrets.token_urlsafe(32)
        request.state.new_csrf = token
    return token


async def csrf(request: Request) -> None:
    """Dependency of every POST: a bounded body whose ``csrf_token`` field matches this browser's token."""
    upload = request.app.state.service.settings.max_upload_bytes
    limit = upload + FORM_OVERHEAD
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        raise PageError(411, ("请求缺少长度。", "The request has no Content-Length."))
    if int(length) > limit:
        raise PageError(413, "error.too_large", limit=f"{upload / 2**20:g}")
    form = await request.form(max_files=4, max_fields=200)
    sent = form.get("csrf_token")
    expected = _expected_csrf(request)
    if not isinstance(sent, str) or not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise PageError(403, "error.csrf")


def _expected_csrf(request: Request) -> str | None:
    found = _session(request)
    return found[1] if found else request.cookies.get(CSRF_COOKIE)


def _environment():  # noqa: ANN202 - jinja2.Environment, built once
    import jinja2

    global _ENV
    if _ENV is None:
        _ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                                  undefined=jinja2.StrictUndefined)
    return _ENV


_ENV = None


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page from ``templates/<template>`` with ``user``, ``csrf_token``, ``lang``, ``t`` and ``path`` set."""
    lang = i18n.lang_of(request)
    token = csrf_token(request)
    html = _environment().get_template(template).render(
        user=current_user(request), csrf_token=token, lang=lang, t=i18n.translator(lang),
        path=request.url.path, **context)
    response = HTMLResponse(html, status_code=status, headers={"Content-Security-Policy": CSP,
                                                               "Cache-Control": "no-store"})
    if request.state._state.get("new_csrf"):
        _cookie(request, response, CSRF_COOKIE, token, None)
    return response


def _cookie(request: Request, response: Response, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", path="/")


def safe_next(target: str | None) -> str:
    """A local path to go to after logging in (never another site)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or len(target) > 512:
        return "/"
    return target


def login_redirect(request: Request) -> RedirectResponse:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(here, safe='')}", status_code=303)


# ---- throttling ------------------------------------------------------------------------------


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def throttled_minutes(request: Request, email: str) -> int | None:
    """Minutes until a login for ``email`` from this address may be tried again (None: allowed now)."""
    since = _now() - THROTTLE_WINDOW
    waits = []
    with _registry(request).read() as s:
        for key, limit in ((f"email:{users.normal_email(email)}", MAX_FAILURES_PER_EMAIL),
                           (f"addr:{_address(request)}", MAX_FAILURES_PER_ADDRESS)):
            count, first = s.execute(select(func.count(), func.min(LoginAttempt.at))
                                     .where(LoginAttempt.key == key, LoginAttempt.at > since)).one()
            if count >= limit:
                waits.append(_utc(first) + THROTTLE_WINDOW - _now())
    if not waits:
        return None
    return max(1, int(max(waits).total_seconds() // 60) + 1)


def _failed(request: Request, email: str) -> None:
    at = _now()
    with _registry(request).write() as s:
        s.execute(delete(LoginAttempt).where(LoginAttempt.at < at - THROTTLE_WINDOW))
        s.add_all([LoginAttempt(key=f"email:{users.normal_email(email)[:300]}", at=at),
                   LoginAttempt(key=f"addr:{_address(request)}", at=at)])


def _start_session(request: Request, user: User) -> str:
    token = secrets.token_urlsafe(32)
    at = _now()
    with _registry(request).write() as s:
        s.execute(delete(WebSession).where(WebSession.expires_at < at))
        s.execute(delete(LoginAttempt).where(LoginAttempt.key == f"email:{user.email}"))
        s.add(WebSession(token_sha256=_digest(token), user_id=user.id, csrf_token=secrets.token_urlsafe(32),
                         created_at=at, expires_at=at + dt.timedelta(hours=SESSION_HOURS)))
    return token


# ---- pages -----------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> HTMLResponse:  # noqa: A002 - the query parameter's name
    return render(request, "web/login.html.j2", next=safe_next(next), problem=None, email="")


@router.post("/login", dependencies=[Depends(csrf)])
async def login(request: Request) -> Response:
    import asyncio

    form = await request.form()
    email, password = str(form.get("email") or "")[:320], str(form.get("password") or "")
    target = safe_next(str(form.get("next") or "/"))
    minutes = await asyncio.to_thread(throttled_minutes, request, email)
    if minutes is not None:
        return render(request, "web/login.html.j2", 429, next=target, email=email,
                      problem=("login.throttled", {"minutes": minutes}))
    user = await asyncio.to_thread(users.authenticate, _registry(request), email, password)
    if user is None:
        await asyncio.to_thread(_failed, request, email)
        return render(request, "web/login.html.j2", 401, next=target, email=email, problem=("login.failed", {}))
    token = await asyncio.to_thread(_start_session, request, user)
    response = RedirectResponse(target, status_code=303)
    _cookie(request, response, COOKIE, token, SESSION_HOURS * 3600)
    return response


@router.post("/logout", dependencies=[Depends(csrf)])
def logout(request: Request) -> Response:
    token = request.cookies.get(COOKIE)
    if token:
        with _registry(request).write() as s:
            s.execute(delete(WebSession).where(WebSession.token_sha256 == _digest(token)))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
