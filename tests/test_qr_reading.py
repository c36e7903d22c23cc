"""Reading a document quickly for verify: only the QR code's rectangle is rendered (found among the
page's objects), whatever the quick look cannot find is read from whole-page images as before; the
embedded files are read from pyHanko's reader when they have the plain shape, else by pypdf as before.

Every demo certificate and a shipment declaration must give the same code and files read either way,
each code's number and SHA-256 checked against the registry record and the embedded file (hashed here).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from pathlib import Path

import pytest
from conftest import DEMO, ROOT

from footprint.certificates import keys, pdf_reading, verification
from footprint.documents import read_attachment
from footprint.engine import home
from footprint.registry.records import Registry

ISSUER = ROOT / "inventories" / "demo-issuer.yaml"


@pytest.fixture(scope="module")
def documents(tmp_path_factory, project):
    """The demo park's signed certificates (one per product) and the demo shipment declaration, in one registry."""
    from footprint.certificates import certification
    from footprint.exchange import shipment
    from footprint.registry.issuer import load_issuer

    out = tmp_path_factory.mktemp("certs")
    key = keys.default_key(home.resolve())
    park, issuer, results = certification.prepare(DEMO, ISSUER)
    with Registry(f"sqlite:///{out / 'registry.sqlite'}") as registry:
        issued = certification.issue(park, issuer, results, out, key, registry=registry)
        assert sorted(i.record.product_id for i in issued) == sorted(p.product_id for p in results.products)
        declared = shipment.declare(ROOT / "inventories" / "demo-shipment.csv", load_issuer(ISSUER), key,
                                    out / "shipments", [out], registry, "zh-en", dt.date.today())
        yield registry, [(i.record.number, i.path) for i in issued] + [(declared.record.number, declared.path)]


def _own(payloads: list[str], data: bytes) -> list[str]:
    return [p for p in payloads if hashlib.sha256(data).hexdigest() in p]


def test_every_demo_certificate_and_a_declaration_read_the_same_as_from_whole_pages(documents):
    _, docs = documents
    for number, path in docs:
        pdf = path.read_bytes()
        _, data = read_attachment(pdf)
        digest = hashlib.sha256(data).hexdigest()
        located = verification.located_qr_payloads(pdf, {digest})
        whole = verification.qr_payloads(pdf)
        assert located is not None, path.name
        [own] = _own(located, data)
        assert _own(whole, data) == [own]
        assert verification.parse_payload(own) == (number, digest)
        assert set(located) <= set(whole)  # a declaration's first page also prints codes of its certificates
    declaration = docs[-1][1].read_bytes()
    assert len(verification.located_qr_payloads(declaration, {hashlib.sha256(read_attachment(declaration)[1])
                                                             .hexdigest()})) == 2


def test_verdicts_are_the_same_with_and_without_the_quick_look(documents, monkeypatch):
    registry, docs = documents
    roots = keys.trust_roots(home.resolve())
    source = verification.DatabaseSource(registry)
    now = dt.datetime.now(dt.UTC)
    pdfs = {path.name: path.read_bytes() for _, path in (docs[0], docs[-1])}
    pdfs["flipped-data.pdf"] = _with_other_data(pdfs[docs[0][1].name])
    quick = {name: verification.verify(Path(name), roots, source, now, pdf) for name, pdf in pdfs.items()}
    monkeypatch.setattr(verification, "_located_codes", lambda *_a, **_k: None)
    monkeypatch.setattr(verification, "_plain_embedded_files", lambda _reader: None)
    _without_library_replacements(monkeypatch)
    whole = {name: verification.verify(Path(name), roots, source, now, pdf) for name, pdf in pdfs.items()}
    assert quick == whole
    assert quick[docs[0][1].name].valid and quick[docs[-1][1].name].valid
    assert [c.name for c in quick["flipped-data.pdf"].checks if not c.ok] == ["coverage", "data", "file"]

    from footprint.exchange import shipment

    def unread(_pdf: bytes) -> dict:
        raise AssertionError("the shipment check read the embedded files again")

    monkeypatch.setattr(verification, "embedded_files", unread)  # verify read them: the check takes those
    declaration = quick[docs[-1][1].name]
    shipment.check_declaration(docs[-1][1], declaration, source, now)
    assert declaration.checks[-1].name == "certificates" and declaration.checks[-1].ok


