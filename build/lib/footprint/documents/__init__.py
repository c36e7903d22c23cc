"""The generic renderer: a Jinja template from ``templates/`` → PDF/A-3b with one embedded data file.

It knows no certificate or review: ``certificates.document`` and ``review.document`` assemble what
their templates print. Identical inputs and date give byte-identical PDFs: document dates come
from the given moment, the PDF identifier from the content.

One ``Renderer`` per process keeps the compiled templates, the parsed stylesheet, the font
configuration and the layouts values are placed into (:mod:`footprint.documents.placement`): a
certificate whose layout exists takes ~60 ms instead of WeasyPrint's ~700 ms.
"""

from __future__ import annotations

import atexit
import hashlib
import io
import os
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from footprint.documents import placement, vector
from footprint.documents.fonts import TEMPLATES, ensure_font, subset_in_one_pass

LANGS = ("zh", "en", "zh-en")
PDF_VARIANT = "pdf/a-3b"
DEFLATE_LEVEL = 1  # zlib: a certificate's streams in half level 6's time, ~8 % larger


@dataclass(frozen=True)
class Rendered:
    """A rendered document with the data file it embeds."""

    pdf: bytes
    data: bytes
    sha256: str  # of ``data``
    number: str | None = None
    signature_box: tuple[int, tuple[float, float, float, float]] | None = None  # page, PDF points x1 y1 x2 y2
    text: str | None = None  # the text the renderer laid out on the pages, one line per line box


@dataclass(frozen=True)
class Output:
    """One rendered template: the PDF, where ``#signature`` is, and the text laid out on its pages."""

    pdf: bytes
    signature_box: tuple[int, tuple[float, float, float, float]] | None
    text: str
    placed: bool = False  # values placed into a cached layout (else WeasyPrint laid this document out)


