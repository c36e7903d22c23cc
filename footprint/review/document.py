"""Review report (HTML and PDF/A-3b) from the review data, through the certificates' renderer."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from footprint.documents import moment as document_moment
from footprint.documents import numbers, renderer
from footprint.review.report import ParkReview

TEMPLATE = "review.html.j2"


def _fmt(x: float, digits: int = 3) -> str:
    return numbers.sig(x, digits)


def _pct(x: float, places: int = 1) -> str:
    return numbers.percent(x, places)


def context(review: ParkReview, bundle_hash: str | None, iterations: int, seed: int | None,
            moment: datetime) -> dict[str, Any]:
    return {"r": review, "bundle_hash": bundle_hash, "iterations": iterations, "seed": seed,
            "created": moment.isoformat(), "fmt": _fmt, "pct": _pct}


def render(review: ParkReview, bundle_hash: str | None, iterations: int, seed: int | None,
           day: date) -> tuple[str, bytes]:
    """(HTML, PDF) of the review; the PDF embeds the results JSON it describes."""
    moment = document_moment(day)
    ctx = context(review, bundle_hash, iterations, seed, moment)
    r = renderer()
    html = r.env.get_template(TEMPLATE).render(**ctx)
    pdf, _ = r.pdf(TEMPLATE, ctx, review.results.model_dump_json(indent=2).encode(), "footprint-results.json",
                   "footprint results (footprint-results/1) reviewed in this report", moment)
    return html, pdf
