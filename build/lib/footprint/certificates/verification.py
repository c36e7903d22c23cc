"""``footprint verify``: is this certificate PDF genuine, unchanged, and still valid?

Each check is reported on its own line; every one is always made and every one must pass:

1. *signature* — exactly one signature, cryptographically valid over intact bytes;
2. *coverage* — it covers the entire file: no incremental update or appended revision after it
   (pdfsig still says "valid" for a signed file with a replaced attachment appended, and pyHanko
   accepts an edited Info dictionary after signing, so "covers the entire file" is required) —
   except, for PAdES B-LTA, validation data and document timestamps, as pyHanko's diff analysis sees;
3. *signer* — the signer's chain ends at a trusted root (``--trust`` and ``<home>/trust``), now, or
   for B-LTA when signed, proven by a chain of *archive* document timestamps valid now;
4. *number* — the QR code carries a certificate number with a correct check character: a document
   without one cannot be checked against a registry and is invalid, whoever signed it;
5. *registry* — the number is in the registry (its record checked against the signed audit log)
   or in a signed export made with the same key as the certificate's signature;
6. *issuer* — the certificate is signed with the key the registry recorded for that number;
7. *data* — the embedded data's SHA-256 equals the one in the QR code (decoded from the page
   image, as a phone would: from the rendered rectangle of the code, found among the page's objects,
   else from whole-page images) and the one the registry recorded;
8. *file* — the PDF's SHA-256 is one the registry recorded for it (catches edits the signature tolerates);
9. *status* — the registry (database or signed export) says active and within validity.

Informative lines say whether the certificate is self-declared or reviewed (by whom), whether it
was back-dated, and how old an export is. A demo signature adds a warning line and fails the signer
check unless the demo CA is trusted. An overdue surveillance (registry/schemes.py) is reported as a
warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import functools
import hashlib
import io
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509

from footprint.certificates import keys
from footprint.certificates.pdf_reading import fast_pdf_reading
from footprint.registry.records import Record, Registry, RegistryError, parse_number, read_export, record_from_dict

_SHA = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{64}(?![0-9a-fA-F])")
# A certificate is one A4 page; pages are rasterised to find the QR code, so a PDF with a 200 × 200 inch
# page (4.8 GB at 200 dpi) or thousands of pages is refused before anything is rendered.
MAX_PAGES = 10
MAX_PAGE_POINTS = 1191  # the long side of A3 (16.5 in)
# pdfium must never run in two threads at once, not even on different documents (pypdfium2's documentation:
# it would crash or corrupt the process), and `footprint serve` verifies in its worker threads: every use of
# pdfium in footprint holds this lock, and frees what it made (documents, bitmaps) before letting go of it.
PDFIUM_LOCK = threading.RLock()
# the replacements of library functions below are installed once per process, by whichever thread verifies
# first: two threads installing at once could keep a replacement as the "library's own" (then it calls itself)
_INSTALLING = threading.Lock()


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Verdict:
    """The checks made, in order; valid only if there are checks and every one passed."""

    file: str
    checks: list[Check] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)  # informative: review, export age
    number: str | None = None
    signer: str | None = None
    signer_cert: x509.Certificate | None = None
    # the embedded files verify read (None: unread), so the shipment check does not parse the PDF again
    embedded: dict[str, bytes] | None = field(default=None, repr=False, compare=False)

    @property
    def valid(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def reasons(self) -> list[str]:
        return [f"{c.name}: {c.detail}" for c in self.checks if not c.ok]

    def add(self, name: str, ok: bool, detail: str) -> bool:
        self.checks.append(Check(name, ok, detail))
        return ok


# ---- reading the document ------------------------------------------------------------------


def embedded_files(pdf: bytes, parsed=None) -> dict[str, bytes]:  # noqa: ANN001 - pyHanko PdfFileReader
    """Name → bytes of every embedded file of the document's newest revision, as pypdf reads them.

    With ``parsed``, pyHanko's reader of the same bytes (verify has one from the signature check), a
    plain embedded-files list is read from it (:func:`_plain_embedded_files`, ~1 ms); anything else
    by pypdf, which parses every object of an object stream (~9 ms for a certificate).
    """
    if parsed is not None:
        try:
            plain = _plain_embedded_files(parsed)
        except Exception:  # noqa: BLE001 - whatever is not plain is pypdf's to read (or to refuse)
            plain = None
        if plain is not None:
            return plain
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf))
    return {name: contents[-1] for name, contents in reader.attachments.items()}


MAX_EMBEDDED_BYTES = 75_000_000  # pypdf's bound on a decompressed stream (its zlib_max_output_length)


def _plain_embedded_files(reader) -> dict[str, bytes] | None:  # noqa: ANN001 - pyHanko PdfFileReader
    """The embedded files when they have the plain shape WeasyPrint writes, read as pypdf reads it;
    None for anything else (encryption, a /Kids tree, a file name other than its key, two different
    streams under /EF, a filter other than one FlateDecode without parameters, a stream past the
    bound, not exactly one whole zlib stream), which :func:`embedded_files` leaves to pypdf."""
    import zlib

    from pyhanko.pdf_utils import generic

    if reader.encrypted:
        return None
    root = reader.root
    if "/Names" not in root or "/EmbeddedFiles" not in root["/Names"]:
        return None if "/Names" in root and not isinstance(root["/Names"], generic.DictionaryObject) else {}
    tree = root["/Names"]["/EmbeddedFiles"]
    if not isinstance(tree, generic.DictionaryObject) or "/Kids" in tree or "/Names" not in tree:
        return None
    names = tree["/Names"]
    if not isinstance(names, generic.ArrayObject) or len(names) % 2:
        return None
    files: dict[str, bytes] = {}
    for i in range(0, len(names), 2):
        key, spec = names[i], names[i + 1]
        if not isinstance(key, generic.TextStringObject) or not isinstance(spec, generic.DictionaryObject) \
                or any(k in spec and spec[k] != key for k in ("/UF", "/F")) or "/EF" not in spec:
            return None
        ef = spec["/EF"]
        refs = {ef.raw_get(k) for k in ("/UF", "/F") if k in ef} if isinstance(ef, generic.DictionaryObject) else set()
        if len(refs) != 1:
            return None
        stream = ef["/UF"] if "/UF" in ef else ef["/F"]
        if not isinstance(stream, generic.StreamObject) or "/DecodeParms" in stream:
            return None
        data = stream.encoded_data
        kind = stream.raw_get("/Filter") if "/Filter" in stream else None
        if isinstance(kind, generic.ArrayObject) and len(kind) == 1:
            kind = kind.raw_get(0)
        if kind == "/FlateDecode":
            inflate = zlib.decompressobj()
            data = inflate.decompress(data, MAX_EMBEDDED_BYTES + 1)
            if len(data) > MAX_EMBEDDED_BYTES or not inflate.eof or inflate.unused_data:
                return None
        elif kind is not None:
            return None
        files[str(key)] = data
    return files


def page_problem(pdf: bytes) -> str | None:
    """Why the document's pages are too many or too large to rasterise (None if they are not)."""
    import pypdfium2 as pdfium

    with PDFIUM_LOCK:
        doc = pdfium.PdfDocument(pdf)
        try:
            return _pages_problem(doc)
        finally:
            doc.close()


