"""Public verification: the page behind a certificate's QR code, its JSON, and a PDF upload check.

``GET /verify/{number}`` shows what the registry says of a certificate (status, product, value,
validity, issuer, surveillance) and the checks of ``footprint verify`` run on the registry's own
copy of the signed PDF, in Chinese or English (``?lang=zh|en``, else the browser's language).
The QR code's ``#sha256=`` fragment never reaches the server; the page compares it in the browser
with the registry's data hash. ``POST /verify`` runs the same checks on an uploaded PDF, whose size
is bounded before it is read. No login: the registry's statuses are public by design.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from footprint.service.app import ApiError

router = APIRouter()
TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "web"
LANGS = ("zh", "en")
STATUS_TEXT = {
    "active": ("有效", "Valid"), "expired": ("已过期", "Expired"), "not yet valid": ("尚未生效", "Not yet valid"),
    "suspended": ("已暂停", "Suspended"), "withdrawn": ("已撤销", "Withdrawn (revoked)"),
    "superseded": ("已被取代", "Superseded"),
}
MAX_CACHED_VERDICTS = 2000
_verdicts: dict[tuple[str, str, str], Any] = {}
_verdicts_lock = threading.Lock()


def _env():  # noqa: ANN202 - jinja2.Environment, built once
    import jinja2

    global _ENV
    if _ENV is None:
        _ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                                  undefined=jinja2.StrictUndefined)
    return _ENV


_ENV = None


def _lang(request: Request) -> str:
    asked = request.query_params.get("lang")
    if asked in LANGS:
        return asked  # type: ignore[return-value]
    accept = request.headers.get("accept-language", "").lower()
    return "zh" if accept.startswith("zh") else "en"


def _page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    lang = _lang(request)
    html = _env().get_template(template).render(lang=lang, path=request.url.path, **context)
    return HTMLResponse(html, status_code=status, headers={
        "Content-Security-Policy": "default-src 'none'; style-src 'self' 'unsafe-inline'; script-src 'self'; "
                                   "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        "Cache-Control": "no-cache"})


async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    return _page(request, "message.html.j2", exc.status_code, title=(str(exc.status_code), str(exc.status_code)),
                 message=(str(exc.detail), str(exc.detail)))


def _roots(request: Request) -> list:
    from footprint.certificates import keys

    settings = request.app.state.service.settings
    return keys.trust_roots(settings.home, list(settings.trust))


def _copy_verdict(request: Request, number: str, status: str):  # noqa: ANN202 - verification.Verdict | None
    """``footprint verify``'s checks on the registry's copy (cached per status and day: they cost ~1 s)."""
    from footprint.certificates import verification
    from footprint.registry import copies

    registry = request.app.state.service.registry
    key = (number, status, dt.date.today().isoformat())
    with _verdicts_lock:
        if key in _verdicts:
            return _verdicts[key]
    pdf = copies.pdf(registry, number)
    if pdf is None:
        return None
    verdict = verification.verify(Path(f"{number}.pdf"), _roots(request), verification.DatabaseSource(registry),
                                  pdf=pdf)
    with _verdicts_lock:
        if len(_verdicts) >= MAX_CACHED_VERDICTS:  # a day's worth of pages; older days are never asked again
            _verdicts.clear()
        _verdicts[key] = verdict
    return verdict


def certificate_facts(request: Request, number: str) -> dict[str, Any]:
    """What the public may know of a certificate: the registry record, issuer, and the copy's checks."""
    from footprint.certificates.pact import registry_footprint
    from footprint.registry.records import RegistryError, parse_number
    from footprint.registry.schemes import SCHEMES

    try:
        parse_number(number)
    except RegistryError as e:
        raise StarletteHTTPException(404, str(e)) from None
    registry = request.app.state.service.registry
    record = registry.get(number)
    if record is None:
        raise StarletteHTTPException(404, f"no certificate {number.strip().upper()} in this registry")
    status = record.status_at()
    issued = registry.footprint_json(record.number)
    data = registry_footprint(issued, status) if issued else None
    certificate = (((data or {}).get("extensions") or [{}])[0].get("data") or {}).get("certificate") or {}
    verdict = _copy_verdict(request, record.number, status)
    scheme = SCHEMES.get(record.scheme or "pact")
    return {
        "number": record.number, "status": status, "pact_status": (data or {}).get("status"),
        "status_reason": record.revocation_reason or record.status_reason, "superseded_by": record.superseded_by,
        "supersedes": record.supersedes, "demo": record.demo,
        "product_id": record.product_id, "product_name": record.product_name, "holder": record.holder,
        "unit": record.unit, "total": record.total, "fossil": record.fossil, "biogenic": record.biogenic,
        "luc": record.luc, "issued_at": record.issued_at, "valid_from": record.valid_from,
        "valid_until": record.valid_until, "data_sha256": record.data_sha256, "pdf_sha256": record.pdf_sha256,
        "footprint_id": (data or {}).get("id"), "issuer": certificate.get("issuer"),
        "self_declared": certificate.get("self_declared"),
        "scheme": None if scheme is None else {"id": scheme.id, "zh": scheme.rule_zh, "en": scheme.rule_en,
                                               "surveillance": scheme.surveillance_months is not None},
        "surveillance_due": record.surveillance_due, "surveillance_overdue": record.surveillance_overdue(),
        "registry_copy": None if verdict is None else {
            "valid": verdict.valid, "signer": verdict.signer, "warnings": verdict.warnings,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in verdict.checks]},
    }


