"""Shipment carbon declarations: a packing list → one signed, registered PDF/A-3 (DESIGN §8).

Each line names a certificate (its number) or a product (``<park id>/<product id>``, meaning that
product's active certificate). A line is declared only when its certificate is active in the
registry, its unit converts to the certificate's declared unit, its CN code agrees with the
certified product's HS code, and the certificate's PDF (found in the given folders) is the one the
registry recorded — its embedded PACT footprint is then copied into the declaration, so the
declaration carries the footprints it sums, each bound to its certificate by SHA-256.

A packing list is input from others: its size is bounded, every cell is checked, and every problem
is reported at once by file, row and column; nothing is rendered, signed or registered until the
whole list passes.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from footprint.park import units
from footprint.park.errors import Problem
from footprint.registry.records import Record, Registry, RegistryError, parse_number

DATA_FILE = "shipment-declaration.json"
FORMAT = "footprint-shipment/1"
MAX_BYTES = 5_000_000
MAX_LINES = 5_000
COLUMNS = ("line", "certificate", "product", "quantity", "unit", "cn_code", "consignee", "invoice")
REQUIRED = ("line", "quantity", "unit", "cn_code", "consignee", "invoice")
_CN = re.compile(r"^\d{4}[ .]?\d{2}([ .]?\d{2}){0,2}$")
_PRODUCT = re.compile(r"^([a-z0-9-]+)/([a-z0-9-]+)$")


class PackingListError(Exception):
    """A packing list that cannot be declared; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class PackingLine:
    row: int
    line: str
    certificate: str | None
    product: str | None
    quantity: float
    unit: str
    cn_code: str
    consignee: str
    invoice: str


@dataclass(frozen=True)
class DeclaredLine:
    """A packing line with the certificate it rests on and its share of the shipment's footprint."""

    packing: PackingLine
    record: Record
    hs_code: str
    declared_quantity: float  # in the certificate's declared unit
    footprint: dict  # the certificate's embedded PACT ProductFootprint

    @property
    def total(self) -> float:
        return self.declared_quantity * self.record.total

    def part(self, name: str) -> float:
        return self.declared_quantity * getattr(self.record, name)


# ---- reading the packing list --------------------------------------------------------------


def _rows(path: Path) -> tuple[str, list[str], list[tuple[int, list[str]]]]:
    """(file label, header, [(spreadsheet row, cells)]) of a CSV file or an xlsx workbook's first sheet."""
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise PackingListError([Problem(path.name, None, None, size, f"is larger than {MAX_BYTES:,} bytes")])
    if path.suffix.lower() == ".xlsx":
        from footprint.park.workbook import WorkbookError, read_workbook

        try:
            sheets, problems = read_workbook(path, None)
        except WorkbookError as e:
            raise PackingListError([e.problem]) from None
        if problems:
            raise PackingListError(problems)
        if not sheets:
            raise PackingListError([Problem(path.name, None, None, None, "has no sheet")])
        sheet = next(iter(sheets.values()))
        label = sheet.file
        values = [(n, [c.strip() for c in cells]) for n, cells in sheet.rows]
        if len(values) > MAX_LINES + 1:
            raise PackingListError([Problem(label, None, None, len(values) - 1, f"has more than {MAX_LINES} lines")])
    else:
        label = path.name
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise PackingListError([Problem(label, None, None, None, f"is not UTF-8 text (offset {e.start}); "
                                            "save it as CSV UTF-8 or xlsx")]) from None
        values = [(n, [c.strip() for c in cells]) for n, cells in enumerate(csv.reader(io.StringIO(text)), start=1)]
        if len(values) > MAX_LINES + 1:
            raise PackingListError([Problem(label, None, None, len(values) - 1, f"has more than {MAX_LINES} lines")])
    if not values:
        raise PackingListError([Problem(label, 1, None, None, "is empty; expected a header row")])
    header = [h.strip().lower() for h in values[0][1]]
    while header and header[-1] == "":
        header.pop()
    return label, header, [(n, cells) for n, cells in values[1:] if any(c for c in cells)]