def _pages_problem(doc) -> str | None:  # noqa: ANN001 - pypdfium2.PdfDocument
    if len(doc) > MAX_PAGES:
        return f"{len(doc):,} pages; a certificate has at most {MAX_PAGES}, so the pages are not rendered"
    for n in range(len(doc)):
        width, height = doc.get_page_size(n)
        if max(width, height) > MAX_PAGE_POINTS:
            return (f"page {n + 1} is {width / 72:.1f} × {height / 72:.1f} inches; a certificate page is at most "
                    f"A3 ({MAX_PAGE_POINTS / 72:.1f} in), so it is not rendered")
    return None


def qr_payloads(pdf: bytes, dpi: int = 200) -> list[str]:
    """The text of every QR code printed on the pages, decoded from a rasterised image of each page
    (after :func:`page_problem` found nothing: an oversized page raises ValueError, unrendered)."""
    import pypdfium2 as pdfium

    problem = page_problem(pdf)
    if problem:
        raise ValueError(problem)
    found: list[str] = []
    with PDFIUM_LOCK:
        doc = pdfium.PdfDocument(pdf)
        try:
            for page in doc:
                found.extend(_codes(page.render(scale=dpi / 72), whole=True))
        finally:
            doc.close()
    return found


def _codes(bitmap, whole: bool = False) -> list[str]:  # noqa: ANN001 - pypdfium2.PdfBitmap
    """The QR codes zxing-cpp reads in ``bitmap`` (a whole page: from ``to_pil()``'s RGB image; a rectangle:
    :func:`_pixels`), the bitmap freed after (under :data:`PDFIUM_LOCK`, as it was made)."""
    import zxingcpp

    try:
        image = bitmap.to_pil() if whole else _pixels(bitmap)
        return [r.text for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]
    finally:
        bitmap.close()


def document_qr_payloads(pdf: bytes, embedded: set[str], dpi: int = 200) -> list[str]:
    """The QR codes :func:`verify` reads: those of :func:`located_qr_payloads` when one of them carries the
    SHA-256 of an embedded file (the document's own code), else :func:`qr_payloads` of every whole page."""
    try:
        located = located_qr_payloads(pdf, embedded, dpi)
    except Exception:  # noqa: BLE001 - whatever stops the quick look, the whole pages are still read
        located = None
    return qr_payloads(pdf, dpi) if located is None else located


# Where a QR code can be on a page: one path object of many segments (WeasyPrint draws an SVG path as
# one; a run of dark modules is 2–5 segments, a QR code has ≥ 30 runs, a table rule 2–5 segments) or an
# image, with a square bounding box. Past the bounds below, the whole pages are rasterised instead.
QR_MIN_SEGMENTS = 40
QR_MIN_POINTS = 14  # 21 modules of 2 px at 200 dpi: smaller cannot be read from a page raster either
QR_MARGIN = 0.2  # of the side, around the dark modules: the quiet zone is 4 modules, a code ≥ 21 wide
MAX_QR_CANDIDATES = 16  # per document
MAX_PAGE_OBJECTS = 20_000  # per page, Form XObjects' objects included
MAX_FORM_DEPTH = 8

_Matrix = tuple[float, float, float, float, float, float]  # PDF order: x' = a·x + c·y + e, y' = b·x + d·y + f
_IDENTITY: _Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


