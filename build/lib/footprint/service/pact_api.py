"""PACT v3.0.3 host API: ``/auth/token``, ``/3/footprints``, ``/3/footprints/{id}``, ``/3/events``.

A thin layer: credentials and tokens live in :mod:`footprint.registry.api_clients`, filtering
and event rules in :mod:`footprint.exchange.pact_host`, stored events in
:mod:`footprint.registry.pact_events`. Token errors follow the PACT conformance tests: an unknown
or malformed token is ``400 BadRequest``, an expired one ``401 TokenExpired``, a revoked client's
``403 AccessDenied``. The token endpoint answers in RFC 6749's own format (``invalid_client``...).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import threading
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import unquote_plus, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from footprint.exchange import pact_host
from footprint.registry import api_clients, copies, pact_events
from footprint.registry.records import Registry
from footprint.service.app import ApiError, Settings

router = APIRouter()
JSON_TYPES = ("application/json", "application/cloudevents+json")


@dataclass(frozen=True)
class Served:
    """One footprint as served now, parsed (for filtering) and serialised (for the response)."""

    footprint_id: str
    footprint: dict
    body: bytes


@dataclass
class Service:
    """Per-process state: settings, the registry, and each issued footprint parsed and serialised once
    per registry status (the data never changes; the status is read from the registry per request)."""

    settings: Settings
    registry: Registry
    sender: Any = None  # callbacks.Sender, set by the app's lifespan
    jobs: Any = None  # web.jobs.Supervisor, set by the app's lifespan
    _served: dict[tuple[str, str], Served] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def footprints(self) -> list[Served]:
        """Every served footprint in issue order, with the PACT status of its certificate now
        (``pact.registry_footprint``: Active while active, else Deprecated)."""
        from footprint.certificates.pact import registry_footprint

        now = dt.datetime.now(dt.UTC)
        keys = [(item.number, item.status_at(now)) for item in copies.listing(self.registry)]
        missing = [key for key in keys if key not in self._served]
        if missing:
            issued = copies.footprints(self.registry, list({number for number, _ in missing}))
            with self._lock:
                for number, status in missing:
                    pf = registry_footprint(issued[number], status)
                    self._served[number, status] = Served(str(pf["id"]).lower(), pf,
                                                          json.dumps(pf, ensure_ascii=False).encode())
        return [self._served[key] for key in keys]


def service(request: Request) -> Service:
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(service)]


def bearer_client(request: Request, svc: ServiceDep) -> str:
    """The API client of the request's bearer token, or the PACT error for the token's problem."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    challenge = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(400, "BadRequest", "an access token is required: Authorization: Bearer <token> "
                                          "(from POST /auth/token)", {"WWW-Authenticate": "Bearer"})
    try:
        return api_clients.check_token(svc.registry, token.strip())
    except api_clients.TokenExpired:
        raise ApiError(401, "TokenExpired", "the access token has expired; request a new one from /auth/token",
                       {"WWW-Authenticate": 'Bearer error="invalid_token", error_description="expired"'}) from None
    except api_clients.ClientRevoked:
        raise ApiError(403, "AccessDenied", "this API client's access was revoked") from None
    except api_clients.TokenInvalid:
        raise ApiError(400, "BadRequest", "invalid access token", challenge) from None


ClientDep = Annotated[str, Depends(bearer_client)]


def _oauth_error(status: int, error: str, description: str, basic: bool = False) -> JSONResponse:
    headers = {"Cache-Control": "no-store"}
    if basic:
        headers["WWW-Authenticate"] = 'Basic realm="footprint", charset="UTF-8"'
    return JSONResponse({"error": error, "error_description": description}, status_code=status, headers=headers)


