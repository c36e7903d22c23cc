"""Values placed into a certificate layout made once (documents.placement) give the page WeasyPrint makes.

Each placed certificate is compared with WeasyPrint laying out the same HTML with the values in it
(``place=False``, the path every certificate took before): the same text to pdftotext and to the demo
check, and the same pixels at 100 dpi (tolerance: no pixel differs by more than 8 of 255 grey levels;
measured: none differs at all). Whatever cannot be placed is rendered by WeasyPrint in full, and then the
bytes are exactly those of ``place=False``.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

ISSUE = date(2026, 3, 1)
TOOLS = shutil.which("pdftotext") and shutil.which("pdftoppm")
needs_poppler = pytest.mark.skipif(not TOOLS, reason="poppler-utils (pdftotext, pdftoppm) not installed")


@pytest.fixture(scope="module")
def demo(project):
    from footprint.engine.calculation import compute_park
    from footprint.park.loading import load_park
    from footprint.registry.issuer import load_issuer

    park = load_park(ROOT / "inventories" / "demo-park")
    return park, compute_park(park), load_issuer(ROOT / "inventories" / "demo-issuer.yaml")


def render(results, issuer, product_id: str, lang: str, place: bool, renderer=None, **changes):
    """One certificate through the renderer, placed or laid out by WeasyPrint; ``changes`` to the product."""
    from footprint import documents
    from footprint.certificates import document as cd
    from footprint.registry.certificate import draft

    if changes:
        results = results.model_copy(update={"products": [
            p.model_copy(update=changes) if p.product_id == product_id else p for p in results.products]})
    cert = draft(results, product_id, issuer, ISSUE)
    data = cd.data_file(results, cert)
    context = cd.certificate_context(results, cert, lang, hashlib.sha256(data).hexdigest())
    paths = (context["qr_path"], *(row["bar_path"] for row in context["categories"]))
    return (renderer or documents.renderer()).output("certificate.html.j2", context, data, cd.DATA_FILE, "d",
                                                     documents.moment(ISSUE), paths=paths, place=place)


def pdftotext(pdf: bytes, folder: Path) -> str:
    (folder / "x.pdf").write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", "-enc", "UTF-8", str(folder / "x.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout


def pixels(pdf: bytes, folder: Path, name: str) -> list[np.ndarray]:
    from PIL import Image

    (folder / f"{name}.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "100", str(folder / f"{name}.pdf"), str(folder / name)], check=True)
    return [np.asarray(Image.open(p).convert("L"), dtype=np.int16) for p in sorted(folder.glob(f"{name}-*.png"))]


@needs_poppler
@pytest.mark.parametrize("lang", ["zh-en", "zh", "en"])
def test_placed_certificates_are_what_weasyprint_makes_of_the_same_values(demo, lang, tmp_path):
    """Every demo product (13 in zh-en; 4 in zh and en): placed, and to pdftotext, to the demo check and
    to the pixel the same as WeasyPrint's own layout of the same values."""
    park, results, issuer = demo
    products = [p.product_id for p in results.products]
    for product_id in products if lang == "zh-en" else products[::4]:
        weasyprint = render(results, issuer, product_id, lang, place=False)
        placed = render(results, issuer, product_id, lang, place=True)
        assert placed.placed and not weasyprint.placed, product_id
        assert placed.text == weasyprint.text, product_id
        assert pdftotext(placed.pdf, tmp_path) == pdftotext(weasyprint.pdf, tmp_path), product_id
        ours, theirs = pixels(placed.pdf, tmp_path, "placed"), pixels(weasyprint.pdf, tmp_path, "weasyprint")
        assert len(ours) == len(theirs) == 3
        for a, b in zip(ours, theirs, strict=True):
            assert a.shape == b.shape and int(np.abs(a - b).max()) <= 8, product_id


@needs_poppler
def test_placed_text_is_the_value_not_the_template(demo, tmp_path):
    """The value is what the page says: a product renamed after its layout was made prints the new
    name (checked by pdftotext, computed here, not read from the renderer), the old one nowhere."""
    park, results, issuer = demo
    p = results.products[0]
    render(results, issuer, p.product_id, "en", place=True)  # makes the layout with the first name
    renamed = render(results, issuer, p.product_id, "en", place=True, name="Renamed product 12")
    assert renamed.placed
    text = " ".join(pdftotext(renamed.pdf, tmp_path).split())
    assert "Renamed product 12" in text and p.name not in text


def test_what_cannot_be_placed_is_laid_out_by_weasyprint(demo):
    """Past the limits — a name needing more than its 2 reserved lines, a character outside the document
    font's GBK cut, doubled spaces, a name imitating a probe — the certificate is WeasyPrint's, byte for byte."""
    park, results, issuer = demo
    pid = results.products[0].product_id
    for name in ("An extremely long product name " * 8, "Product 𠀀", "Product  with doubled spaces",
                 "Product \u20600\u2060"):
        placed = render(results, issuer, pid, "en", place=True, name=name)
        assert not placed.placed, name
        assert placed.pdf == render(results, issuer, pid, "en", place=False, name=name).pdf