def read_packing_list(path: str | Path) -> tuple[str, list[PackingLine]]:
    """(file label for messages, every line) of a packing list; PackingListError names every bad cell."""
    path = Path(path)
    label, header, rows = _rows(path)
    problems: list[Problem] = []
    unknown = [h for h in header if h not in COLUMNS]
    missing = [c for c in REQUIRED if c not in header]
    if unknown or missing or ("certificate" not in header and "product" not in header):
        for h in unknown:
            problems.append(Problem(label, 1, h, h, f"unknown column; expected {', '.join(COLUMNS)}"))
        for c in missing:
            problems.append(Problem(label, 1, c, None, "missing column"))
        if "certificate" not in header and "product" not in header:
            problems.append(Problem(label, 1, "certificate", None, "expected a certificate or a product column"))
        raise PackingListError(problems)
    if not rows:
        raise PackingListError([Problem(label, 2, None, None, "has no lines")])
    lines, seen = [], {}
    for n, cells in rows:
        if len([c for c in cells[len(header):] if c]):
            problems.append(Problem(label, n, None, ",".join(cells), f"has more cells than the header's {len(header)}"))
            continue
        r = {h: cells[i] if i < len(cells) else "" for i, h in enumerate(header)}
        before = len(problems)
        for c in REQUIRED:
            if not r[c]:
                problems.append(Problem(label, n, c, None, "required"))
        cert, product = r.get("certificate", ""), r.get("product", "")
        if bool(cert) == bool(product):
            problems.append(Problem(label, n, "certificate", cert or None,
                                    "give exactly one of certificate (a number) or product (<park id>/<product id>)"))
        if product and not _PRODUCT.match(product):
            problems.append(Problem(label, n, "product", product, "expected <park id>/<product id>"))
        try:
            quantity = float(r["quantity"])
        except ValueError:
            quantity = math.nan
        if r["quantity"] and not (math.isfinite(quantity) and quantity > 0):
            problems.append(Problem(label, n, "quantity", r["quantity"], "expected a number > 0"))
        if r["unit"] and not units.is_known(r["unit"]):
            problems.append(Problem(label, n, "unit", r["unit"], f"expected one of {', '.join(units.UNITS)}"))
        if r["cn_code"] and not _CN.match(r["cn_code"]):
            problems.append(Problem(label, n, "cn_code", r["cn_code"], "expected a CN code of 6 to 10 digits"))
        if r["line"] in seen:
            problems.append(Problem(label, n, "line", r["line"], f"line number already used in row {seen[r['line']]}"))
        seen.setdefault(r["line"], n)
        if len(problems) == before:
            lines.append(PackingLine(n, r["line"], cert or None, product or None, quantity, r["unit"], r["cn_code"],
                                     r["consignee"], r["invoice"]))
    if problems:
        raise PackingListError(problems)
    return label, lines


# ---- resolving each line against the registry and the certificates -----------------------


def _digits(code: str) -> str:
    return "".join(ch for ch in code if ch.isdigit())


def footprint_hs_code(footprint: dict) -> str | None:
    """The HS code of the certified product, from its PACT ProductFootprint."""
    for ext in footprint.get("extensions") or []:
        for p in ((ext.get("data") or {}).get("results") or {}).get("products") or []:
            if p.get("hs_code"):
                return str(p["hs_code"])
    for c in footprint.get("productClassifications") or []:
        if isinstance(c, str) and ":hs:" in c:
            return c.rsplit(":", 1)[1]
    return None


def find_certificate_pdf(record: Record, folders: list[Path]) -> Path | None:
    """The registered PDF of a certificate: a file named after its number whose SHA-256 the registry holds."""
    for folder in folders:
        for path in sorted(Path(folder).glob(f"*{record.number}.pdf")):
            if hashlib.sha256(path.read_bytes()).hexdigest() == record.pdf_sha256:
                return path
    return None


