"""The reviewer's pages: the queue of certification requests and, per request, the review report, the
checks' findings and the bundle's recomputation (each run as a job), then the decision with the
verification statement (ISO 14064-3) the certificate will print.

Everything here calls the functions ``footprint review``, ``footprint recompute`` and ``footprint
review decide`` call (review.decisions, review.bundle). A decision names the registered reviewer
(``footprint reviewers add ... --email``) whose e-mail is the logged-in user's, and is taken on the
bundle hash the page showed, so a bundle written again since is never approved unseen.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from footprint.registry import requests as certification_requests
from footprint.registry import reviewers
from footprint.registry import statement as statements
from footprint.registry.records import Registry, RegistryError
from footprint.registry.users import User
from footprint.service.web import jobs
from footprint.service.web.sessions import CSP, PageError, csrf, render, require

router = APIRouter()
SEED = 0  # the CLI's default seed: the same request reviewed twice gives the same numbers
DEFAULT_ITERATIONS = 1000
MIN_ITERATIONS = 100
OPEN = ("requested", "reviewing")
STATEMENT_FIELDS = ("verifier", "accreditation", "assurance", "materiality_percent", "criteria", "scope",
                    "intended_users", "opinion", "standard")
# the review report is a whole document of its own: shown in a sandboxed frame of the request page
FRAMED_CSP = CSP.replace("frame-ancestors 'none'", "frame-src 'self'; frame-ancestors 'none'")
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox; frame-ancestors 'self'"


def review_dir(home: Path, request_id: int) -> Path:
    """Where a request's review report and bundle are written (each run replaces them)."""
    return home / "web" / "requests" / str(request_id) / "review"


def bundle_path(home: Path, request_id: int, park_id: str) -> Path:
    return review_dir(home, request_id) / f"{park_id}-bundle.zip"


def _registry(request: Request) -> Registry:
    return request.app.state.service.registry


def _home(request: Request) -> Path:
    return request.app.state.service.settings.home


@dataclass(frozen=True)
class Case:
    """A request as the reviewer's page shows it: the request, its park, its last review and recomputation."""

    request: certification_requests.Request
    submission: certification_requests.Submission
    review: jobs.JobView | None
    recompute: jobs.JobView | None
    reviewer: reviewers.Identity | None
    reviewer_problem: str | None

    @property
    def reviewed(self) -> dict | None:
        """The last finished review's result, when its bundle is still the one on disk."""
        return self.review.result if self.review and self.review.status == "done" else None

    @property
    def recomputed(self) -> dict | None:
        """The last recomputation, when it was of the bundle the last review wrote."""
        done = self.recompute.result if self.recompute and self.recompute.status == "done" else None
        if done and self.reviewed and done.get("bundle_sha256") == self.reviewed.get("bundle_sha256"):
            return done
        return None


def _case(registry: Registry, request_id: int, user: User) -> Case:
    found = certification_requests.get(registry, request_id)
    if found is None:
        raise PageError(404, "error.not_found")
    subject = f"request:{request_id}"
    try:
        identity, problem = reviewers.for_email(registry, user.email), None
    except RegistryError as e:
        identity, problem = None, str(e)
    return Case(found, certification_requests.submission(registry, found.submission_id),
                jobs.latest(registry, subject, "review"), jobs.latest(registry, subject, "recompute"), identity,
                problem)


def _page(request: Request, case: Case, status: int = 200, problem: str | None = None,
          form: dict | None = None) -> HTMLResponse:
    response = render(request, "web/review_case.html.j2", status, case=case, problem=problem,
                      form=form or {}, fields=STATEMENT_FIELDS, default_iterations=DEFAULT_ITERATIONS,
                      min_iterations=MIN_ITERATIONS, max_iterations=_max_iterations(), open_statuses=OPEN)
    response.headers["Content-Security-Policy"] = FRAMED_CSP
    return response


def _max_iterations() -> int:
    from footprint.review.bundle import MAX_ITERATIONS

    return MAX_ITERATIONS


@router.get("/review", response_class=HTMLResponse)
def queue(request: Request, user: User = require("reviewer")) -> HTMLResponse:
    registry = _registry(request)
    every = certification_requests.listing(registry)
    parks = {r.submission_id: certification_requests.submission(registry, r.submission_id) for r in every}
    return render(request, "web/review_queue.html.j2", waiting=[r for r in every if r.status in OPEN],
                  decided=[r for r in every if r.status not in OPEN][:50], parks=parks)