def located_qr_payloads(pdf: bytes, embedded: set[str], dpi: int = 200) -> list[str] | None:
    """The QR codes on the pages up to the first one that prints a code with the SHA-256 of an embedded
    file, each read by rendering only its rectangle (found among the page's objects) at ``dpi``.

    None when there is no such code where it was looked for (absent, drawn otherwise, a rotated page,
    too many objects): the caller then rasterises the whole pages. The rectangle is rendered with
    everything the page draws there, so a code painted over reads as on the page.
    """
    import pypdfium2 as pdfium

    with PDFIUM_LOCK:
        doc = pdfium.PdfDocument(pdf)
        try:
            return _located_codes(doc, embedded, dpi)
        finally:
            doc.close()


def _located_codes(doc, embedded: set[str], dpi: int = 200) -> list[str] | None:  # noqa: ANN001 - PdfDocument
    """:func:`located_qr_payloads` in a document pdfium has open."""
    if _pages_problem(doc):
        return None
    found: list[str] = []
    candidates = 0
    for page in doc:
        if page.get_rotation():
            return None
        boxes = _code_boxes(page)
        candidates += len(boxes) if boxes is not None else MAX_QR_CANDIDATES + 1
        if candidates > MAX_QR_CANDIDATES:
            return None
        left, bottom, right, top = page.get_bbox()
        for x0, y0, x1, y1 in boxes:  # type: ignore[union-attr]
            margin = QR_MARGIN * max(x1 - x0, y1 - y0)
            x0, y0 = max(x0 - margin, left), max(y0 - margin, bottom)
            x1, y1 = min(x1 + margin, right), min(y1 + margin, top)
            if x1 - x0 < QR_MIN_POINTS or y1 - y0 < QR_MIN_POINTS:
                continue
            found.extend(_codes(_rectangle(page, dpi, (x0 - left, y0 - bottom, right - x1, top - y1))))
        if any(parse_payload(p)[1] in embedded for p in found):
            return found
    return None


def _rectangle(page, dpi: int, crop: tuple[float, float, float, float]):  # noqa: ANN001, ANN202 - pypdfium2 objects
    """The page's rectangle (``crop`` cut off its sides, in points) rendered at ``dpi`` in grey: what zxing-cpp
    reads as luminance anyway, a third of the bytes to fill and read."""
    return page.render(scale=dpi / 72, crop=crop, grayscale=True)


def _pixels(bitmap):  # noqa: ANN001, ANN202 - pypdfium2.PdfBitmap; a buffer or PIL image for zxing-cpp
    """The rendered rectangle as zxing-cpp reads it: pdfium's grey or BGR rows as they are (zxing-cpp reads a
    3-channel buffer as BGR: the luminance it sees in the RGB image ``to_pil()`` makes; pdfium's grey is the
    same weighted luminance, 0.30 R + 0.59 G + 0.11 B), without PIL's two copies or numpy; ``to_pil()``'s image
    when the rows are padded. The view lives while ``bitmap`` does: keep it until read."""
    channels = bitmap.n_channels
    if channels in (1, 3) and bitmap.stride == channels * bitmap.width:
        shape = (bitmap.height, bitmap.width) if channels == 1 else (bitmap.height, bitmap.width, 3)
        return memoryview(bitmap.buffer).cast("B", shape)
    return bitmap.to_pil()


def _code_boxes(page) -> list[tuple[float, float, float, float]] | None:  # noqa: ANN001 - pypdfium2.PdfPage
    """Page-space bounding boxes of the square path and image objects that may be QR codes, Form
    XObjects looked into; None past :data:`MAX_PAGE_OBJECTS`."""
    import ctypes

    import pypdfium2.raw as raw

    boxes: list[tuple[float, float, float, float]] = []
    seen = 0
    edges = [ctypes.c_float() for _ in range(4)]

    def walk(count, get, parent, matrix: _Matrix, depth: int) -> bool:  # noqa: ANN001 - pdfium functions and handle
        nonlocal seen
        for i in range(count(parent)):
            seen += 1
            if seen > MAX_PAGE_OBJECTS:
                return False
            obj = get(parent, i)
            kind = raw.FPDFPageObj_GetType(obj)
            if kind == raw.FPDF_PAGEOBJ_FORM and depth < MAX_FORM_DEPTH:
                m = raw.FS_MATRIX()
                if raw.FPDFPageObj_GetMatrix(obj, m) and not walk(
                        raw.FPDFFormObj_CountObjects, raw.FPDFFormObj_GetObject, obj,
                        _compose((m.a, m.b, m.c, m.d, m.e, m.f), matrix), depth + 1):
                    return False
            elif (kind == raw.FPDF_PAGEOBJ_IMAGE or kind == raw.FPDF_PAGEOBJ_PATH
                  and raw.FPDFPath_CountSegments(obj) >= QR_MIN_SEGMENTS) and raw.FPDFPageObj_GetBounds(obj, *edges):
                x0, y0, x1, y1 = _transformed(tuple(e.value for e in edges), matrix)  # type: ignore[arg-type]
                side, other = sorted((x1 - x0, y1 - y0))
                if side >= QR_MIN_POINTS and other <= 1.1 * side:
                    boxes.append((x0, y0, x1, y1))
        return True

    return boxes if walk(raw.FPDFPage_CountObjects, raw.FPDFPage_GetObject, page.raw, _IDENTITY, 0) else None