def resolve(lines: list[PackingLine], registry: Registry, folders: list[Path], label: str,
            now: dt.datetime | None = None) -> list[DeclaredLine]:
    """Each line with its active certificate and footprint; PackingListError names every refused line."""
    from footprint.documents import read_attachment

    now = now or dt.datetime.now(dt.UTC)
    problems: list[Problem] = []
    active: dict[tuple[str, str], Record] = {}
    for r in registry.records():
        if r.status_at(now) == "active" and not r.product_id.startswith("shipment:"):
            active[(r.park, r.product_id)] = r
    out = []
    for pl in lines:
        column = "certificate" if pl.certificate else "product"
        if pl.certificate:
            try:
                parse_number(pl.certificate)
            except RegistryError as e:
                problems.append(Problem(label, pl.row, column, pl.certificate, str(e)))
                continue
            record = registry.get(pl.certificate)
            if record is None:
                problems.append(Problem(label, pl.row, column, pl.certificate, "no such certificate in the registry"))
                continue
        else:
            park, product = pl.product.split("/")  # type: ignore[union-attr]
            record = active.get((park, product))
            if record is None:
                problems.append(Problem(label, pl.row, column, pl.product,
                                        f"no active certificate for product {product} of park {park}"))
                continue
        status = record.status_at(now)
        if status != "active":
            why = {"withdrawn": f"withdrawn (revoked) on {(record.revoked_at or '')[:10]}: {record.revocation_reason}",
                   "superseded": f"superseded by {record.superseded_by}",
                   "expired": f"expired on {record.valid_until[:10]}",
                   "suspended": f"suspended: {record.status_reason}"}.get(status, status)
            problems.append(Problem(label, pl.row, column, pl.certificate or pl.product,
                                    f"certificate {record.number} is not active: {why}"))
            continue
        if units.dimension(pl.unit) != units.dimension(record.unit):
            problems.append(Problem(label, pl.row, "unit", pl.unit,
                                    f"does not convert to the declared unit of {record.number}, {record.unit} "
                                    f"({units.dimension(record.unit)})"))
            continue
        pdf = find_certificate_pdf(record, folders)
        if pdf is None:
            problems.append(Problem(label, pl.row, column, record.number,
                                    f"the registered PDF of {record.number} (SHA-256 {record.pdf_sha256[:16]}…) is not "
                                    f"in {', '.join(str(f) for f in folders)} (--certificates)"))
            continue
        _, data = read_attachment(pdf)
        if hashlib.sha256(data).hexdigest() != record.data_sha256:
            problems.append(Problem(label, pl.row, column, record.number,
                                    "the certificate's embedded data does not match the registry"))
            continue
        footprint = json.loads(data)
        hs = footprint_hs_code(footprint)
        cn, hs_digits = _digits(pl.cn_code), _digits(hs or "")
        if not hs_digits or not (cn.startswith(hs_digits) or hs_digits.startswith(cn)):
            problems.append(Problem(label, pl.row, "cn_code", pl.cn_code,
                                    f"disagrees with the certified product {record.product_id} of {record.number} "
                                    + (f"(HS {hs})" if hs else "(no HS code certified, so none can be declared)")))
            continue
        out.append(DeclaredLine(pl, record, hs, pl.quantity * units.factor(pl.unit, record.unit), footprint))
    if problems:
        raise PackingListError(problems)
    return out


# ---- the declaration's data --------------------------------------------------------------