@router.get("/verify/{number}.json")
def verify_json(request: Request, number: str) -> JSONResponse:
    return JSONResponse(certificate_facts(request, number), headers={"Cache-Control": "no-cache"})


@router.get("/verify/{number}", response_class=HTMLResponse)
def verify_page(request: Request, number: str) -> HTMLResponse:
    from footprint.documents import numbers

    facts = certificate_facts(request, number)
    return _page(request, "verify.html.j2", facts=facts, status_text=STATUS_TEXT.get(facts["status"],
                 (facts["status"], facts["status"])), sig=numbers.sig, part=numbers.part)


@router.get("/verify", response_class=HTMLResponse)
def upload_form(request: Request) -> HTMLResponse:
    limit = request.app.state.service.settings.max_upload_bytes
    return _page(request, "upload.html.j2", limit_mb=f"{limit / 1024 / 1024:g}", verdict=None, name=None)


@router.post("/verify")
async def upload(request: Request) -> Response:
    """Run ``footprint verify``'s checks on an uploaded PDF (multipart field ``pdf``, or a raw PDF body)."""
    import asyncio

    from footprint.certificates import verification
    from footprint.service.pact_api import _bounded_body

    service = request.app.state.service
    limit = service.settings.max_upload_bytes
    try:
        body = await _bounded_body(request, limit + 64 * 1024)  # the multipart envelope around the file
    except ApiError:
        raise StarletteHTTPException(413, f"the upload is larger than {limit / 1024 / 1024:g} MB") from None
    name, pdf = "upload.pdf", body
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        name, pdf = await _multipart_file(request, body, limit)
    if len(pdf) > limit:
        raise StarletteHTTPException(413, f"the upload is larger than {limit / 1024 / 1024:g} MB")
    if not pdf.startswith(b"%PDF-"):
        raise StarletteHTTPException(400, "the upload is not a PDF file")
    verdict = await asyncio.to_thread(verification.verify, Path(name), _roots(request),
                                      verification.DatabaseSource(service.registry), None, pdf)
    result = {"file": name, "sha256": hashlib.sha256(pdf).hexdigest(), "number": verdict.number,
              "valid": verdict.valid, "signer": verdict.signer, "warnings": verdict.warnings,
              "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in verdict.checks]}
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(result)
    return _page(request, "upload.html.j2", limit_mb=f"{limit / 1024 / 1024:g}", verdict=result, name=name)


async def _multipart_file(request: Request, body: bytes, limit: int) -> tuple[str, bytes]:
    """The ``pdf`` field of an already size-bounded multipart body."""
    from starlette.formparsers import MultiPartException, MultiPartParser

    async def stream():  # noqa: ANN202
        yield body

    try:
        form = await MultiPartParser(request.headers, stream(), max_files=1, max_fields=5,
                                     max_part_size=limit).parse()
    except MultiPartException as e:
        raise StarletteHTTPException(400, f"malformed upload: {e.message}") from None
    upload = form.get("pdf")
    if upload is None or isinstance(upload, str):
        raise StarletteHTTPException(400, "no file in the form field 'pdf'")
    try:
        return Path(upload.filename or "upload.pdf").name[:200], await upload.read()
    finally:
        await form.close()


@router.get("/verify/static/qr-check.js")
def qr_check_script() -> Response:
    """The page's one script: compares the scanned QR code's ``#sha256=`` with the registry's hash."""
    return Response((TEMPLATES / "qr-check.js").read_bytes(), media_type="text/javascript",
                    headers={"Cache-Control": "max-age=3600"})