def _compose(inner: _Matrix, outer: _Matrix) -> _Matrix:
    """The matrix applying ``inner`` then ``outer``."""
    a, b, c, d, e, f = inner
    oa, ob, oc, od, oe, of = outer
    return (a * oa + b * oc, a * ob + b * od, c * oa + d * oc, c * ob + d * od,
            e * oa + f * oc + oe, e * ob + f * od + of)


def _transformed(box: tuple[float, float, float, float], m: _Matrix) -> tuple[float, float, float, float]:
    """The bounding box of ``box``'s four corners under ``m``."""
    x0, y0, x1, y1 = box
    xs, ys = [], []
    for x, y in ((x0, y0), (x0, y1), (x1, y0), (x1, y1)):
        xs.append(m[0] * x + m[2] * y + m[4])
        ys.append(m[1] * x + m[3] * y + m[5])
    return min(xs), min(ys), max(xs), max(ys)


def parse_payload(payload: str) -> tuple[str | None, str | None]:
    """(certificate number, SHA-256) in a QR payload: ``urn:footprint:certificate:N:sha256:H``, a verification
    link ``https://…/N#sha256=H``, or the older ``https://…?no=N&sha256=H``."""
    from urllib.parse import parse_qs, urlparse

    digest = _SHA.search(payload)
    number = None
    if payload.startswith("urn:footprint:certificate:"):
        number = payload.split(":")[3]
    elif "://" in payload:
        url = urlparse(payload)
        number = (parse_qs(url.query).get("no") or [None])[0] or url.path.rstrip("/").rpartition("/")[2] or None
    return number, digest.group(0).lower() if digest else None


# ---- registries ----------------------------------------------------------------------------


class RegistrySource:
    """Where records come from: a registry database, or a signed export read offline."""

    name: str

    def lookup(self, number: str) -> tuple[Record | None, list[str]]:  # pragma: no cover - interface
        """The record of ``number`` and what is wrong with it (empty when nothing)."""
        raise NotImplementedError

    def get(self, number: str) -> Record | None:
        return self.lookup(number)[0]

    def refuses(self, cert: x509.Certificate) -> str | None:
        """Why this source cannot vouch for a certificate signed with ``cert`` (None: it can)."""
        return None

    def describe(self, now: dt.datetime) -> list[str]:
        return []


class DatabaseSource(RegistrySource):
    def __init__(self, registry: Registry):
        self.registry = registry
        self.name = f"registry {registry.engine.url.render_as_string(hide_password=True)}"

    def lookup(self, number: str) -> tuple[Record | None, list[str]]:
        return self.registry.checked(number)


class ExportSource(RegistrySource):
    def __init__(self, records: dict[str, Record], name: str, signer: str | None = None,
                 payload: dict | None = None):
        self.records = records
        self.name = name
        self.signer = signer
        self.payload = payload or {}

    def lookup(self, number: str) -> tuple[Record | None, list[str]]:
        return self.records.get(number.upper()), []

    def refuses(self, cert: x509.Certificate) -> str | None:
        """An export vouches only for certificates signed with its own key (by key, not by name)."""
        issuer_key = self.payload.get("issuer_key")
        if issuer_key != keys.key_id(cert):
            return (f"the export is signed by {self.signer} with key {str(issuer_key)[:16]}…, the certificate by "
                    f"{keys.subject_name(cert)} with key {keys.key_id(cert)[:16]}…: an export vouches only for "
                    "certificates signed with its own key")
        return None

    def describe(self, now: dt.datetime) -> list[str]:
        made = self.payload.get("generated_at")
        if not made:
            return []
        age = now - dt.datetime.fromisoformat(made)
        days = age.days if age.days >= 1 else None
        old = f"{days} day{'s' if days != 1 else ''} old" if days else "less than a day old"
        return [f"registry export of {made[:19].replace('T', ' ')} UTC ({old}), up to audit entry "
                f"{self.payload.get('audit_entries')}: a revocation after it is not in it — give the registry "
                "or a newer export"]


def registry_record(d: dict) -> Record:
    return record_from_dict(d)


def load_export(path: Path, roots: list[x509.Certificate]) -> ExportSource:
    """A signed registry export as a record source; ``ValueError`` unless signed by a trusted key, and by the key
    it states as its issuer's."""
    payload, signer = read_export(path, roots)
    records = {d["number"]: record_from_dict(d) for d in payload.get("certificates", [])}
    return ExportSource(records, f"export {Path(path).name} by {signer}", signer, payload)


# ---- the checks ----------------------------------------------------------------------------


def _validation_context(roots: list[x509.Certificate], moment: dt.datetime | None):
    from cryptography.hazmat.primitives import serialization
    from pyhanko_certvalidator import ValidationContext

    trust = _asn1_roots(tuple(r.public_bytes(serialization.Encoding.DER) for r in roots))
    return ValidationContext(trust_roots=list(trust), allow_fetching=False, revocation_mode="soft-fail",
                             moment=moment)


@functools.lru_cache(maxsize=16)
def _asn1_roots(ders: tuple[bytes, ...]) -> tuple:
    """The roots as pyHanko's certificates, parsed once per process: their names, prepared for
    comparison on first use (LDAP string preparation), stay prepared."""
    from asn1crypto import x509 as asn1_x509

    certs = [asn1_x509.Certificate.load(der) for der in ders]
    return tuple(_parsed_whole(c) or c for c in certs)  # parsed whole: threads share them (:func:`_parsed_certificate`)


