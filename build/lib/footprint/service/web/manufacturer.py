"""The manufacturer's pages: template, upload, problems, results, certification requests, certificates.

A manufacturer sees only submissions naming one of its enterprises, within them only its own
enterprises' products, and only certificates held by its enterprises; anything else answers 404,
as if it did not exist. Every figure comes from the results the upload job computed; nothing is
computed in a request.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from footprint.park.models import ProductResult, Results
from footprint.registry.records import RegistryError
from footprint.registry.requests import Submission
from footprint.registry.schema import Certificate
from footprint.registry.users import User
from footprint.service.web import jobs, submissions
from footprint.service.web.sessions import PageError, csrf, render, require

router = APIRouter()
CHART_BARS = 8  # contributions shown; the rest are summed as "other"
CATEGORY_ZH = {"electricity": "电力", "heat and steam": "热力和蒸汽", "fuels": "燃料", "materials": "原材料",
               "packaging": "包装", "transport": "运输", "water": "水", "waste treatment": "废物处理",
               "services": "服务", "direct emissions": "直接排放", "other": "其他"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _registry(request: Request):  # noqa: ANN202 - Registry
    return request.app.state.service.registry


def _own(request: Request, user: User, submission_id: int) -> Submission:
    """The submission if it names one of the user's enterprises, else 404."""
    found = submissions.get(_registry(request), submission_id)
    if found is None or not user.sees_enterprise(found.enterprise_ids):
        raise PageError(404, "error.not_found")
    return found


def _results(submission: Submission, user: User) -> Results | None:
    """The submission's results holding only the user's enterprises' products."""
    path = submissions.results_dir(submission) / "results.json"
    if not path.is_file():
        return None
    results = Results.model_validate_json(path.read_bytes())
    return results.model_copy(update={"products": [p for p in results.products
                                                   if p.enterprise_id in user.enterprises]})


def chart(product: ProductResult, lang: str) -> dict[str, Any]:
    """The contribution chart by category as SVG geometry (bars from a zero line; negatives to its left)."""
    items = sorted(product.contributions_by_category, key=lambda c: -abs(c.total))
    shown = [(c.label, c.total) for c in items[:CHART_BARS]]
    rest = sum(c.total for c in items[CHART_BARS:])
    if rest:
        shown.append(("other", rest))
    label_w, bar_w, value_w, row_h = 150, 300, 130, 22
    low = min([0.0, *(v for _, v in shown)])
    high = max([0.0, *(v for _, v in shown)])
    span = (high - low) or 1.0
    zero = label_w + bar_w * (-low / span)
    bars = []
    for i, (label, value) in enumerate(shown):
        width = bar_w * abs(value) / span
        bars.append({"label": CATEGORY_ZH.get(label, label) if lang == "zh" else label,
                     "x": zero - width if value < 0 else zero, "y": i * row_h + 4, "width": max(width, 0.5),
                     "height": row_h - 8, "text_y": i * row_h + row_h / 2 + 4, "negative": value < 0,
                     "value": _sig(value), "share": f"{value / product.total * 100:.1f}%" if product.total else ""})
    return {"bars": bars, "zero": zero, "width": label_w + bar_w + value_w, "height": len(shown) * row_h + 8,
            "label_w": label_w, "value_x": label_w + bar_w + 8}


def _sig(x: float) -> str:
    from footprint.documents.numbers import sig

    return sig(x) if math.isfinite(x) else str(x)


@router.get("/template/park.xlsx")
def template(user: User = require()) -> Response:
    from footprint.park.template import workbook_bytes

    return Response(workbook_bytes(), media_type=XLSX,
                    headers={"Content-Disposition": 'attachment; filename="park.xlsx"'})


@router.get("/parks", response_class=HTMLResponse)
def parks(request: Request, user: User = require("manufacturer")) -> HTMLResponse:
    limit = request.app.state.service.settings.max_upload_bytes
    return render(request, "web/parks.html.j2", submissions=submissions.visible(_registry(request), user),
                  limit_mb=f"{limit / 2**20:g}")


@router.post("/parks/upload", dependencies=[Depends(csrf)], response_model=None)
async def upload(request: Request, user: User = require("manufacturer")) -> Response:
    from starlette.datastructures import UploadFile

    limit = request.app.state.service.settings.max_upload_bytes
    form = await request.form()
    park = form.get("park")
    if not isinstance(park, UploadFile):
        raise PageError(400, ("请选择要上传的文件。", "Choose a file to upload."))
    data = await park.read(limit + 1)
    if len(data) > limit:
        raise PageError(413, "error.too_large", limit=f"{limit / 2**20:g}")
    if not data:
        raise PageError(400, ("上传的文件是空的。", "The uploaded file is empty."))
    job = submissions.accept(_registry(request), user, park.filename or "upload", data, limit)
    return RedirectResponse(f"/jobs/{job}", status_code=303)


