"""Results → certificate and park summary PDFs: what a certificate prints, as data for its template.

Each certificate carries its data as an embedded PACT v3 ProductFootprint (``product-footprint.json``,
AFRelationship Data), and its QR code holds the certificate number and that file's SHA-256, so a
printed copy leads to the machine-readable one.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Any

from footprint.certificates import pact
from footprint.certificates import qr as qr_code
from footprint.documents import LANGS, Rendered, moment, numbers, renderer
from footprint.park.models import Contribution, ProductResult, Results
from footprint.registry.certificate import Certificate
from footprint.registry.issuer import Issuer

DATA_FILE = "product-footprint.json"
RESULTS_FILE = "footprint-results.json"
TOP_CONTRIBUTORS = 6
CATEGORY_ROWS = 6  # rows the category chart keeps (blank ones print nothing); more categories, more rows
BLANK = "\u00a0"  # a blank row's cell: one line holding nothing, so the row keeps its height


def data_file(results: Results, certificate: Certificate, country: str | None = None,
              region: str | None = None) -> bytes:
    """The embedded JSON: PACT ProductFootprint with footprint's data as its extension."""
    product = results.product(certificate.product_id)
    footprint = pact.product_footprint(results, product, certificate, country, region)
    return json.dumps(footprint, ensure_ascii=False, indent=2).encode("utf-8")


def render_certificate(results: Results, certificate: Certificate, lang: str = "zh-en",
                       country: str | None = None, region: str | None = None) -> Rendered:
    """One product's certificate; ``lang`` is ``zh``, ``en`` or ``zh-en`` (bilingual)."""
    if lang not in LANGS:
        raise ValueError(f"language {lang!r} is not one of {', '.join(LANGS)}")
    data = data_file(results, certificate, country, region)
    digest = hashlib.sha256(data).hexdigest()
    context = certificate_context(results, certificate, lang, digest)
    out = renderer().output("certificate.html.j2", context, data, DATA_FILE,
                            "PACT v3.0.3 ProductFootprint of this certificate, with footprint's calculation data",
                            moment(certificate.issue_date),
                            paths=(context["qr_path"], *(row["bar_path"] for row in context["categories"])),
                            place=True)
    return Rendered(pdf=out.pdf, data=data, sha256=digest, number=certificate.number,
                    signature_box=out.signature_box, text=out.text)


def render_summary(results: Results, issuer: Issuer, issue_date: date, lang: str = "zh-en") -> Rendered:
    """One park-wide table of every product, with the full results JSON embedded."""
    if lang not in LANGS:
        raise ValueError(f"language {lang!r} is not one of {', '.join(LANGS)}")
    data = results.model_dump_json(indent=2).encode("utf-8")
    digest = hashlib.sha256(data).hexdigest()
    rows = [{"p": p, "total": numbers.sig(p.total), "fossil": numbers.part(p.fossil, p.total),
             "biogenic": numbers.part(p.biogenic, p.total), "luc": numbers.part(p.luc, p.total),
             "primary": numbers.percent(p.primary_data_share),
             "dqr": f"{p.dqr:.1f}" if p.dqr is not None else "–"} for p in results.products]
    context = {"lang": lang, "results": results, "rows": rows, "issuer": issuer, "issue_date": issue_date,
               "sha256": digest, "created": moment(issue_date).isoformat()}
    pdf, _ = renderer().pdf("summary.html.j2", context, data, RESULTS_FILE,
                            "footprint results (footprint-results/1) of the park", moment(issue_date))
    return Rendered(pdf=pdf, data=data, sha256=digest)


def qr_payload(certificate: Certificate, digest: str) -> str:
    """Certificate number and data SHA-256; as the link a phone opens when the issuer has a verification
    page (``footprint serve``'s ``/verify``): ``<url>/<number>#sha256=<digest>``. The hash sits in the
    fragment, which a browser keeps to itself: the page compares it with the registry's."""
    url = certificate.issuer.verification_url
    if url:
        return f"{url.rstrip('/')}/{certificate.number}#sha256={digest}"
    return f"urn:footprint:certificate:{certificate.number}:sha256:{digest}"


def qr_path(payload: str, border: int = 4) -> tuple[str, int]:
    """SVG path data (numbers only) of the QR code and its size in modules, quiet zone included."""
    return qr_code.path(qr_code.make(payload), border)


def bar_path(share: float) -> str:
    """SVG path data of a contribution bar in its 100 × 10 box (drawn after layout, as the QR code is);
    an empty path for nothing, as a zero-width rectangle draws nothing."""
    width = f"{share * 100:.3f}"
    return f"M0 1h{width}v8h-{width}z" if float(width) > 0 else "M0 1z"


def _contribution_rows(items: list[Contribution], total: float, rows: int) -> list[dict[str, Any]]:
    """The rows of a contribution table, padded with blank rows to ``rows``: every certificate with up
    to that many has the same table, so its values are placed into one layout (documents.placement)."""
    biggest = max((abs(c.total) for c in items), default=0.0) or 1.0
    out = []
    for c in items:
        out.append({"value": numbers.sig(c.total), "share": numbers.percent(c.total / total) if total else "–",
                    "bar_path": bar_path(abs(c.total) / biggest), "negative": c.total < 0,
                    "zh": numbers.CATEGORY_ZH.get(c.category or c.key, c.category or c.key),
                    "en": c.category or c.key, "label": c.label, "unit": c.unit or BLANK,
                    "type_zh": numbers.DATA_TYPE_ZH.get(c.data_type or "") or BLANK, "type_en": c.data_type or BLANK,
                    "amount": numbers.sig(c.amount) if c.amount is not None else BLANK})
    blank = dict.fromkeys(("value", "share", "zh", "en", "label", "unit", "type_zh", "type_en", "amount"), BLANK)
    return out + [{**blank, "bar_path": bar_path(0), "negative": False} for _ in range(rows - len(out))]