@router.get("/review/{request_id}", response_class=HTMLResponse)
def case_page(request: Request, request_id: int, user: User = require("reviewer")) -> HTMLResponse:
    return _page(request, _case(_registry(request), request_id, user))


@router.post("/review/{request_id}/run", dependencies=[Depends(csrf)], response_model=None)
async def run(request: Request, request_id: int, user: User = require("reviewer")) -> Response:
    """Start the review (Monte Carlo, report, bundle) as a job; the request is then being reviewed."""
    registry = _registry(request)
    case = await asyncio.to_thread(_case, registry, request_id, user)
    form = await request.form()
    try:
        iterations = int(str(form.get("iterations") or DEFAULT_ITERATIONS))
    except ValueError:
        iterations = -1
    if not MIN_ITERATIONS <= iterations <= _max_iterations():
        return _page(request, case, 400, problem=f"Monte Carlo iterations: a whole number from {MIN_ITERATIONS} to "
                                                 f"{_max_iterations():,}")
    if case.request.status not in OPEN:
        return _page(request, case, 409, problem=f"request {request_id} is {case.request.status}; it is not reviewed "
                                                 "again (the manufacturer asks anew)")
    job_id = await asyncio.to_thread(jobs.submit, registry, "review", {"request": request_id, "iterations": iterations},
                                     user.id, f"request:{request_id}", f"/review/{request_id}")
    if case.request.status == "requested":
        await asyncio.to_thread(certification_requests.transition, registry, request_id, "reviewing", user.id)
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)


@router.post("/review/{request_id}/recompute", dependencies=[Depends(csrf)], response_model=None)
async def recompute(request: Request, request_id: int, user: User = require("reviewer")) -> Response:
    """Re-run the review's bundle from its files alone in a fresh data directory, as a job."""
    registry = _registry(request)
    case = await asyncio.to_thread(_case, registry, request_id, user)
    if case.reviewed is None:
        return _page(request, case, 409, problem="run the review first: there is no bundle to recompute")
    job_id = await asyncio.to_thread(jobs.submit, registry, "recompute", {"request": request_id}, user.id,
                                     f"request:{request_id}", f"/review/{request_id}")
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)


@router.post("/review/{request_id}/decide", dependencies=[Depends(csrf)], response_model=None)
async def decide(request: Request, request_id: int, user: User = require("reviewer")) -> Response:
    """Approve (with the verification statement) or reject every product of the request, on the bundle shown."""
    from footprint.review.decisions import decide_bundle

    registry = _registry(request)
    case = await asyncio.to_thread(_case, registry, request_id, user)
    form = {k: str(v) for k, v in (await request.form()).items() if isinstance(v, str)}
    if case.request.status not in OPEN:
        return _page(request, case, 409, problem=f"request {request_id} is already {case.request.status}")
    if case.reviewer is None:
        return _page(request, case, 403, problem=case.reviewer_problem or _unlinked(user))
    if case.reviewed is None:
        return _page(request, case, 409, problem="run the review first: a decision is taken on its bundle", form=form)
    approve = form.get("decision") == "approve"
    if form.get("decision") not in ("approve", "reject"):
        return _page(request, case, 400, problem="choose approve or reject", form=form)
    try:
        recorded = statements.from_fields({k: form.get(k) or None for k in STATEMENT_FIELDS}, "form") \
            if approve else None
        await asyncio.to_thread(
            decide_bundle, registry, Path(case.submission.folder),
            bundle_path(_home(request), request_id, case.submission.park_id), list(case.request.products), approve,
            case.reviewer.id, form.get("comment", ""), recorded, form.get("bundle_sha256", ""))
    except (ValueError, RegistryError) as e:  # StatementError is a ValueError
        return _page(request, case, 400, problem=str(e), form=form)
    await asyncio.to_thread(certification_requests.transition, registry, request_id,
                            "approved" if approve else "rejected", user.id, form.get("comment", ""))
    return RedirectResponse(f"/review/{request_id}", status_code=303)


def _unlinked(user: User) -> str:
    return (f"your account {user.email} is not a registered reviewer: the certification body registers you with "
            f"`footprint reviewers add ID --name ... --organisation ... --email {user.email}`")