class Renderer:
    """Compiled templates, stylesheet and fonts of one process."""

    def __init__(self, templates: Path = TEMPLATES):
        import jinja2
        from weasyprint import CSS
        from weasyprint.text.fonts import FontConfiguration

        from footprint.documents.fetcher import TemplateFetcher

        ensure_font()
        subset_in_one_pass()
        self.templates = templates.resolve()
        self.fetcher = TemplateFetcher(self.templates)
        self.env = jinja2.Environment(loader=jinja2.FileSystemLoader(self.templates), autoescape=True,
                                      undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        self.font_config = FontConfiguration()
        self.css = CSS(url=(self.templates / "documents.css").as_uri(), url_fetcher=self.fetcher,
                       font_config=self.font_config)
        self.layouts: dict[str, placement.Layout] = {}  # by probe HTML, most recent last

    def pdf(self, template: str, context: dict[str, Any], attachment: bytes, attachment_name: str,
            description: str, moment: datetime) -> tuple[bytes, tuple[int, tuple[float, ...]] | None]:
        """Render one template to PDF/A-3b with one embedded file, reproducibly; also where
        the element ``#signature`` is (for the signing step's visible signature field)."""
        out = self.output(template, context, attachment, attachment_name, description, moment)
        return out.pdf, out.signature_box

    def output(self, template: str, context: dict[str, Any], attachment: bytes, attachment_name: str,
               description: str, moment: datetime, paths: tuple[str, ...] = (), place: bool = False) -> Output:
        """:meth:`pdf`, plus the text laid out. Each SVG path data in ``paths`` (the QR code: WeasyPrint
        parses ~3,000 path commands in ~45 ms) is drawn by :mod:`footprint.documents.vector` after layout,
        into the same operators WeasyPrint writes for it: the bytes are the same either way.

        With ``place``, the values the template gives through ``v(...)`` are placed into a layout of the
        template made once (:mod:`footprint.documents.placement`); a document whose values do not fit
        that layout is laid out by WeasyPrint in full, as without ``place``."""
        from weasyprint import HTML

        if place:
            out = self._placed(template, context, attachment, attachment_name, description, moment, paths)
            if out is not None:
                return out
        html = self.env.get_template(template).render(**context, v=placement.plain)
        identifier = hashlib.md5(html.encode() + attachment, usedforsecurity=False).hexdigest().encode()
        html = _with_markers(html, paths)
        document = HTML(string=html, base_url=self.templates.as_uri() + "/", url_fetcher=self.fetcher).render(
            font_config=self.font_config, stylesheets=[self.css])
        pdf = self._write(document, paths, attachment, attachment_name, description, moment, identifier)
        return Output(pdf, _signature_box(document), laid_out_text(document))

    def _placed(self, template: str, context: dict[str, Any], attachment: bytes, attachment_name: str,
                description: str, moment: datetime, paths: tuple[str, ...]) -> Output | None:
        source = self.env.get_template(template)
        probes = placement.Probes()
        html = _with_markers(source.render(**context, v=probes), paths)
        if "\u2060" in html or not all(map(placement.placeable, probes.values)):
            return None  # known before any layout is made (a word joiner in the data would read as a probe)
        layout = self._cached(html)
        if layout.unplaceable:  # values in text that wraps, beside a float, …: printed, so part of the key
            probes = placement.Probes(frozenset(layout.unplaceable))
            html = _with_markers(source.render(**context, v=probes), paths)
            layout = self._cached(html)
        placed = layout.place(probes.values, placement.metadata(layout.document.metadata, probes.values))
        if placed is None:
            return None
        document, text = placed
        values = probes.values
        identifier = hashlib.md5(b"\0".join([html.encode(), *(v.encode() for v in values), attachment]),
                                 usedforsecurity=False).hexdigest().encode()
        pdf = self._write(document, paths, attachment, attachment_name, description, moment, identifier)
        return Output(pdf, layout.signature_box, text, placed=True)

    def _cached(self, html: str) -> placement.Layout:
        key = placement.key(html)
        layout = self.layouts.pop(key, None) or self._layout(html)
        self.layouts[key] = layout  # most recent last
        while len(self.layouts) > 16:  # a layout holds its laid-out document: a few MB
            del self.layouts[next(iter(self.layouts))]
        return layout

    def _layout(self, html: str) -> placement.Layout:
        """The probe HTML laid out by WeasyPrint, keeping its layout context for shaping values later."""
        from weasyprint import DEFAULT_OPTIONS, HTML
        from weasyprint.document import Document

        class Capturing(Document):
            context: Any = None

            @classmethod
            def _build_layout_context(cls, *args: Any) -> Any:
                cls.context = super()._build_layout_context(*args)
                return cls.context

        source = HTML(string=html, base_url=self.templates.as_uri() + "/", url_fetcher=self.fetcher)
        document = Capturing._render(source, self.font_config, None, None,
                                     {**DEFAULT_OPTIONS, "stylesheets": [self.css]})
        return placement.Layout(document, Capturing.context, laid_out_text(document), _signature_box(document))

    def _write(self, document: Any, paths: tuple[str, ...], attachment: bytes, attachment_name: str,
               description: str, moment: datetime, identifier: bytes) -> bytes:
        from weasyprint import Attachment

        placed = {vector.marker_operator(n): vector.operators(d) for n, d in enumerate(paths)}
        stamp = moment.replace(tzinfo=None)
        files = [Attachment(file_obj=io.BytesIO(attachment), name=attachment_name, description=description,
                            created=stamp, modified=stamp, relationship="Data", url_fetcher=self.fetcher)]

        def finish(document: Any, pdf: Any) -> None:
            vector.place(pdf, placed)
            _finish(document, pdf)

        return document.write_pdf(pdf_variant=PDF_VARIANT, attachments=files, pdf_identifier=identifier,
                                  finisher=finish)


def _with_markers(html: str, paths: tuple[str, ...]) -> str:
    """``html`` with each path of ``paths``, in order, replaced by its marker."""
    for n, d in enumerate(paths):
        html = vector.swap(html, d, vector.marker(n))
    return html


def _finish(document: Any, pdf: Any) -> None:
    """Drop Info's Producer (incremental PAdES signing keeps Info and XMP consistent only without it),
    list each associated file once in /AF (WeasyPrint 70 lists the embedded file twice), and deflate
    the streams at zlib level 1 instead of pydyf's 9 (a certificate's in ~3.7 ms instead of ~4.4 at
    level 3, ~7.4 at level 6 and more at 9; ~8 % larger than level 6)."""
    import pydyf

    pdf.info.pop("Producer", None)
    if "AF" in pdf.catalog:
        pdf.catalog["AF"] = pydyf.Array(dict.fromkeys(pdf.catalog["AF"]))
    for obj in pdf.objects:
        if isinstance(obj, pydyf.Stream) and obj.compress:
            raw = b"\n".join(pydyf._to_bytes(item) for item in obj.stream)
            obj.stream, obj.compress = [zlib.compress(raw, DEFLATE_LEVEL)], False
            obj.extra["Filter"] = "/FlateDecode"


def laid_out_text(document: Any) -> str:
    """The text of every line box on the pages, in order: what the renderer wrote (for the demo check)."""
    from weasyprint.formatting_structure import boxes

    lines: list[list[str]] = [[]]

    def walk(box: Any) -> None:
        if isinstance(box, boxes.TextBox):
            lines[-1].append(box.text)
            return
        if isinstance(box, boxes.LineBox):
            lines.append([])
        for child in getattr(box, "children", None) or []:
            walk(child)
        if isinstance(box, boxes.LineBox):  # after an inline block's own lines, the outer line goes on
            lines.append([])

    for page in document.pages:
        walk(page._page_box)
    return "\n".join("".join(line) for line in lines if line)


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