_asn1_name_prep = None


def _prepared_name(self, string: str) -> str:  # noqa: ANN001 - asn1crypto NameTypeAndValue
    """asn1crypto's RFC 4518 preparation of a name's value for comparison, remembered for short values:
    pyHanko compares the signer certificate's names several times per signature, each time preparing
    them afresh in pure Python (a quarter of the signature check)."""
    return _prepared_short(string) if len(string) <= 256 else _asn1_name_prep(self, string)  # type: ignore[misc]


@functools.lru_cache(maxsize=4096)
def _prepared_short(string: str) -> str:
    return _asn1_name_prep(None, string)  # type: ignore[misc]


_asn1_name_eq = None
_asn1_name_hashable = None


def _names_equal(self, other) -> bool:  # noqa: ANN001 - asn1crypto Names
    """asn1crypto's RFC 5280 comparison of two names, remembered by the encodings of their RDN sequences
    (what it compares; a name's own encoding may carry a context tag): pyHanko compares the signer's and
    its issuer's names a dozen times per signature, and the same ones for every certificate of a
    certification body."""
    from asn1crypto.x509 import Name

    if not isinstance(other, Name):
        return False
    return _remembered(("eq", self.chosen.dump(), other.chosen.dump()),
                       lambda: _asn1_name_eq(self, other))  # type: ignore[misc]


def _name_hashable(self) -> str:  # noqa: ANN001 - asn1crypto Name
    """asn1crypto's ``Name.hashable`` (the prepared form pyHanko looks issuers up by), remembered by the
    encoding of the RDN sequence it is made from."""
    return _remembered(("hashable", self.chosen.dump()),
                       lambda: _asn1_name_hashable.fget(self))  # type: ignore[union-attr]


_name_results: dict[tuple, object] = {}
_names_lock = threading.Lock()


def _remembered(key: tuple, compute):  # noqa: ANN001, ANN202 - a function of the names encoded in ``key``
    """``compute()``, remembered under ``key`` (up to 1,024 results; names of over 2 KiB in all are not).
    Same bytes, same answer; a computation that raises is not remembered, so it raises each time."""
    if sum(len(part) for part in key[1:]) > 2048:
        return compute()
    with _names_lock:
        if key in _name_results:
            return _name_results[key]
    value = compute()
    with _names_lock:
        if len(_name_results) >= 1024:
            _name_results.pop(next(iter(_name_results)))
        _name_results[key] = value
    return value


def _remembered_name_preparation() -> None:
    """Have asn1crypto use :func:`_prepared_name`, :func:`_names_equal` and :func:`_name_hashable` (once per
    process; its own preparation does not use ``self``)."""
    global _asn1_name_prep, _asn1_name_eq, _asn1_name_hashable
    from asn1crypto.x509 import Name, NameTypeAndValue

    with _INSTALLING:
        if _asn1_name_prep is None:
            _asn1_name_prep, _asn1_name_eq = NameTypeAndValue._ldap_string_prep, Name.__eq__
            _asn1_name_hashable = Name.hashable
            NameTypeAndValue._ldap_string_prep = _prepared_name
            Name.__eq__ = _names_equal
            Name.hashable = property(_name_hashable)


_pyhanko_certs_for_validation = None


def _certs_for_validation(signed_data):  # noqa: ANN001, ANN202 - asn1crypto SignedData; pyHanko's SignedDataCerts
    """pyHanko's ``extract_certs_for_validation`` once per CMS object: pyHanko calls it twice for one signature
    with the same object (for the signature's certificates, then in the basic validation), each time matching
    the signing-certificate attribute against the signer's certificate again. The result is kept on that
    object only (a document read again is another object); an error is not kept, so it is raised each time.
    Its certificates are the ones :func:`_parsed_certificate` keeps for their bytes."""
    kept = signed_data.__dict__.get("_footprint_certs")
    if kept is None:
        found = _pyhanko_certs_for_validation(signed_data)  # type: ignore[misc]
        kept = signed_data.__dict__["_footprint_certs"] = dataclasses.replace(
            found, signer_cert=_parsed_certificate(found.signer_cert),
            other_certs=[_parsed_certificate(c) for c in found.other_certs])
    return kept


MAX_KEPT_CERTIFICATE_BYTES = 16_384  # a certificate is 1–2 KiB; a larger one is parsed afresh every time


def _parsed_certificate(cert):  # noqa: ANN001, ANN202 - asn1crypto Certificate
    """The certificate parsed from the same bytes before in this process, if any: asn1crypto parses a
    certificate's fields on first use and keeps them on the object, and path validation reads most of them
    (names, extensions, key) — ~0.9 ms of every verify for the same signer certificate each time. An object
    is a function of its bytes and neither pyHanko nor asn1crypto changes it, so the kept one reads as a
    fresh one would; every check (signatures, validity, trust) is still made on it at every verify. It is
    parsed whole before it is kept (asn1crypto fills a structure's children one by one on first use, which a
    second thread must not see half done), so threads sharing it only read; one that does not parse whole
    (a malformed extension pyHanko might never look at) is not kept."""
    try:
        der = cert.dump()
    except Exception:  # noqa: BLE001 - a certificate asn1crypto cannot write back is pyHanko's to handle as it is
        return cert
    return (_certificate(der) or cert) if len(der) <= MAX_KEPT_CERTIFICATE_BYTES else cert