@router.get("/parks/upload/{job_id}", response_class=HTMLResponse, response_model=None)
def upload_result(request: Request, job_id: int, user: User = require("manufacturer")) -> Response:
    job = jobs.get(_registry(request), job_id)
    if job is None or job.kind != "park-upload" or job.owner_user_id != user.id:
        raise PageError(404, "error.not_found")
    if job.status != "done":
        return RedirectResponse(f"/jobs/{job_id}", status_code=303)
    if job.result and job.result.get("submission_id"):
        return RedirectResponse(f"/parks/{job.result['submission_id']}", status_code=303)
    return render(request, "web/upload_problems.html.j2", job=job, result=job.result or {})


@router.get("/parks/{submission_id}", response_class=HTMLResponse)
def park_page(request: Request, submission_id: int, user: User = require("manufacturer")) -> HTMLResponse:
    return _park_page(request, user, _own(request, user, submission_id), None)


def _park_page(request: Request, user: User, submission: Submission, problem: str | None,
               status: int = 200) -> HTMLResponse:
    from footprint.service.web.i18n import lang_of

    results = _results(submission, user)
    products = results.products if results else []
    made = submissions.of_submission(_registry(request), submission.id)
    busy = {p: r.status for r in made if r.status in submissions.REQUEST_OPEN for p in r.products}
    lang = lang_of(request)
    rows = [{"p": p, "chart": chart(p, lang), "total": _sig(p.total), "fossil": _sig(p.fossil),
             "biogenic": _sig(p.biogenic), "luc": _sig(p.luc), "pds": f"{p.primary_data_share * 100:.1f}%",
             "low": _sig(p.uncertainty.p2_5) if p.uncertainty else None,
             "high": _sig(p.uncertainty.p97_5) if p.uncertainty else None,
             "iterations": p.uncertainty.iterations if p.uncertainty else None,
             "name": (p.name_zh or p.name) if lang == "zh" else p.name, "busy": busy.get(p.product_id)}
            for p in products]
    mine = {p.product_id for p in products}
    return render(request, "web/park.html.j2", status, submission=submission, results=results, rows=rows,
                  requests=[r for r in made if set(r.products) & mine], problem=problem,
                  requested=request.query_params.get("requested"))


@router.post("/parks/{submission_id}/request", dependencies=[Depends(csrf)], response_model=None)
async def request_certification(request: Request, submission_id: int,
                                user: User = require("manufacturer")) -> Response:
    submission = _own(request, user, submission_id)
    form = await request.form()
    chosen = [str(v) for v in form.getlist("product")]
    results = _results(submission, user)
    allowed = {p.product_id for p in results.products} if results else set()
    try:
        made = submissions.request_certification(_registry(request), submission, user, chosen, allowed)
    except RegistryError as e:
        return _park_page(request, user, submission, str(e), 400)
    return RedirectResponse(f"/parks/{submission.id}?requested={made.id}", status_code=303)


@router.get("/parks/{submission_id}/results.json")
def results_json(request: Request, submission_id: int, user: User = require("manufacturer")) -> Response:
    results = _results(_own(request, user, submission_id), user)
    if results is None:
        raise PageError(404, "error.not_found")
    return Response(results.model_dump_json(indent=2), media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="{results.park}-results.json"'})


@router.get("/parks/{submission_id}/results.csv")
def results_csv(request: Request, submission_id: int, user: User = require("manufacturer")) -> Response:
    from footprint.text import spreadsheet_safe

    results = _results(_own(request, user, submission_id), user)
    if results is None or not results.products:
        raise PageError(404, "error.not_found")
    return Response(results.to_dataframe().map(spreadsheet_safe).to_csv(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{results.park}-results.csv"'})


def _certificates(request: Request, user: User) -> list:
    """The registry records of certificates held by the user's enterprises, newest first."""
    registry = _registry(request)
    with registry.read() as s:
        numbers = list(s.execute(select(Certificate.number).where(Certificate.holder_id.in_(user.enterprises))
                                 .order_by(Certificate.id.desc())).scalars())
    return [registry.get(n) for n in numbers]


@router.get("/certificates", response_class=HTMLResponse)
def certificates(request: Request, user: User = require("manufacturer")) -> HTMLResponse:
    rows = [{"r": r, "status": r.status_at(), "total": _sig(r.total)} for r in _certificates(request, user)]
    return render(request, "web/certificates.html.j2", rows=rows)


@router.get("/certificates/{number}.pdf")
def certificate_pdf(request: Request, number: str, user: User = require("manufacturer")) -> Response:
    from footprint.registry import copies

    mine = {r.number: r for r in _certificates(request, user)}
    record = mine.get(number.strip().upper())
    pdf = copies.pdf(_registry(request), record.number) if record else None
    if pdf is None:
        raise PageError(404, "error.not_found")
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{record.number}.pdf"'})