def _page_with_a_coloured_code(payload: str, dark: tuple[float, float, float], light: tuple[float, float, float]
                               ) -> bytes:
    """A one-page PDF (written here, byte by byte) printing ``payload``'s QR code as one path of ``dark`` modules
    on a ``light`` square."""
    import segno

    matrix = segno.make(payload, error="m", micro=False).matrix
    side, module = len(matrix), 3
    rects = " ".join(f"{100 + x * module} {600 - y * module} {module} {-module} re"
                     for y, row in enumerate(matrix) for x, dark_module in enumerate(row) if dark_module)
    quiet = 4 * module
    content = (f"{light[0]} {light[1]} {light[2]} rg {100 - quiet} {600 + quiet} {(side * module) + 2 * quiet} "
               f"{-(side * module) - 2 * quiet} re f {dark[0]} {dark[1]} {dark[2]} rg {rects} f").encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
               b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream"]
    out, offsets = bytearray(b"%PDF-1.7\n"), []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_a_coloured_code_reads_in_its_rectangle_as_in_the_whole_page_image():
    """The quick look hands zxing-cpp pdfium's grey pixels (BGR when asked): a red code on dark blue, which reads
    from the RGB image of the whole page and would not if its channels were swapped (then both colours have the
    same luminance); pdfium's grey is the luminance zxing-cpp takes from the BGR pixels."""
    import numpy as np
    import zxingcpp

    digest = hashlib.sha256(b"data").hexdigest()
    payload = f"urn:footprint:certificate:FP-DEMO-PARK-2026-00001-0:sha256:{digest}"
    pdf = _page_with_a_coloured_code(payload, (1, 0, 0), (0, 0, 97 / 255))
    assert verification.qr_payloads(pdf) == [payload]  # the whole page, through PIL's RGB image
    assert verification.located_qr_payloads(pdf, {digest}) == [payload]  # its rectangle, pdfium's grey pixels
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    try:
        page = doc[0]
        bitmap = page.render(scale=200 / 72)
        swapped = np.ascontiguousarray(bitmap.to_numpy()[:, :, ::-1])  # the channels the other way round
        assert zxingcpp.read_barcodes(swapped) == []
        # rows padded to 4 bytes (an odd width): read from to_pil()'s image, as before
        padded = page.render(scale=200 / 72, crop=(1, 0, 0, 0),
                             bitmap_maker=lambda *a, **k: pdfium.PdfBitmap.new_foreign(*a, **k))
        assert padded.stride > 3 * padded.width
        assert [r.text for r in zxingcpp.read_barcodes(verification._pixels(padded))] == [payload]
        assert [r.text for r in zxingcpp.read_barcodes(verification._pixels(bitmap))] == [payload]
        # the rectangle is rendered in grey: pdfium's grey is the luminance zxing-cpp computes from BGR, within 2 of 255
        grey = page.render(scale=200 / 72, grayscale=True)
        assert grey.n_channels == 1
        bgr = bitmap.to_numpy().astype(float)
        luminance = 0.299 * bgr[:, :, 2] + 0.587 * bgr[:, :, 1] + 0.114 * bgr[:, :, 0]
        assert np.abs(grey.to_numpy().astype(float) - luminance).max() <= 2  # integer rounding, both ways
        assert len(np.unique(grey.to_numpy())) >= 2  # the red and the blue stay apart (76 and 11)
        assert [r.text for r in zxingcpp.read_barcodes(verification._pixels(grey))] == [payload]
    finally:
        doc.close()