def _review_file(request: Request, request_id: int, user: User, suffix: str) -> Path:
    case = _case(_registry(request), request_id, user)
    if case.reviewed is None:
        raise PageError(404, "error.not_found")
    folder = review_dir(_home(request), request_id)
    path = folder / f"{case.submission.park_id}{suffix}"
    if not path.is_file():
        raise PageError(404, "error.not_found")
    return path


@router.get("/review/{request_id}/report.html", response_class=HTMLResponse)
def report_html(request: Request, request_id: int, user: User = require("reviewer")) -> Response:
    """The review report as ``footprint review`` writes it; shown framed, sandboxed, without scripts."""
    path = _review_file(request, request_id, user, "-review.html")
    return HTMLResponse(path.read_bytes(), headers={"Content-Security-Policy": REPORT_CSP,
                                                    "X-Frame-Options": "SAMEORIGIN", "Cache-Control": "no-store"})


@router.get("/review/{request_id}/report.pdf")
def report_pdf(request: Request, request_id: int, user: User = require("reviewer")) -> Response:
    path = _review_file(request, request_id, user, "-review.pdf")
    return FileResponse(path, media_type="application/pdf", filename=path.name)


@router.get("/review/{request_id}/bundle.zip")
def bundle_zip(request: Request, request_id: int, user: User = require("reviewer")) -> Response:
    path = _review_file(request, request_id, user, "-bundle.zip")
    return FileResponse(path, media_type="application/zip", filename=path.name)


# ---- jobs ------------------------------------------------------------------------------------


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _job_request(job: jobs.RunningJob) -> tuple[int, certification_requests.Request,
                                                 certification_requests.Submission]:
    request_id = int(job.payload["request"])
    found = certification_requests.get(job.registry, request_id)
    if found is None:
        raise ValueError(f"no certification request {request_id}")
    return request_id, found, certification_requests.submission(job.registry, found.submission_id)


@jobs.handler("review")
def review_job(job: jobs.RunningJob) -> dict:
    """``footprint review`` on the request's park: Monte Carlo, report (HTML, PDF) and bundle."""
    from footprint.review.decisions import run_review

    request_id, found, submission = _job_request(job)
    steps = iter((0.1, 0.3, 0.75, 0.85, 0.95))
    done = run_review(Path(submission.folder), review_dir(job.home, request_id), list(found.products),
                      int(job.payload["iterations"]), SEED, date.today(),
                      step=lambda text: job.progress(text, next(steps, 0.95)))
    wanted = set(found.products)
    return {"link": f"/review/{request_id}", "bundle_sha256": done.bundle_hash, "iterations": job.payload["iterations"],
            "seed": SEED, "products": [
                {"id": p.product_id, "name": p.name, "unit": p.unit, "total": p.total,
                 "mean": p.uncertainty.mean if p.uncertainty else None,
                 "p2_5": p.uncertainty.p2_5 if p.uncertainty else None,
                 "p97_5": p.uncertainty.p97_5 if p.uncertainty else None}
                for p in done.results.products if p.product_id in wanted],
            "findings": [{"severity": f.severity, "check": f.check, "message": f.message, "rows": f.rows[:20],
                          "product": f.product_id} for f in done.findings]}


@jobs.handler("recompute")
def recompute_job(job: jobs.RunningJob) -> dict:
    """``footprint recompute`` of the review's bundle: its files alone, a fresh data directory, every number."""
    from footprint.review import bundle

    request_id, _, submission = _job_request(job)
    path = bundle_path(job.home, request_id, submission.park_id)
    digest = bundle.bundle_hash(path)
    job.progress("Recomputing the bundle in a fresh data directory", 0.2)
    _, _, diffs = bundle.recompute(path)
    worst = bundle.largest_difference(diffs)
    return {"link": f"/review/{request_id}", "bundle_sha256": digest, "numbers": len(diffs),
            "largest": _finite(worst), "reproduced": worst <= bundle.TOLERANCE, "tolerance": bundle.TOLERANCE,
            "rows": [{"product": d.product_id, "quantity": d.quantity, "recorded": _finite(d.recorded),
                      "recomputed": _finite(d.recomputed), "relative": _finite(d.relative)}
                     for d in diffs if d.quantity == "total" or d.relative > bundle.TOLERANCE]}