@functools.lru_cache(maxsize=64)
def _certificate(der: bytes):  # noqa: ANN202 - asn1crypto Certificate or None
    from asn1crypto import x509 as asn1_x509

    return _parsed_whole(asn1_x509.Certificate.load(der))


def _parsed_whole(cert):  # noqa: ANN001, ANN202 - asn1crypto Certificate
    """``cert`` with every field parsed (None if one does not parse)."""
    try:
        cert.native  # noqa: B018 - parses every field, extensions' values included
    except Exception:  # noqa: BLE001 - whatever does not parse is left to be parsed (or refused) where it is read
        return None
    return cert


_pyhanko_check_signing_certificate = None


def _signing_certificate_checked(cert, signed_attrs) -> None:  # noqa: ANN001 - asn1crypto Certificate, CMSAttributes
    """pyHanko's ``_check_signing_certificate`` once per signature check: pyHanko checks the signer's
    certificate against the signed attributes when it extracts the certificates, then again in the basic
    validation on a copy of the attributes (pyHanko's own comment says so). Within one
    :func:`_check_signature` (:func:`_signature_check`), a pass is noted by the attributes' and the
    certificate's bytes; a failure raises each time; nothing is noted outside one."""
    noted = getattr(_threads, "signing_certificates", None)
    key = (bytes(signed_attrs.contents), cert.dump()) if noted is not None else None
    if key is not None and key in noted:
        return
    _pyhanko_check_signing_certificate(cert, signed_attrs)  # type: ignore[misc]
    if key is not None:
        noted.add(key)  # type: ignore[union-attr]


@contextlib.contextmanager
def _signature_check() -> Iterator[None]:
    """The span of one signature check, in which :func:`_signing_certificate_checked` notes passes."""
    _threads.signing_certificates = set()
    try:
        yield
    finally:
        del _threads.signing_certificates


def _signer_checked_once() -> None:
    """Have pyHanko use :func:`_certs_for_validation` and :func:`_signing_certificate_checked` (once per process)."""
    global _pyhanko_certs_for_validation, _pyhanko_check_signing_certificate
    from pyhanko.sign.validation import generic_cms

    with _INSTALLING:
        if _pyhanko_certs_for_validation is None:
            _pyhanko_certs_for_validation = generic_cms.extract_certs_for_validation
            _pyhanko_check_signing_certificate = generic_cms._check_signing_certificate
            generic_cms.extract_certs_for_validation = _certs_for_validation
            generic_cms._check_signing_certificate = _signing_certificate_checked


_threads = threading.local()


def _validated(sig, context):  # noqa: ANN001, ANN202 - pyHanko's embedded signature, context and status
    """pyHanko's ``validate_pdf_signature`` (its coroutine, then the context's sessions released) on one
    event loop per thread: ``asyncio.run`` makes and closes a new loop at every call (~1 ms)."""
    from pyhanko.sign.validation.pdf_embedded import async_validate_pdf_signature

    async def validate():  # noqa: ANN202
        try:
            return await async_validate_pdf_signature(sig, context)
        finally:
            await context.aclose()

    loop = getattr(_threads, "loop", None)
    if loop is None:
        loop = _threads.loop = asyncio.new_event_loop()
    return loop.run_until_complete(validate())


def _check_signature(pdf: bytes, roots: list[x509.Certificate], verdict: Verdict, now: dt.datetime):  # noqa: ANN202
    """The signature, timestamp, coverage and signer checks; returns pyHanko's reader of the document
    (None when it is not a readable PDF), which :func:`embedded_files` may read from."""
    with _signature_check():
        return _signature_checks(pdf, roots, verdict, now)