def _without_library_replacements(monkeypatch) -> None:  # noqa: ANN001 - pytest's fixture
    """pyHanko's and asn1crypto's own functions back in place, and a new event loop per validation."""
    from asn1crypto.x509 import Name, NameTypeAndValue
    from pyhanko.pdf_utils import generic, misc, xref
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import generic_cms, validate_pdf_signature

    verification._check_signature(b"", [], verification.Verdict("x"), dt.datetime.now(dt.UTC))  # installs them
    assert pdf_reading._pyhanko_read_dictionary is not None
    for module, name, original in ((generic, "read_hex_string_from_stream", pdf_reading._pyhanko_read_hex),
                                   (generic, "read_until_delimiter", pdf_reading._pyhanko_read_token),
                                   (generic, "_decode_name", pdf_reading._pyhanko_decode_name),
                                   (generic, "read_non_whitespace", pdf_reading._pyhanko_read_non_whitespace),
                                   (misc, "read_non_whitespace", pdf_reading._pyhanko_read_non_whitespace),
                                   (NameTypeAndValue, "_ldap_string_prep", verification._asn1_name_prep),
                                   (Name, "__eq__", verification._asn1_name_eq),
                                   (Name, "hashable", verification._asn1_name_hashable),
                                   (generic, "_read_string_literal_bytes", pdf_reading._pyhanko_read_literal),
                                   (PdfFileReader, "_get_object_from_stream",
                                    pdf_reading._pyhanko_object_from_stream),
                                   (generic, "read_object", pdf_reading._pyhanko_read_object),
                                   (generic.DictionaryObject, "read_from_stream",
                                    staticmethod(pdf_reading._pyhanko_read_dictionary)),
                                   (generic, "pdf_string", pdf_reading._pyhanko_pdf_string),
                                   (xref, "parse_xref_stream", pdf_reading._pyhanko_parse_xref_stream),
                                   (xref.XRefSectionData, "process_entries", pdf_reading._pyhanko_process_entries),
                                   (generic_cms, "extract_certs_for_validation",
                                    verification._pyhanko_certs_for_validation),
                                   (generic_cms, "_check_signing_certificate",
                                    verification._pyhanko_check_signing_certificate),
                                   (verification, "_validated", validate_pdf_signature)):
        assert original is not None
        monkeypatch.setattr(module, name, original)


def _with_other_data(pdf: bytes) -> bytes:
    """The certificate with its embedded file replaced in an incremental update (as in test_signing)."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    w = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    ef = w.root["/Names"]["/EmbeddedFiles"]["/Names"][1]["/EF"]
    ef["/F"] = w.add_object(generic.StreamObject({generic.NameObject("/Type"): generic.NameObject("/EmbeddedFile")},
                                                 stream_data=b'{"total": 0.1}'))
    w.update_container(ef)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def _qr_box(pdf: bytes) -> tuple[float, float, float, float]:
    """The first page's QR code path's bounding box, found independently of the code under test."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    page = pdfium.PdfDocument(pdf)[0]
    [box] = [o.get_bounds() for o in page.get_objects()
             if o.type == raw.FPDF_PAGEOBJ_PATH and raw.FPDFPath_CountSegments(o.raw) > 1000]
    return box


def _saved(doc) -> bytes:  # noqa: ANN001 - pypdfium2.PdfDocument
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def test_a_code_in_a_moved_and_scaled_form_xobject_is_found(documents):
    import pypdfium2 as pdfium

    _, docs = documents
    pdf = docs[0][1].read_bytes()
    digest = hashlib.sha256(read_attachment(pdf)[1]).hexdigest()
    source = pdfium.PdfDocument(pdf)
    target = pdfium.PdfDocument.new()
    page = target.new_page(595, 842)
    form = source.page_as_xobject(0, target).as_pageobject()
    form.transform(pdfium.PdfMatrix().scale(0.7, 0.7).translate(120, 40))
    page.insert_obj(form)
    page.gen_content()
    moved = _saved(target)
    located = verification.located_qr_payloads(moved, {digest})
    assert located == verification.qr_payloads(moved) and verification.parse_payload(located[0]) == (docs[0][0], digest)