def test_placed_bytes_depend_only_on_the_certificate(demo):
    """A certificate's bytes do not depend on which layouts the process had made before."""
    from footprint.documents import Renderer

    park, results, issuer = demo
    a, b = results.products[0].product_id, results.products[5].product_id
    first = render(results, issuer, a, "zh-en", place=True).pdf
    render(results, issuer, b, "zh-en", place=True)
    assert render(results, issuer, a, "zh-en", place=True).pdf == first
    assert render(results, issuer, a, "zh-en", place=True, renderer=Renderer()).pdf == first


def test_values_in_wrapping_text_are_printed_into_the_layout(tmp_path):
    """A template whose value sits in text WeasyPrint wraps: that value is not placed but printed into
    the HTML (so it selects its own layout); the rest is placed, and the result is WeasyPrint's page."""
    from footprint import documents
    from footprint.documents import Renderer, fonts

    templates = tmp_path / "templates"
    (templates / "fonts").mkdir(parents=True)
    shutil.copy(fonts.FONT_FILE, templates / "fonts")
    shutil.copy(fonts.TEMPLATES / "documents.css", templates)
    (templates / "t.html.j2").write_text(
        '<html><body><p style="width: 40mm">Some fixed words that wrap {{ v(a) }} and go on after it.</p>'
        '<p class="num">{{ v(b) }}</p></body></html>', encoding="utf-8")
    r = Renderer(templates)
    args = ("t.html.j2", {"a": "12.5", "b": "3.14"}, b"{}", "d.json", "d", documents.moment(ISSUE))
    placed, plain = r.output(*args, place=True), r.output(*args)
    layouts = list(r.layouts.values())
    assert layouts[0].unplaceable == {0} and "wrapped" in layouts[0].problems[0]
    assert layouts[-1].problems == [] and placed.placed
    assert placed.text == plain.text and "12.5" in placed.text and "3.14" in placed.text
    # text of the template's own that looks like a probe: not placed at all
    imitation = ("t.html.j2", {"a": "12.5", "b": "3.14", "c": "\u20601\u2060"}, *args[2:])
    (templates / "t.html.j2").write_text('<p>{{ c }}</p><p class="num">{{ v(a) }} {{ v(b) }}</p>', encoding="utf-8")
    assert not Renderer(templates).output(*imitation, place=True).placed


def test_one_pass_font_subset_gives_weasyprints_bytes(demo, monkeypatch):
    """documents.fonts.subset_in_one_pass: the same PDF as WeasyPrint's two passes, in each language,
    subset from the font's own face (a process's first document) and from the preprocessed one (after)."""
    from weasyprint.pdf.fonts import Font

    from footprint import documents
    from footprint.documents import fonts

    park, results, issuer = demo
    documents.renderer()  # made before WeasyPrint's function is swapped in (it would install ours over it)
    monkeypatch.setattr(fonts, "_SUBSETS", {})  # as in a new process
    monkeypatch.setattr(fonts, "_PREPROCESSED", {})
    one_pass = Font._harfbuzz_subset
    two_passes = next(c.cell_contents for c in one_pass.__closure__ if callable(c.cell_contents))
    for lang in ("zh-en", "zh", "en"):
        Font._harfbuzz_subset = two_passes
        try:
            theirs = render(results, issuer, results.products[1].product_id, lang, place=False).pdf
        finally:
            Font._harfbuzz_subset = one_pass
        first = render(results, issuer, results.products[1].product_id, lang, place=False).pdf
        if lang == "zh-en":
            assert not fonts._PREPROCESSED  # the first document came from the font's own face
        assert first == theirs, lang
        assert render(results, issuer, results.products[1].product_id, lang, place=False).pdf == theirs, lang
    assert len(fonts._PREPROCESSED) == 1  # the later ones from the preprocessed face


def test_rectangle_paths_give_the_general_operators():
    """vector.operators' quick path for rectangles (QR code runs, bars) writes what its parser writes."""
    from footprint.certificates.document import bar_path, qr_path
    from footprint.documents import vector

    d, _ = qr_path("urn:footprint:certificate:DEMO-PCF-2026-000001:sha256:" + "0f" * 32)
    for path in (d, bar_path(0.55123), bar_path(1.0), "M4 4h7v1h-7zM13 5h1.5v1h-1.5z"):
        assert vector.operators(path) == b"\n".join(vector._operators(path))
    assert vector.operators("M4 4h7v1h-7z") == b"0 0 m\n4 4 m\n11 4 l\n11 5 l\n4 5 l\nh"
    assert bar_path(0.0) == bar_path(1e-7) == "M0 1z"  # a zero-width bar draws nothing, as its rect did
