"""Results → certificate and summary PDFs (PDF/A-3b) from the Jinja templates in ``templates/``.

Documents compute no footprint: they format what ``Results`` holds. Each certificate carries its
data as an embedded PACT v3 ProductFootprint (``product-footprint.json``, AFRelationship Data),
and its QR code holds the certificate number and that file's SHA-256, so a printed copy leads
to the machine-readable one. Identical inputs and issue date give byte-identical PDFs: document
dates come from the issue date, the PDF identifier from the content.

One ``Renderer`` per process keeps the compiled templates, the parsed stylesheet and the font
configuration; reusing them is most of what makes a certificate take ~0.1 s rather than ~0.3 s.
"""

from __future__ import annotations

import atexit
import hashlib
import io
import json
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from footprint import pact
from footprint.certificate import Certificate
from footprint.documents import numbers
from footprint.documents.fonts import TEMPLATES, ensure_font
from footprint.issuer import Issuer
from footprint.models import Contribution, ProductResult, Results

LANGS = ("zh", "en", "zh-en")
DATA_FILE = "product-footprint.json"
RESULTS_FILE = "footprint-results.json"
TOP_CONTRIBUTORS = 6
PDF_VARIANT = "pdf/a-3b"


@dataclass(frozen=True)
class Rendered:
    """A rendered document with the data file it embeds."""

    pdf: bytes
    data: bytes
    sha256: str  # of ``data``
    number: str | None = None
    signature_box: tuple[int, tuple[float, float, float, float]] | None = None  # page, PDF points x1 y1 x2 y2