@router.post("/auth/token")
async def token(request: Request, svc: ServiceDep) -> JSONResponse:
    """OAuth2 client credentials grant (RFC 6749 §4.4) with HTTP Basic client authentication."""
    import asyncio

    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    try:
        client_id, sep, secret = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        sep = ""
    if scheme.lower() != "basic" or not sep:
        return _oauth_error(401, "invalid_client", "client authentication by HTTP Basic is required", basic=True)
    # RFC 6749 §2.3.1 form-encodes both; ids and secrets never contain "%", so decoding is safe either way
    client_id, secret = unquote_plus(client_id), unquote_plus(secret)
    if not await asyncio.to_thread(api_clients.authenticate, svc.registry, client_id, secret):
        return _oauth_error(401, "invalid_client", "client authentication failed", basic=True)
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return _oauth_error(400, "invalid_request", "the body must be application/x-www-form-urlencoded")
    form = await request.form(max_files=0, max_fields=10, max_part_size=4096)
    if form.get("grant_type") != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "grant_type must be client_credentials")
    access, seconds = await asyncio.to_thread(api_clients.issue_token, svc.registry, client_id,
                                              svc.settings.token_seconds)
    return JSONResponse({"access_token": access, "token_type": "Bearer", "expires_in": seconds},
                        headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


@router.get("/.well-known/openid-configuration")
def openid_configuration(request: Request) -> dict:
    """Where the token endpoint is (optional in PACT v3; the conformance service reads it first)."""
    base = str(request.base_url).rstrip("/")
    return {"issuer": base, "token_endpoint": f"{base}/auth/token",
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "grant_types_supported": ["client_credentials"], "response_types_supported": ["token"],
            "scopes_supported": ["footprint:list", "footprint:read"]}


def _query(request: Request) -> tuple[dict[str, list[str]], int | None, int]:
    """Filter values by criterion (names case-insensitive, as the spec's own example writes them), limit, offset."""
    names = {c.lower(): c for c in pact_host.CRITERIA}
    values: dict[str, list[str]] = {}
    limit: int | None = None
    offset = 0
    for key, value in request.query_params.multi_items():
        k = key.lower()
        if k in names:
            values.setdefault(names[k], []).append(value)
        elif k in ("limit", "offset"):
            try:
                n = int(value)
            except ValueError:
                raise ApiError(400, "BadRequest", f"{key}: expected a whole number, got {value[:32]!r}") from None
            if n < (1 if k == "limit" else 0):
                raise ApiError(400, "BadRequest", f"{key}: must be at least {1 if k == 'limit' else 0}")
            if k == "limit":
                limit = n
            else:
                offset = n
    return values, limit, offset


@router.get("/3/footprints")
def list_footprints(request: Request, svc: ServiceDep, _client: ClientDep) -> Response:
    """ListFootprints: filters (OR within, AND across), ``limit`` and an RFC 8288 ``Link: rel="next"``."""
    values, limit, offset = _query(request)
    try:
        criteria = pact_host.Criteria.parse(values)
    except pact_host.BadRequest as e:
        raise ApiError(400, "BadRequest", str(e)) from None
    matches = [s for s in svc.footprints() if criteria.matches(s.footprint)]
    size = min(limit or svc.settings.max_page, svc.settings.max_page)
    page = matches[offset:offset + size]
    headers = {}
    if offset + size < len(matches):
        kept = [(k, v) for k, v in request.query_params.multi_items() if k.lower() not in ("limit", "offset")]
        query = urlencode([*kept, ("limit", str(size)), ("offset", str(offset + size))])
        headers["Link"] = f'<{request.url.replace(query=query)}>; rel="next"'
    body = b'{"data":[' + b",".join(s.body for s in page) + b"]}"
    return Response(body, media_type="application/json", headers=headers)


@router.get("/3/footprints/{footprint_id}")
def get_footprint(footprint_id: str, svc: ServiceDep, _client: ClientDep) -> Response:
    """GetFootprint: one footprint by its id (deprecated ones too, with status Deprecated)."""
    wanted = footprint_id.strip().lower()
    for served in svc.footprints():
        if served.footprint_id == wanted:
            return Response(b'{"data":' + served.body + b"}", media_type="application/json")
    raise ApiError(404, "NotFound", f"no product footprint with id {footprint_id[:64]!r}")


@router.post("/3/events")
async def events(request: Request, svc: ServiceDep, client: ClientDep) -> Response:
    """Action Events: CloudEvents in structured mode; a request is answered later at its ``source``."""
    import asyncio

    from footprint.service import callbacks

    if request.headers.get("content-type", "").split(";")[0].strip().lower() not in JSON_TYPES:
        raise ApiError(400, "BadRequest", "the body must be application/cloudevents+json")
    raw = await _bounded_body(request, 1024 * 1024)
    try:
        body = json.loads(raw)
        event = pact_host.parse_event(body)
        if event.kind == "created":
            await asyncio.to_thread(callbacks.target, event.source, svc.settings.callback_private)
    except (ValueError, pact_host.BadRequest) as e:  # JSONDecodeError is a ValueError
        raise ApiError(400, "BadRequest", f"malformed event: {e}") from None
    reply_source = f"//{request.url.netloc}/3/events"
    new = await asyncio.to_thread(pact_events.receive, svc.registry, client, body, event.kind, reply_source)
    if new and event.kind == "created" and svc.sender is not None:
        svc.sender.wake()
    return Response(status_code=200)


async def _bounded_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 past ``limit`` bytes (hostile input is never read whole)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "BadRequest", f"the body is larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "BadRequest", f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