def test_a_code_painted_over_is_not_read_and_one_drawn_module_by_module_falls_back(documents):
    """What the page shows counts: a white box over the code hides it from both reads; a code drawn as
    one path object per module is not found by the quick look, and is read from the whole page."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw
    import segno

    _, docs = documents
    pdf = docs[0][1].read_bytes()
    digest = hashlib.sha256(read_attachment(pdf)[1]).hexdigest()
    x0, y0, x1, y1 = _qr_box(pdf)

    doc = pdfium.PdfDocument(pdf)
    page = doc[0]
    cover = raw.FPDFPageObj_CreateNewRect(x0 - 2, y0 - 2, x1 - x0 + 4, y1 - y0 + 4)
    raw.FPDFPageObj_SetFillColor(cover, 255, 255, 255, 255)
    raw.FPDFPath_SetDrawMode(cover, raw.FPDF_FILLMODE_WINDING, False)
    raw.FPDFPage_InsertObject(page.raw, cover)
    page.gen_content()
    covered = _saved(doc)
    assert verification.located_qr_payloads(covered, {digest}) is None
    assert verification.qr_payloads(covered) == []
    assert verification.document_qr_payloads(covered, {digest}) == []

    payload = f"urn:footprint:certificate:{docs[0][0]}:sha256:{digest}"
    doc = pdfium.PdfDocument.new()
    page = doc.new_page(595, 842)
    module = 3.0
    for y, row in enumerate(segno.make(payload, error="m").matrix):
        for x, dark in enumerate(row):
            if dark:
                rect = raw.FPDFPageObj_CreateNewRect(100 + x * module, 700 - y * module, module, module)
                raw.FPDFPath_SetDrawMode(rect, raw.FPDF_FILLMODE_WINDING, False)
                raw.FPDFPage_InsertObject(page.raw, rect)
    page.gen_content()
    modules = _saved(doc)
    assert verification.located_qr_payloads(modules, {digest}) is None
    assert verification.document_qr_payloads(modules, {digest}) == [payload] == verification.qr_payloads(modules)


@pytest.mark.parametrize("text", [b"<48656C6C6F>", b"<feff00480069>", b"<>", b"<486>", b"<" + b"a0" * 7000 + b">",
                                  b"<48 65\n6C>", b"<48%comment>\n65>", b"<48G5>", b"<4865", b"<48>>"])
def test_hex_strings_read_in_one_step_read_as_pyhanko_reads_them(text):
    """The signature's /Contents is read in one step (verify's signature check was half hex-digit reading);
    every string reads as pyHanko's own reader reads it: value, type, position after it, or error."""
    from pyhanko.pdf_utils import generic

    pdf_reading._fast_hex_strings()
    assert generic.read_hex_string_from_stream is pdf_reading._read_hex_string

    def read(reader):  # noqa: ANN001, ANN202
        stream = io.BytesIO(text + b" 0 obj")
        try:
            value = reader(stream)
        except Exception as e:  # noqa: BLE001 - the error is what is compared
            return type(e)
        return type(value), value, stream.tell()

    assert read(pdf_reading._read_hex_string) == read(pdf_reading._pyhanko_read_hex)


def _reader(pdf: bytes):  # noqa: ANN202 - pyHanko PdfFileReader
    from pyhanko.pdf_utils.reader import PdfFileReader

    return PdfFileReader(io.BytesIO(pdf), strict=False)


def test_embedded_files_read_from_pyhanko_are_those_pypdf_reads(documents):
    _, docs = documents
    for _, path in docs:
        pdf = path.read_bytes()
        plain = verification._plain_embedded_files(_reader(pdf))
        assert plain is not None and plain == verification.embedded_files(pdf) == dict([read_attachment(pdf)])
    replaced = _with_other_data(docs[0][1].read_bytes())
    assert verification.embedded_files(replaced, _reader(replaced)) == verification.embedded_files(replaced) \
        == {"product-footprint.json": b'{"total": 0.1}'}