class Renderer:
    """Compiled templates, stylesheet and fonts of one process."""

    def __init__(self, templates: Path = TEMPLATES):
        import jinja2
        from weasyprint import CSS
        from weasyprint.text.fonts import FontConfiguration

        from footprint.documents.fetcher import TemplateFetcher

        ensure_font()
        self.templates = templates.resolve()
        self.fetcher = TemplateFetcher(self.templates)
        self.env = jinja2.Environment(loader=jinja2.FileSystemLoader(self.templates), autoescape=True,
                                      undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        self.font_config = FontConfiguration()
        self.css = CSS(url=(self.templates / "documents.css").as_uri(), url_fetcher=self.fetcher,
                       font_config=self.font_config)

    def pdf(self, template: str, context: dict[str, Any], attachment: bytes, attachment_name: str,
            description: str, moment: datetime) -> tuple[bytes, tuple[int, tuple[float, ...]] | None]:
        """Render one template to PDF/A-3b with one embedded file, reproducibly; also where
        the element ``#signature`` is (for the signing step's visible signature field)."""
        from weasyprint import HTML, Attachment

        html = self.env.get_template(template).render(**context)
        document = HTML(string=html, base_url=self.templates.as_uri() + "/", url_fetcher=self.fetcher).render(
            font_config=self.font_config, stylesheets=[self.css])
        stamp = moment.replace(tzinfo=None)
        files = [Attachment(file_obj=io.BytesIO(attachment), name=attachment_name, description=description,
                            created=stamp, modified=stamp, relationship="Data", url_fetcher=self.fetcher)]
        identifier = hashlib.md5(html.encode() + attachment, usedforsecurity=False).hexdigest().encode()
        pdf = document.write_pdf(pdf_variant=PDF_VARIANT, attachments=files, pdf_identifier=identifier,
                                 finisher=_finish)
        return pdf, _signature_box(document)


def _finish(document: Any, pdf: Any) -> None:
    """Drop Info's Producer (incremental PAdES signing keeps Info and XMP consistent only without it)
    and list each associated file once in /AF (WeasyPrint 70 lists the embedded file twice)."""
    pdf.info.pop("Producer", None)
    if "AF" in pdf.catalog:
        import pydyf

        pdf.catalog["AF"] = pydyf.Array(dict.fromkeys(pdf.catalog["AF"]))


def _find(box: Any, ident: str) -> Any:
    element = getattr(box, "element", None)
    if element is not None and element.get("id") == ident and getattr(box, "element_tag", None):
        return box
    for child in getattr(box, "children", None) or []:
        found = _find(child, ident)
        if found is not None:
            return found
    return None


def _signature_box(document: Any) -> tuple[int, tuple[float, float, float, float]] | None:
    """(page index, rectangle in PDF points from the bottom left) of the ``#signature`` element."""
    px = 0.75  # CSS px per PDF point
    for n, page in enumerate(document.pages):
        b = _find(page._page_box, "signature")
        if b is not None:
            x, y, w, h = b.border_box_x(), b.border_box_y(), b.border_width(), b.border_height()
            return n, (x * px, (page.height - y - h) * px, (x + w) * px, (page.height - y) * px)
    return None


_renderers: dict[int, Renderer] = {}
atexit.register(_renderers.clear)  # release fonts before interpreter teardown (else FontConfiguration.__del__ fails)


def renderer() -> Renderer:
    """This process's renderer (a forked pool worker builds its own)."""
    pid = os.getpid()
    if pid not in _renderers:
        _renderers.clear()
        _renderers[pid] = Renderer()
    return _renderers[pid]


def _moment(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


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
    pdf, box = renderer().pdf("certificate.html.j2", context, data, DATA_FILE,
                              "PACT v3.0.3 ProductFootprint of this certificate, with footprint's calculation data",
                              _moment(certificate.issue_date))
    return Rendered(pdf=pdf, data=data, sha256=digest, number=certificate.number, signature_box=box)


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
               "sha256": digest, "created": _moment(issue_date).isoformat()}
    pdf, _ = renderer().pdf("summary.html.j2", context, data, RESULTS_FILE,
                            "footprint results (footprint-results/1) of the park", _moment(issue_date))
    return Rendered(pdf=pdf, data=data, sha256=digest)


def qr_payload(certificate: Certificate, digest: str) -> str:
    """Certificate number and data SHA-256; as a status-check link when the issuer has one."""
    url = certificate.issuer.verification_url
    if url:
        return f"{url}?no={certificate.number}&sha256={digest}"
    return f"urn:footprint:certificate:{certificate.number}:sha256:{digest}"


def qr_path(payload: str, border: int = 4) -> tuple[str, int]:
    """SVG path data (numbers only) of the QR code and its size in modules, quiet zone included."""
    import segno

    qr = segno.make(payload, error="m", micro=False)
    rows = list(qr.matrix_iter(scale=1, border=border))
    d = []
    for y, row in enumerate(rows):
        x = 0
        while x < len(row):
            if row[x]:
                start = x
                while x < len(row) and row[x]:
                    x += 1
                d.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    return "".join(d), len(rows)


def _contribution_rows(items: list[Contribution], total: float) -> list[dict[str, Any]]:
    biggest = max((abs(c.total) for c in items), default=0.0) or 1.0
    out = []
    for c in items:
        out.append({"c": c, "value": numbers.sig(c.total), "share": numbers.percent(c.total / total) if total else "–",
                    "bar": abs(c.total) / biggest, "negative": c.total < 0,
                    "zh": numbers.CATEGORY_ZH.get(c.category or c.key, c.category or c.key),
                    "en": c.category or c.key,
                    "type_zh": numbers.DATA_TYPE_ZH.get(c.data_type or "", ""),
                    "amount": numbers.sig(c.amount) if c.amount is not None else ""})
    return out


def certificate_context(results: Results, certificate: Certificate, lang: str, digest: str) -> dict[str, Any]:
    """Everything the certificate template prints, as data (the template types no facts)."""
    p: ProductResult = results.product(certificate.product_id)
    pact_unit, unit_amount, _ = pact.declared_unit(p)
    categories = _contribution_rows(p.contributions_by_category, p.total)
    for row in categories:
        row["zh"] = numbers.CATEGORY_ZH.get(row["c"].key, row["c"].key)
        row["en"] = row["c"].label
    top = _contribution_rows(p.contributions_by_input[:TOP_CONTRIBUTORS], p.total)
    rest = p.contributions_by_input[TOP_CONTRIBUTORS:]
    path, modules = qr_path(qr_payload(certificate, digest))
    alloc_zh, alloc_en = numbers.allocation(p.allocation.basis, p.allocation.share)
    u = p.uncertainty
    return {
        "lang": lang,
        "cert": certificate,
        "issuer": certificate.issuer,
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
        "rest_count": len(rest),
        "rest_value": numbers.sig(sum(c.total for c in rest)) if rest else None,
        "allocation_zh": alloc_zh, "allocation_en": alloc_en,
        "exempted": numbers.percent(pact.EXEMPTED_PERCENT / 100),
        "background": pact.secondary_sources(results, p),
        "pact_unit": f"{unit_amount} {pact_unit}",
        "qr_path": path, "qr_modules": modules,
        "verify_url": certificate.issuer.verification_url,
        "sha256": digest,
        "data_file": DATA_FILE,
        "created": _moment(certificate.issue_date).isoformat(),
    }


def read_attachment(pdf: str | Path | bytes, name: str | None = None) -> tuple[str, bytes]:
    """(name, bytes) of a PDF's embedded data file: ``name``, else the first one."""
    from pypdf import PdfReader

    raw = pdf if isinstance(pdf, bytes) else Path(pdf).read_bytes()
    if not raw.startswith(b"%PDF-"):
        raise ValueError(f"{'the data' if isinstance(pdf, bytes) else pdf} is not a PDF file")
    files = PdfReader(io.BytesIO(raw)).attachments
    if not files:
        raise ValueError("the PDF carries no embedded file")
    chosen = name or next(iter(files))
    if chosen not in files:
        raise ValueError(f"no embedded file {chosen!r} (has: {', '.join(files)})")
    return chosen, files[chosen][0]
