"""The issuer's pages: approved requests issued as signed certificates (a job), the registry with its
filters and each certificate's suspend, reinstate, withdraw and surveillance, the signed registry
export, and the audit log with its chain check (a job).

The functions are ``footprint certify``'s (certification.issue_reviewed: only approved calculations,
each certificate carrying its review), ``footprint revoke``, ``footprint surveillance record``,
``footprint registry export`` and ``footprint audit verify``'s. The signing key is the server's
(keys.configured_key: ``footprint serve --signing-key``, passphrase from ``$FOOTPRINT_KEY_PASSPHRASE``,
else the demo key); the issuer configuration is ``$FOOTPRINT_ISSUER`` or ``<home>/issuer.yaml``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from footprint.registry import audit
from footprint.registry import requests as certification_requests
from footprint.registry.records import Record, Registry, RegistryError
from footprint.registry.users import User
from footprint.service.web import jobs
from footprint.service.web.sessions import PageError, csrf, render, require

router = APIRouter()
STATUSES = ("active", "suspended", "withdrawn", "superseded", "expired", "not yet valid")
AUDIT_PAGE = 100  # entries per page of the audit log
DUE_WITHIN_DAYS = 30
MAX_QUERY = 200


def certificates_dir(home: Path, request_id: int) -> Path:
    """Where the certificates issued for a request are written (the registry keeps its own copy too)."""
    return home / "web" / "requests" / str(request_id) / "certificates"


def _registry(request: Request) -> Registry:
    return request.app.state.service.registry


@router.get("/issue", response_class=HTMLResponse)
def start(request: Request, user: User = require("issuer")) -> HTMLResponse:
    registry = _registry(request)
    every = certification_requests.listing(registry)
    parks = {r.submission_id: certification_requests.submission(registry, r.submission_id) for r in every}
    return render(request, "web/issue_start.html.j2", approved=[r for r in every if r.status == "approved"],
                  issued=[r for r in every if r.status == "issued"][:50], parks=parks,
                  due=registry.due(DUE_WITHIN_DAYS), within=DUE_WITHIN_DAYS)


def _request_page(request: Request, request_id: int, status: int = 200, problem: str | None = None) -> HTMLResponse:
    from footprint.review.decisions import NotApproved, latest_decision

    registry = _registry(request)
    found = certification_requests.get(registry, request_id)
    if found is None:
        raise PageError(404, "error.not_found")
    submission = certification_requests.submission(registry, found.submission_id)
    decisions = {}
    for pid in found.products:
        try:
            decisions[pid] = latest_decision(registry, submission.park_id, pid)
        except NotApproved as e:
            decisions[pid] = {"problem": str(e)}
    return render(request, "web/issue_request.html.j2", status, r=found, submission=submission, decisions=decisions,
                  job=jobs.latest(registry, f"request:{request_id}", "issue"), problem=problem,
                  records={n: registry.get(n) for n in found.certificate_numbers})


@router.get("/issue/{request_id}", response_class=HTMLResponse)
def request_page(request: Request, request_id: int, user: User = require("issuer")) -> HTMLResponse:
    return _request_page(request, request_id)


@router.post("/issue/{request_id}", dependencies=[Depends(csrf)], response_model=None)
async def issue(request: Request, request_id: int, user: User = require("issuer")) -> Response:
    """Issue the request's certificates as a job (signed with the server's key, recorded in the registry)."""
    registry = _registry(request)
    found = await asyncio.to_thread(certification_requests.get, registry, request_id)
    if found is None:
        raise PageError(404, "error.not_found")
    running = await asyncio.to_thread(jobs.latest, registry, f"request:{request_id}", "issue")
    if found.status != "approved":
        return _request_page(request, request_id, 409, f"request {request_id} is {found.status}; only an approved "
                                                       "request is issued")
    if running is not None and running.status in ("queued", "running"):
        return RedirectResponse(f"/jobs/{running.id}", status_code=303)
    job_id = await asyncio.to_thread(jobs.submit, registry, "issue", {"request": request_id}, user.id,
                                     f"request:{request_id}", f"/issue/{request_id}")
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)


@jobs.handler("issue")
def issue_job(job: jobs.RunningJob) -> dict:
    """``footprint certify`` of the request's approved products with the server's key."""
    from footprint.certificates import certification, keys

    request_id = int(job.payload["request"])
    found = certification_requests.get(job.registry, request_id)
    if found is None or found.status != "approved":
        raise ValueError(f"request {request_id} is {found.status if found else 'missing'}; only an approved "
                         "request is issued")
    submission = certification_requests.submission(job.registry, found.submission_id)
    job.progress("Loading the signing key", 0.05)
    key = keys.configured_key(job.home)
    count = len(found.products)
    steps = iter([0.15] + [0.2 + 0.75 * n / count for n in range(count)])
    issued = certification.issue_reviewed(Path(submission.folder), None, certificates_dir(job.home, request_id), key,
                                          job.registry, found.products,
                                          step=lambda text: job.progress(text, next(steps, 0.95)))
    numbers = [i.record.number for i in issued]
    certification_requests.transition(job.registry, request_id, "issued", job.owner_user_id, numbers=numbers)
    return {"link": f"/issue/{request_id}", "numbers": numbers, "demo": key.demo, "signer": key.holder}


# ---- the registry ----------------------------------------------------------------------------


def _matches(record: Record, status: str, text: str) -> bool:
    if status and record.status_at() != status:
        return False
    words = (record.number, record.product_id, record.product_name, record.holder, record.park)
    return not text or any(text.lower() in w.lower() for w in words)


@router.get("/registry", response_class=HTMLResponse)
def registry_list(request: Request, status: str = "", q: str = "", user: User = require("issuer")) -> HTMLResponse:
    status = status if status in STATUSES else ""
    q = q.strip()[:MAX_QUERY]
    records = [r for r in _registry(request).records() if _matches(r, status, q)]
    return render(request, "web/registry_list.html.j2", records=list(reversed(records)), chosen=status, q=q,
                  statuses=STATUSES)


@router.get("/registry/export.json")
def registry_export(request: Request, user: User = require("issuer")) -> Response:
    """The signed registry export (``footprint registry export``), for buyers verifying offline."""
    from footprint.certificates import keys
    from footprint.registry.records import signed_export

    settings = request.app.state.service.settings
    try:
        _, data = signed_export(_registry(request), keys.configured_key(settings.home))
    except (RegistryError, keys.KeyProblem) as e:
        raise PageError(409, (str(e), str(e))) from None
    name = f"registry-export-{dt.date.today().isoformat()}.json"
    return Response(data, media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


def _certificate_page(request: Request, number: str, status: int = 200, problem: str | None = None) -> HTMLResponse:
    record = _registry(request).get(number)
    if record is None:
        raise PageError(404, "error.not_found")
    return render(request, "web/registry_certificate.html.j2", status, c=record, state=record.status_at(),
                  overdue=record.surveillance_overdue(), problem=problem)


@router.get("/registry/{number}", response_class=HTMLResponse)
def certificate_page(request: Request, number: str, user: User = require("issuer")) -> HTMLResponse:
    return _certificate_page(request, number)


@router.post("/registry/{number}/{action}", dependencies=[Depends(csrf)], response_model=None)
async def certificate_action(request: Request, number: str, action: str, user: User = require("issuer")) -> Response:
    """Suspend, reinstate, withdraw, or record a surveillance: the registry's own audited changes."""
    registry = _registry(request)
    form = await request.form()
    reason = str(form.get("reason") or "")
    changes = {"suspend": lambda: registry.suspend(number, reason, by=user.email),
               "reinstate": lambda: registry.reinstate(number, reason, by=user.email),
               "withdraw": lambda: registry.revoke(number, reason, by=user.email),
               "surveillance": lambda: registry.record_surveillance(
                   number, form.get("result") == "pass", str(form.get("by") or ""), str(form.get("note") or ""),
                   recorded_by=user.email)}
    if action not in changes:
        raise PageError(404, "error.not_found")
    if action == "surveillance" and form.get("result") not in ("pass", "fail"):
        return _certificate_page(request, number, 400, "surveillance result: pass or fail")
    try:
        record = await asyncio.to_thread(changes[action])
    except RegistryError as e:
        return _certificate_page(request, number, 400, str(e))
    return RedirectResponse(f"/registry/{record.number}", status_code=303)


# ---- the audit log ---------------------------------------------------------------------------


@router.get("/audit", response_class=HTMLResponse)
def audit_log(request: Request, before: int | None = None, user: User = require("issuer")) -> HTMLResponse:
    registry = _registry(request)
    with registry.read() as session:
        entries = audit.newest(session, AUDIT_PAGE, before)
    return render(request, "web/audit_log.html.j2", entries=entries, page=AUDIT_PAGE,
                  check=jobs.latest(registry, "audit", "audit-check"))


@router.post("/audit/check", dependencies=[Depends(csrf)], response_model=None)
async def audit_check(request: Request, user: User = require("issuer")) -> Response:
    job_id = await asyncio.to_thread(jobs.submit, _registry(request), "audit-check", {}, user.id, "audit", "/audit")
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)


@jobs.handler("audit-check")
def audit_check_job(job: jobs.RunningJob) -> dict:
    """``footprint audit verify``: every link and signature, the witnessed head, every table replayed."""
    job.progress("Checking every entry and replaying the log", 0.1)
    report = job.registry.audit_report()
    return {"link": "/audit", "ok": report.ok, "entries": report.entries, "head": report.head,
            "key": report.key, "unsigned": report.unsigned, "problems": report.problems[:200],
            "checked_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
