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


PDF_DETAIL_LIMIT = 20  # products with a full section in the PDF; the HTML has every product's


def context(review: ParkReview, bundle_hash: str | None, iterations: int, seed: int | None,
            moment: datetime, detail_limit: int | None = None) -> dict[str, Any]:
    """The template's facts; ``detail_limit`` products get a full section (all when None)."""
    detailed = [pr.result.product_id for pr in review.products][:detail_limit]
    return {"r": review, "bundle_hash": bundle_hash, "iterations": iterations, "seed": seed,
            "created": moment.isoformat(), "fmt": _fmt, "pct": _pct, "detailed": set(detailed),
            "omitted": len(review.products) - len(detailed)}


def render(review: ParkReview, bundle_hash: str | None, iterations: int, seed: int | None,
           day: date) -> tuple[str, bytes]:
    """(HTML, PDF) of the review; the PDF embeds the results JSON it describes.

    The PDF has a full section for the first PDF_DETAIL_LIMIT products only, and then lists only the
    park's warnings and errors (and says so), as a park of thousands of products would take
    WeasyPrint an hour; the HTML has them all.
    """
    moment = document_moment(day)
    r = renderer()
    html = r.env.get_template(TEMPLATE).render(**context(review, bundle_hash, iterations, seed, moment))
    pdf, _ = r.pdf(TEMPLATE, context(review, bundle_hash, iterations, seed, moment, PDF_DETAIL_LIMIT),
                   review.results.model_dump_json(indent=2).encode(), "footprint-results.json",
                   "footprint results (footprint-results/1) reviewed in this report", moment)
    return html, pdf