def declaration_data(lines: list[DeclaredLine], number: str, issue_date: dt.date, issuer: dict,
                     packing_list: Path) -> bytes:
    """The embedded JSON: every line, the sums, and each certificate's PACT ProductFootprint."""
    rows = [{
        "line": d.packing.line, "certificate": d.record.number, "park": d.record.park,
        "product_id": d.record.product_id, "product_name": d.record.product_name, "holder": d.record.holder,
        "quantity": d.packing.quantity, "unit": d.packing.unit, "declared_quantity": d.declared_quantity,
        "declared_unit": d.record.unit, "cn_code": d.packing.cn_code, "hs_code": d.hs_code,
        "consignee": d.packing.consignee, "invoice": d.packing.invoice,
        "footprint_per_unit": d.record.total, "total": d.total, "fossil": d.part("fossil"),
        "biogenic": d.part("biogenic"), "luc": d.part("luc"), "certificate_status": "active",
        "certificate_valid_until": d.record.valid_until, "certificate_data_sha256": d.record.data_sha256,
        "certificate_pdf_sha256": d.record.pdf_sha256,
    } for d in lines]
    doc = {
        "format": FORMAT, "number": number, "issue_date": issue_date.isoformat(), "issuer": issuer,
        "unit": "kg CO2e", "method": "quantity in the certificate's declared unit × its certified cradle-to-gate "
                                    "product carbon footprint (IPCC AR6 GWP100); no transport to the consignee",
        "packing_list": {"file": packing_list.name, "sha256": hashlib.sha256(packing_list.read_bytes()).hexdigest()},
        "lines": rows, "total": sum(d.total for d in lines),
        "fossil": sum(d.part("fossil") for d in lines), "biogenic": sum(d.part("biogenic") for d in lines),
        "luc": sum(d.part("luc") for d in lines),
        "footprints": {d.record.number: d.footprint for d in lines},
    }
    return json.dumps(doc, ensure_ascii=False, indent=2).encode("utf-8")


def check_declaration(pdf_path: Path, verdict, source, now: dt.datetime | None = None) -> None:  # noqa: ANN001
    """For a shipment declaration, add the check of every certificate it names to ``verdict``.

    Each must be in the registry (or export) that vouched for the declaration, still active, and carry
    the data SHA-256 the declaration recorded. A PDF that embeds no declaration is left alone.
    """
    from footprint.certificates.verification import embedded_files

    try:
        files = verdict.embedded if verdict.embedded is not None else embedded_files(Path(pdf_path).read_bytes())
        data = files.get(DATA_FILE)
    except Exception:  # noqa: BLE001 - an unreadable PDF already failed the signature check
        return
    if data is None:
        return
    if source is None:
        verdict.add("certificates", False, "no registry to check the declared certificates against")
        return
    now = now or dt.datetime.now(dt.UTC)
    try:
        lines = json.loads(data)["lines"]
        declared = {ln["certificate"]: ln["certificate_data_sha256"] for ln in lines}
    except (ValueError, KeyError, TypeError):
        verdict.add("certificates", False, f"the embedded {DATA_FILE} cannot be read")
        return
    bad = []
    for number, digest in sorted(declared.items()):
        record = source.get(number)
        if record is None:
            bad.append(f"{number} is not in {source.name}")
        elif record.data_sha256 != digest:
            bad.append(f"{number} carries other data than declared")
        elif record.status_at(now) != "active":
            bad.append(f"{number} is now {record.status_at(now).upper()}")
    verdict.add("certificates", not bad, "; ".join(bad) if bad else
                f"all {len(declared)} certificate(s) declared are active and carry the data declared")


# ---- issuing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Numbered:
    """What the QR code of a document needs: its issuer's verification address and its number."""

    issuer: object
    number: str


def _qr(issuer: object, number: str, digest: str) -> tuple[str, int]:
    from footprint.certificates.document import qr_path, qr_payload

    return qr_path(qr_payload(_Numbered(issuer, number), digest))  # type: ignore[arg-type]


