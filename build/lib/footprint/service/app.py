"""The ASGI application of ``footprint serve``: one FastAPI app over the data directory's registry.

Routers mount on it: the PACT v3 host API (:mod:`footprint.service.pact_api`), the public
verification pages (:mod:`footprint.service.verification_pages`) and the web app for people
(:mod:`footprint.service.web.site`, whose job supervisor the lifespan runs), sharing
``app.state.service`` (settings, registry, footprint store); more through ``routers``.

Settings come from the environment so that every worker process started by uvicorn (which
imports the app factory anew) builds the same app: ``FOOTPRINT_HOME``, ``FOOTPRINT_DATABASE_URL``
and the ``FOOTPRINT_SERVE_*`` variables that ``footprint serve`` sets from its options.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from footprint.registry.records import Registry

log = logging.getLogger("footprint.service")

ENV_PREFIX = "FOOTPRINT_SERVE_"


@dataclass(frozen=True)
class Settings:
    """What a server process needs; :meth:`from_env` reads what ``footprint serve`` exported."""

    home: Path
    database_url: str | None = None
    token_seconds: int = 3600
    max_page: int = 1000  # footprints per ListFootprints response at most; more → Link header
    max_upload_bytes: int = 20 * 1024 * 1024  # POST /verify: larger PDFs are refused (413)
    retry_base_seconds: float = 30.0  # first retry of an undelivered event reply; doubles each time
    callback_private: bool = False  # allow http:// and loopback/private event callback targets (tests)
    poll_seconds: float = 5.0  # how often a sender looks for due replies other processes queued
    trust: tuple[Path, ...] = field(default=())  # extra trusted roots for verification (besides <home>/trust)

    @classmethod
    def from_env(cls) -> Settings:
        from footprint.engine import home

        env = os.environ
        def num(name: str, default: float) -> float:
            return float(env.get(ENV_PREFIX + name, default))

        return cls(home=home.resolve(), database_url=env.get("FOOTPRINT_DATABASE_URL") or None,
                   token_seconds=int(num("TOKEN_SECONDS", 3600)),
                   max_upload_bytes=int(num("MAX_UPLOAD_BYTES", 20 * 1024 * 1024)),
                   retry_base_seconds=num("RETRY_BASE_SECONDS", 30.0),
                   callback_private=env.get(ENV_PREFIX + "CALLBACK_PRIVATE") == "1",
                   trust=tuple(Path(p) for p in env.get(ENV_PREFIX + "TRUST", "").split(os.pathsep) if p))


class ApiError(Exception):
    """An error answered as the PACT Error object ``{code, message}``."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


_CODES = {400: "BadRequest", 401: "BadRequest", 403: "AccessDenied", 404: "NotFound", 405: "BadRequest",
          413: "BadRequest", 501: "NotImplemented"}


def create_app(settings: Settings | None = None, routers: Iterable[APIRouter] = ()) -> FastAPI:
    """The app: PACT API, verification pages and any ``routers`` given (e.g. the web app's)."""
    from footprint.service import callbacks, pact_api, verification_pages
    from footprint.service.web import jobs, site

    settings = settings or Settings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        registry = await asyncio.to_thread(Registry.open, settings.home, settings.database_url)
        state = app.state.service = pact_api.Service(settings, registry)
        state.sender = callbacks.Sender(state)
        task = asyncio.create_task(state.sender.run(), name="footprint-event-sender")
        state.jobs = jobs.Supervisor(settings.home, settings.database_url, registry)
        job_task = asyncio.create_task(state.jobs.run(), name="footprint-job-supervisor")
        warm = asyncio.create_task(asyncio.to_thread(site.warm), name="footprint-web-warm-up")
        try:
            yield
        finally:
            for t in (task, job_task, warm):
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await t
            await asyncio.to_thread(state.jobs.close)
            await state.sender.close()
            registry.close()

    app = FastAPI(title="footprint", summary="PACT v3 host API and public certificate verification",
                  version="1", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):  # noqa: ANN202
        if request.url.path.startswith("/verify"):
            return await verification_pages.http_error(request, exc)
        return error_response(exc.status_code, _CODES.get(exc.status_code, "BadRequest"), str(exc.detail),
                              getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _internal(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error", exc_info=exc)
        return error_response(500, "InternalError", "internal error (logged on the server)")

    @app.middleware("http")
    async def _security_headers(request: Request, call_next):  # noqa: ANN001, ANN202
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if request.url.scheme == "https":
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    app.include_router(pact_api.router)
    app.include_router(verification_pages.router)
    site.install(app)
    for router in routers:
        app.include_router(router)
    return app