def _signature_checks(pdf: bytes, roots: list[x509.Certificate], verdict: Verdict, now: dt.datetime):  # noqa: ANN202
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.diff_analysis import ModificationLevel
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    fast_pdf_reading()
    _signer_checked_once()
    _remembered_name_preparation()
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        sigs, stamps = reader.embedded_regular_signatures, reader.embedded_timestamp_signatures
    except Exception as e:  # noqa: BLE001 - any parse failure means the file is not a readable PDF
        verdict.add("signature", False, f"not a readable PDF ({type(e).__name__}: {e})")
        return None
    if not sigs:
        verdict.add("signature", False, "the document is not signed")
        return reader
    if len(sigs) > 1:
        verdict.add("signature", False, f"{len(sigs)} signatures; a certificate carries exactly one")
        return reader
    sig = sigs[0]
    try:
        status = _validated(sig, _validation_context(roots, now))
    except Exception as e:  # noqa: BLE001
        verdict.add("signature", False, f"cannot be validated ({type(e).__name__}: {e})")
        return reader
    cert = verdict.signer_cert = x509.load_der_x509_certificate(sig.signer_cert.dump())
    signer = verdict.signer = keys.subject_name(cert)
    level = ("PAdES B-LTA (archive timestamps)" if stamps else
             "PAdES B-T (timestamped)" if status.timestamp_validity is not None else "PAdES B-B")
    if not (status.intact and status.valid):
        what = "the signed bytes were changed" if not status.intact else "the signature value does not verify"
        verdict.add("signature", False, f"INVALID — {what}")
        return reader
    verdict.add("signature", True, f"intact and cryptographically valid, {level}, SHA-256")
    proven = _check_archive(stamps, roots, now, verdict) if stamps else None
    ts = status.timestamp_validity
    if proven is not None and ts is not None:  # the signature timestamp is judged when the archive proves it
        ts = _validated(sig, _validation_context(roots, proven)).timestamp_validity
    if ts is not None:
        verdict.add("timestamp", ts.intact and ts.valid and ts.trusted,
                    f"{ts.timestamp:%Y-%m-%d %H:%M:%S} UTC" + ("" if ts.trusted else " — TSA not trusted"))
    if status.coverage == SignatureCoverageLevel.ENTIRE_FILE:
        verdict.add("coverage", True, "the signature covers the entire file")
    elif stamps and status.modification_level == ModificationLevel.LTA_UPDATES:
        verdict.add("coverage", True, "the signature covers its revision; after it only validation data and "
                                      "document timestamps were added (PAdES B-LTA)")
    else:
        verdict.add("coverage", False, "content was added after signing (the signature does not cover the "
                                       "entire file: an incremental update or appended revision)")
    if status.trusted:
        verdict.add("signer", True, f"{signer}, chains to a trusted root")
    elif proven is not None and ts is not None and ts.trusted and \
            _validated(sig, _validation_context(roots, ts.timestamp)).trusted:
        verdict.add("signer", True, f"{signer}, chained to a trusted root when signed ({ts.timestamp:%Y-%m-%d}); "
                                    "its certificate is no longer valid today, which the archive timestamps cover")
    else:
        problem = status.trust_problem_indic.name if status.trust_problem_indic else "untrusted"
        verdict.add("signer", False, f"{signer} does NOT chain to a trusted root ({problem}); "
                                     "give the certification body's root with --trust")
    if keys.is_demo(cert):
        verdict.warnings.append("signed with a DEMO key — NOT A VALID CERTIFICATION")
    return reader


def _check_archive(stamps: list, roots: list[x509.Certificate], now: dt.datetime, verdict: Verdict
                   ) -> dt.datetime | None:
    """Validate the document timestamps newest first, each at the time of the next (the newest now).

    Returns the time of the oldest one (from when the signature and its validation data are proven
    to exist) if the chain holds, else None.
    """
    from pyhanko.sign.validation import validate_pdf_timestamp

    moment = now
    for stamp in reversed(stamps):
        try:
            st = validate_pdf_timestamp(stamp, validation_context=_validation_context(roots, moment))
        except Exception as e:  # noqa: BLE001
            verdict.add("archive", False, f"a document timestamp cannot be validated ({type(e).__name__}: {e})")
            return None
        if not (st.intact and st.valid and st.trusted):
            why = "changed" if not (st.intact and st.valid) else f"its TSA is not trusted on {moment:%Y-%m-%d}"
            verdict.add("archive", False, f"the document timestamp of {st.timestamp:%Y-%m-%d} does not hold ({why}); "
                                          "add a new one with `footprint timestamp` before the last one expires")
            return None
        moment = st.timestamp
    verdict.add("archive", True, f"{len(stamps)} document timestamp(s), newest valid now; they prove the "
                                 f"signature and its validation data existed on {moment:%Y-%m-%d %H:%M} UTC")
    return moment


def verify(pdf_path: Path, roots: list[x509.Certificate], source: RegistrySource | None,
           now: dt.datetime | None = None, pdf: bytes | None = None) -> Verdict:
    """Run every check on one PDF; never raises for a bad document, only reports."""
    pdf = Path(pdf_path).read_bytes() if pdf is None else pdf
    now = now or dt.datetime.now(dt.UTC)
    verdict = Verdict(str(pdf_path))
    parsed = _check_signature(pdf, roots, verdict, now)
    if not verdict.checks or verdict.checks[0].name == "signature" and not verdict.checks[0].ok \
            and verdict.checks[0].detail.startswith("not a readable PDF"):
        return verdict

    try:
        files = verdict.embedded = embedded_files(pdf, parsed)
    except Exception as e:  # noqa: BLE001
        files = {}
        verdict.add("data", False, f"cannot read the embedded files ({e})")
    # a shipment declaration also prints the QR codes of the certificates it names: its own code is
    # the one whose digest is that of a file it embeds
    embedded = {hashlib.sha256(b).hexdigest() for b in files.values()}
    problem, codes = _pages_and_codes(pdf, embedded)
    if problem:
        verdict.add("pages", False, problem)
        return verdict
    payloads = [p for p in codes if parse_payload(p)[1]]
    payloads = [p for p in payloads if parse_payload(p)[1] in embedded] or payloads
    number = qr_digest = None
    if payloads:
        number, qr_digest = parse_payload(payloads[0])
    verdict.number = number
    data_digest = None
    if files:
        digests = {name: hashlib.sha256(b).hexdigest() for name, b in files.items()}
        name = next((n for n, d in digests.items() if d == qr_digest), next(iter(digests)))
        data_digest = digests[name]

    record = _check_record(number, source, verdict, now)
    if not payloads:
        verdict.add("data", False, "no certificate QR code with a SHA-256 was found on the pages")
    elif not files:
        verdict.add("data", False, "the document embeds no data file")
    elif data_digest != qr_digest:
        verdict.add("data", False, f"the embedded data (SHA-256 {data_digest[:16]}…) does not match the QR code "
                                   f"({qr_digest[:16]}…): the embedded data was replaced")  # type: ignore[index]
    elif record is None:
        verdict.add("data", False, "the embedded data matches the QR code, but no registry record confirms it")
    elif record.data_sha256 != data_digest:
        verdict.add("data", False, f"the embedded data does not match the registry record of {number}")
    else:
        verdict.add("data", True, f"embedded data SHA-256 {data_digest[:16]}… matches the QR code and the registry")  # type: ignore[index]
    if record is None:
        return verdict

    file_digest = hashlib.sha256(pdf).hexdigest()
    known = record.files()
    verdict.add("file", file_digest in known,
                "the PDF is byte-identical to the one issued" if file_digest == record.pdf_sha256 and len(known) == 1
                else "the PDF is byte-identical to a file the registry recorded for it" if file_digest in known
                else "the PDF differs from every file the registry recorded for it")
    status = record.status_at(now)
    if status == "active":
        verdict.add("status", True, f"{number} is active, valid until {record.valid_until[:10]} ({source.name})")  # type: ignore[union-attr]
    else:
        verdict.add("status", False, _status_reason(record, status))
    if status == "active" and record.surveillance_overdue(now):
        verdict.warnings.append(f"surveillance OVERDUE: due {record.surveillance_due[:10]} under scheme "  # type: ignore[index]
                                f"{record.scheme}, not recorded; the certification body should suspend or confirm it")
    verdict.facts.append(_review_fact(record))
    if record.backdated:
        verdict.facts.append(f"back-dated: valid from {record.valid_from[:10]}, recorded on {record.issued_at[:10]}")
    return verdict