def _changed_attachment(pdf: bytes, spec_entries: dict, stream_data: bytes, filters: str | None = None) -> bytes:
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    w = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    spec = w.root["/Names"]["/EmbeddedFiles"]["/Names"][1]
    for key, value in spec_entries.items():
        spec[generic.NameObject(key)] = generic.TextStringObject(value)
    head = {generic.NameObject("/Type"): generic.NameObject("/EmbeddedFile")}
    if filters:
        head[generic.NameObject("/Filter")] = generic.NameObject(filters)
    stream = generic.StreamObject(head, encoded_data=stream_data) if filters else \
        generic.StreamObject(head, stream_data=stream_data)
    spec["/EF"]["/F"] = w.add_object(stream)
    w.update_container(spec["/EF"])
    w.update_container(spec)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def test_embedded_files_of_another_shape_are_left_to_pypdf(documents):
    """Another file name than its key, another filter, a stream past pypdf's bound: pypdf reads (or refuses) them."""
    import zlib

    _, docs = documents
    pdf = docs[0][1].read_bytes()
    renamed = _changed_attachment(pdf, {"/UF": "other.json"}, b"{}")
    hexed = _changed_attachment(pdf, {}, b"7b7d>", "/ASCIIHexDecode")
    flate = _changed_attachment(pdf, {}, zlib.compress(b'{"total": 2}'), "/FlateDecode")
    bomb = _changed_attachment(pdf, {}, zlib.compress(bytes(verification.MAX_EMBEDDED_BYTES + 1)), "/FlateDecode")
    for changed in (renamed, hexed, bomb):
        assert verification._plain_embedded_files(_reader(changed)) is None
    assert verification.embedded_files(renamed, _reader(renamed)) == verification.embedded_files(renamed) \
        == {"product-footprint.json": b"{}", "other.json": b"{}"}
    assert verification.embedded_files(hexed, _reader(hexed)) == {"product-footprint.json": b"{}"}
    assert verification._plain_embedded_files(_reader(flate)) == {"product-footprint.json": b'{"total": 2}'}
    with pytest.raises(Exception, match="[Ll]imit"):
        verification.embedded_files(bomb, _reader(bomb))


@pytest.mark.parametrize("value", ["footprint DEMO certification body", "  Demo   Certification Body ", "演示认证机构",
                                   "Ｄｅｍｏ ﬁrm", "x" * 300, "bad\u0340value", ""])
def test_names_prepared_once_compare_as_asn1crypto_prepares_them(value):
    """The signer's names are prepared for comparison once per value (a quarter of the signature check);
    every value prepares as asn1crypto's own method prepares it, or fails as it does."""
    from asn1crypto.x509 import NameTypeAndValue

    verification._remembered_name_preparation()
    assert NameTypeAndValue._ldap_string_prep is verification._prepared_name

    def prepared(prepare):  # noqa: ANN001, ANN202
        try:
            return prepare(None, value)
        except Exception as e:  # noqa: BLE001 - the error is what is compared
            return type(e), str(e)

    assert prepared(verification._prepared_name) == prepared(verification._asn1_name_prep) \
        == prepared(verification._prepared_name)


def test_pdfium_runs_only_under_its_lock_and_frees_what_it_made(documents, monkeypatch):
    """pdfium must never run in two threads at once: every pdfium function footprint calls (through pypdfium2,
    finalizers included) is called by a thread holding ``PDFIUM_LOCK``: in verify (the quick look, and the whole
    pages when a document's code is not found there), the demo-text check and the page checks; and verify run in
    four threads at once gives each document the verdict it gets alone."""
    import gc
    from concurrent.futures import ThreadPoolExecutor

    import pypdfium2.raw as raw

    from footprint.certificates import issuing

    outside: list[str] = []
    for name in dir(raw):
        function = getattr(raw, name)
        if name.startswith("FPDF") and callable(function) and hasattr(function, "argtypes"):
            def checked(*args, _function=function, _name=name):  # noqa: ANN001, ANN202
                if not verification.PDFIUM_LOCK._is_owned():
                    outside.append(_name)
                return _function(*args)
            monkeypatch.setattr(raw, name, checked)
    registry, docs = documents
    roots = keys.trust_roots(home.resolve())
    source = verification.DatabaseSource(registry)
    now = dt.datetime.now(dt.UTC)
    pdfs = [path.read_bytes() for _, path in docs[:3]] + [docs[-1][1].read_bytes()]
    alone = [verification.verify(Path("x.pdf"), roots, source, now, pdf) for pdf in pdfs]
    assert all(v.valid for v in alone)
    with monkeypatch.context() as m:  # a code the quick look does not find: the whole pages are read
        m.setattr(verification, "_located_codes", lambda *_a, **_k: None)
        assert verification.verify(Path("x.pdf"), roots, source, now, pdfs[0]).valid
    assert "DEMO" in issuing.page_text(pdfs[0]) and verification.page_problem(pdfs[0]) is None
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda pdf: verification.verify(Path("x.pdf"), roots, source, now, pdf), pdfs * 3))
    assert together == alone * 3
    gc.collect()
    assert outside == []
    assert sum(name == "FPDF_LoadPage" for name in dir(raw)) == 1  # the names checked are pdfium's own
