"""The generic renderer: a Jinja template from ``templates/`` → PDF/A-3b with one embedded data file.

It knows no certificate or review: ``certificates.document`` and ``review.document`` assemble what
their templates print. Identical inputs and date give byte-identical PDFs: document dates come
from the given moment, the PDF identifier from the content.

One ``Renderer`` per process keeps the compiled templates, the parsed stylesheet and the font
configuration; reusing them is most of what makes a certificate take ~0.1 s rather than ~0.3 s.
"""

from __future__ import annotations

import atexit
import hashlib
import io
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from footprint.documents.fonts import TEMPLATES, ensure_font

LANGS = ("zh", "en", "zh-en")
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


def moment(day: date) -> datetime:
    """Midnight UTC of a document's date: every date inside a document derives from it (reproducible bytes)."""
    return datetime.combine(day, time(0), tzinfo=UTC)


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