def _check_record(number: str | None, source: RegistrySource | None, verdict: Verdict, now: dt.datetime
                  ) -> Record | None:
    """The number, registry and issuer checks: the record verify may rely on, or None (and failed checks)."""
    if not number:
        verdict.add("number", False, "no certificate number could be read from the QR code: a document without "
                                     "one cannot be checked against a registry")
        return None
    try:
        parse_number(number)
    except RegistryError as e:
        verdict.add("number", False, str(e))
        return None
    verdict.add("number", True, f"{number}, check character correct")
    if source is None:
        verdict.add("registry", False, "no registry to check against (use --registry URL|EXPORT)")
        return None
    verdict.facts.extend(source.describe(now))
    refused = source.refuses(verdict.signer_cert) if verdict.signer_cert is not None else None
    if refused:
        verdict.add("registry", False, refused)
        return None
    record, problems = source.lookup(number)
    if record is None:
        verdict.add("registry", False, f"{number} is not in {source.name}")
        return None
    if problems:
        verdict.add("registry", False, f"the registry's record of {number} does not match its signed audit log: "
                                       + "; ".join(problems))
        return None
    verdict.add("registry", True, f"{number} is recorded in {source.name}")
    signed_by = keys.fingerprint(verdict.signer_cert) if verdict.signer_cert is not None else None
    if signed_by != record.signer_fingerprint:
        verdict.add("issuer", False, f"{number} was issued by {record.signer} with another key; this file is "
                                     f"signed by {verdict.signer}: a re-signed copy or a forgery")
        return None
    verdict.add("issuer", True, f"signed with the key the registry recorded for {number} ({record.signer})")
    return record


def _review_fact(record: Record) -> str:
    """Self-declared or reviewed, and by whom, as the registry recorded it."""
    if record.review:
        r = record.review
        entry = f", audit entry {r['entry_seq']}" if r.get("entry_seq") else ""
        return (f"third-party reviewed: approved by {r.get('reviewer')} on {str(r.get('decided_at'))[:10]}{entry}; "
                f"calculation bundle {str(r.get('bundle_sha256'))[:16]}…")
    if record.self_declared:
        return "self-declared: issued without a third-party review"
    return "no review recorded with this document"


def _pages_and_codes(pdf: bytes, embedded: set[str]) -> tuple[str | None, list[str]]:
    """:func:`page_problem`, then :func:`document_qr_payloads`, with pdfium opening the document once for
    both: (why the pages are not rendered, None) or (None, the codes; none when a page cannot be read)."""
    import pypdfium2 as pdfium

    with PDFIUM_LOCK:
        try:
            doc = pdfium.PdfDocument(pdf)
        except Exception as e:  # noqa: BLE001 - an unreadable document has no pages to render
            return f"the pages cannot be read ({e})", []
        try:
            try:
                problem = _pages_problem(doc)
            except Exception as e:  # noqa: BLE001
                return f"the pages cannot be read ({e})", []
            if problem:
                return problem, []
            try:
                located = _located_codes(doc, embedded)
            except Exception:  # noqa: BLE001 - whatever stops the quick look, the whole pages are still read
                located = None
        finally:
            doc.close()
        if located is not None:
            return None, located
        try:
            return None, qr_payloads(pdf)
        except Exception:  # noqa: BLE001 - an unreadable page simply has no QR code
            return None, []


def _status_reason(record: Record, status: str) -> str:
    if status == "withdrawn":
        when = (record.revoked_at or "")[:10]
        return f"{record.number} was REVOKED (withdrawn) on {when}: {record.revocation_reason}"
    if status == "expired":
        return f"{record.number} EXPIRED on {record.valid_until[:10]}"
    if status == "superseded":
        return f"{record.number} was SUPERSEDED by {record.superseded_by}"
    if status == "suspended":
        return f"{record.number} is SUSPENDED: {record.status_reason}"
    return f"{record.number} is {status}"