def render(lines: list[DeclaredLine], number: str, issuer, issue_date: dt.date, packing_list: Path,  # noqa: ANN001
           lang: str) -> tuple[bytes, bytes, tuple | None]:
    """(PDF, embedded data, signature box) of a declaration; the documents layer renders, this module decides."""
    from footprint.documents import numbers, renderer

    data = declaration_data(lines, number, issue_date,
                            {"name": issuer.name, "accreditation_id": issuer.accreditation_id}, packing_list)
    digest = hashlib.sha256(data).hexdigest()
    doc = json.loads(data)
    certificates = {}
    for d in lines:
        if d.record.number not in certificates:
            path, modules = _qr(issuer, d.record.number, d.record.data_sha256)
            certificates[d.record.number] = {"r": d.record, "qr_path": path, "qr_modules": modules,
                                             "hs_code": d.hs_code}
    path, modules = _qr(issuer, number, digest)
    context = {
        "lang": lang, "number": number, "issuer": issuer, "demo": issuer.demo, "issue_date": issue_date,
        "lines": [{"d": d, "quantity": numbers.quantity(d.packing.quantity),
                   "declared": numbers.quantity(d.declared_quantity), "per_unit": numbers.sig(d.record.total),
                   "total": numbers.sig(d.total)} for d in lines],
        "total": numbers.sig(doc["total"]), "fossil": numbers.sig(doc["fossil"]),
        "biogenic": numbers.sig(doc["biogenic"]), "luc": numbers.sig(doc["luc"]),
        "consignees": sorted({d.packing.consignee for d in lines}),
        "invoices": sorted({d.packing.invoice for d in lines}),
        "certificates": list(certificates.values()), "qr_path": path, "qr_modules": modules,
        "packing_list": doc["packing_list"], "sha256": digest, "data_file": DATA_FILE,
        "verify_url": issuer.verification_url,
        "created": dt.datetime.combine(issue_date, dt.time(0), tzinfo=dt.UTC).isoformat(),
    }
    moment = dt.datetime.combine(issue_date, dt.time(0), tzinfo=dt.UTC)
    pdf, box = renderer().pdf("shipment.html.j2", context, data, DATA_FILE,
                              "Shipment carbon declaration: lines, sums and each certificate's PACT ProductFootprint",
                              moment)
    return pdf, data, box


def declare(packing_list: str | Path, issuer, key, out_dir: str | Path, folders: list[Path],  # noqa: ANN001
            registry: Registry, lang: str = "zh-en", issue_date: dt.date | None = None,
            tsa_url: str | None = None):  # noqa: ANN201 - footprint.issuing.Issued
    """Read, check, render, sign and register one shipment declaration, all or nothing."""
    from footprint.certificates import issuing
    from footprint.certificates.signing import DocumentSigner, SignatureBox

    packing_list = Path(packing_list)
    label, packing = read_packing_list(packing_list)
    lines = resolve(packing, registry, folders, label)
    issue_date = issue_date or dt.date.today()
    if key.demo and not issuer.demo:
        issuer = issuer.model_copy(update={"demo": True})
    parks = sorted({d.record.park for d in lines})
    invoices = sorted({d.packing.invoice for d in lines})
    until = min(d.record.valid_until for d in lines)

    def make(reservation):  # noqa: ANN001, ANN202 - registry.Reservation → issuing.Document
        pdf, data, box = render(lines, reservation.number, issuer, issue_date, packing_list, lang)
        start = dt.datetime.combine(issue_date, dt.time(0), tzinfo=dt.UTC)
        return issuing.Document(pdf=pdf, data_sha256=hashlib.sha256(data).hexdigest(),
                                box=SignatureBox(box[0], box[1]) if box else None, facts={
            "product_id": f"shipment:{'+'.join(invoices)}"[:128],
            "product_name": f"Shipment carbon declaration, invoice {', '.join(invoices)}"[:512],
            "holder": "; ".join(sorted({d.record.holder for d in lines}))[:512], "unit": "shipment",
            "total": sum(d.total for d in lines), "fossil": sum(d.part("fossil") for d in lines),
            "biogenic": sum(d.part("biogenic") for d in lines), "luc": sum(d.part("luc") for d in lines),
            "valid_from": start, "valid_until": dt.datetime.fromisoformat(until)})

    return issuing.issue(registry, DocumentSigner(key, tsa_url), parks[0] if len(parks) == 1 else "shipment",
                         Path(out_dir), make, file_name=lambda r: f"shipment_{r.number}.pdf", year=issue_date.year,
                         reason="Shipment carbon declaration", prefix=issuer.number_prefix)