def certificate_context(results: Results, certificate: Certificate, lang: str, digest: str) -> dict[str, Any]:
    """Everything the certificate template prints, as data (the template types no facts)."""
    p: ProductResult = results.product(certificate.product_id)
    pact_unit, unit_amount, _ = pact.declared_unit(p)
    categories = _contribution_rows(p.contributions_by_category, p.total, CATEGORY_ROWS)
    for row, c in zip(categories, p.contributions_by_category, strict=False):
        row["zh"], row["en"] = numbers.CATEGORY_ZH.get(c.key, c.key), c.label
    top = _contribution_rows(p.contributions_by_input[:TOP_CONTRIBUTORS], p.total, TOP_CONTRIBUTORS)
    rest = p.contributions_by_input[TOP_CONTRIBUTORS:]
    path, modules = qr_path(qr_payload(certificate, digest))
    alloc_zh, alloc_en = numbers.allocation(p.allocation.basis, p.allocation.share)
    u = p.uncertainty
    review = certificate.review
    return {
        "lang": lang,
        "cert": certificate,
        "issuer": certificate.issuer,
        "scheme": certificate.issuer.rules,
        "statement": review.statement if review else None,
        "materiality": numbers.quantity(review.statement.materiality_percent) + "%" if review else None,
        "assurance_zh": numbers.ASSURANCE_ZH[review.statement.assurance] if review else None,
        "demo": certificate.issuer.demo,
        "draft": certificate.status == "draft",
        "results": results,
        "p": p,
        "total": numbers.sig(p.total), "fossil": numbers.part(p.fossil, p.total),
        "biogenic": numbers.part(p.biogenic, p.total), "luc": numbers.part(p.luc, p.total),
        "mass": numbers.sig(p.mass_kg) if p.mass_kg is not None else None,
        "production": numbers.quantity(p.amount),
        "primary": numbers.percent(p.primary_data_share),
        "dqr": f"{p.dqr:.1f}" if p.dqr is not None else None,
        "uncertainty": (numbers.sig(u.p2_5), numbers.sig(u.p97_5), u.iterations) if u else None,
        "categories": categories,
        "top": top,
        "rest_zh": f"其余 {len(rest)} 项" if rest else BLANK, "rest_en": f"{len(rest)} more" if rest else BLANK,
        "rest_value": numbers.sig(sum(c.total for c in rest)) if rest else BLANK,
        "allocation_zh": alloc_zh, "allocation_en": alloc_en,
        "allocations": [{"d": d, "moved": numbers.percent(d.moved_share),
                         "shares": ", ".join(f"{pid} {numbers.percent(x)}" for pid, x in d.shares.items())}
                        for d in p.allocations],
        "exempted": numbers.small_percent(p.exempted_percent / 100) if p.exempted_percent is not None else None,
        "exempted_items": [{"i": i, "per_unit": numbers.sig(i.per_unit)} for i in p.exempted_items],
        "biogenic_co2": numbers.part(p.biogenic_co2, p.total),
        "uptake": numbers.sig(p.biogenic_uptake) if p.biogenic_uptake is not None else None,
        "pcf_excluding": numbers.sig(p.total + p.biogenic_co2),
        "pcf_including": numbers.sig(p.total + p.biogenic_co2 - p.biogenic_uptake)
        if p.biogenic_uptake is not None else None,
        "fossil_carbon": numbers.sig(p.fossil_carbon_content) if p.fossil_carbon_content is not None else None,
        "biogenic_carbon": numbers.sig(p.biogenic_carbon_content) if p.biogenic_carbon_content is not None else None,
        "electricity": {"method": p.electricity.method, "location": numbers.sig(p.electricity.location_based),
                        "market": numbers.sig(p.electricity.market_based)} if p.electricity else None,
        "gwp_sets": p.gwp_sets,
        "dqi": {"ter": f"{p.dqi.ter:.1f}", "ger": f"{p.dqi.ger:.1f}", "tir": f"{p.dqi.tir:.1f}",
                "unrated": numbers.percent(p.dqi.unrated_share)} if p.dqi else None,
        "background": pact.secondary_sources(results, p),
        "imported_datasets": imported_datasets(p),
        "pact_unit": f"{unit_amount} {pact_unit}",
        "qr_path": path, "qr_modules": modules,
        "verify_url": certificate.issuer.verification_url,
        "sha256": digest,
        "data_file": DATA_FILE,
        "created": moment(certificate.issue_date).isoformat(),
    }


def imported_datasets(p: ProductResult) -> list[tuple[str, list[str]]]:
    """Per publication of an imported background database (USLCI, ecoinvent, …), the datasets the
    product's supply chain used: what the certificate names besides the database labels."""
    imported = [d for d in p.background_datasets if d.database != "open-factors"]
    return [(pub, [f"{d.name} ({d.location})" if d.location else d.name for d in imported if d.publication == pub])
            for pub in dict.fromkeys(d.publication for d in imported)]
