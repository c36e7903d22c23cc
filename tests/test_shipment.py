"""Shipment declarations: hand-computed totals, signature and verify, and every refusal located.

The certificates are minimal signed documents (like certdocs) whose embedded data is a PACT-shaped
record with the product's HS code, so these tests do not compute a park.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import json
import shutil
import subprocess

import pytest
from certdocs import _drop_producer, qr_svg

from footprint.certificates import issuing, keys, signing, verification
from footprint.certificates.issuing import Document, validity
from footprint.certificates.signing import SignatureBox
from footprint.documents import _signature_box, read_attachment
from footprint.engine import home
from footprint.exchange import shipment
from footprint.registry.issuer import load_issuer
from footprint.registry.records import Registry

ROOT_ISSUER = "inventories/demo-issuer.yaml"
# product → (declared unit, kg CO2e per unit, HS code)
PRODUCTS = {"al-profile-6063": ("kg", 10.62, "7604.29"), "hex-bolt-hdg": ("kg", 4.52, "7318.15"),
            "lfp-pack-14kwh": ("piece", 1147.0, "8507.60")}


def _certificate(reservation, product_id: str) -> Document:  # noqa: ANN001 - registry Reservation
    return _rendered(reservation.number, product_id)


@functools.cache
def _rendered(number: str, product_id: str) -> Document:
    """Each test's fresh registry hands out the same numbers, so a certificate is rendered once."""
    from weasyprint import HTML, Attachment

    unit, total, hs = PRODUCTS[product_id]
    data = json.dumps({"productClassifications": [f"urn:pact:productclassification:hs:{hs}"],
                       "pcf": {"declaredUnit": unit, "pCfExcludingBiogenic": total}}).encode()
    digest = hashlib.sha256(data).hexdigest()
    html = f"""<html><body><h1>Certificate {number}</h1><p>DEMO — NOT A VALID CERTIFICATION</p>
      <div>{qr_svg(f"urn:footprint:certificate:{number}:sha256:{digest}")}</div>
      <div id="signature" style="width: 60mm; height: 20mm">signed</div></body></html>"""
    document = HTML(string=html).render()
    pdf = document.write_pdf(pdf_variant="pdf/a-3b", finisher=_drop_producer, attachments=[
        Attachment(file_obj=io.BytesIO(data), name="product-footprint.json", relationship="Data")])
    start, until = validity(dt.date.today(), dt.date.today() + dt.timedelta(days=700))
    return Document(pdf=pdf, data_sha256=digest, box=SignatureBox(*_signature_box(document)), facts={
        "product_id": product_id, "product_name": product_id.replace("-", " "), "holder": "Demo Holder Co.",
        "unit": unit, "total": total, "fossil": total * 0.9, "biogenic": total * 0.1, "luc": 0.0,
        "valid_from": start, "valid_until": until})


@pytest.fixture
def setup(tmp_path):
    """A registry with three active certificates, their PDFs in certs/, and the demo issuer and key."""
    key = keys.default_key(home.resolve())
    signer = signing.DocumentSigner(key)
    with Registry(f"sqlite:///{tmp_path / 'registry.sqlite'}") as registry:
        issued = {pid: issuing.issue(registry, signer, "demo-park", tmp_path / "certs",
                                     lambda r, pid=pid: _certificate(r, pid),
                                     file_name=lambda r, pid=pid: f"{pid}_{r.number}.pdf", prefix="DEMO-PCF")
                  for pid in PRODUCTS}
        yield registry, key, issued, tmp_path


def _packing(tmp_path, rows: list[str], name: str = "packing.csv"):
    path = tmp_path / name
    path.write_text("line,certificate,product,quantity,unit,cn_code,consignee,invoice\n" + "\n".join(rows) + "\n")
    return path


def _declare(setup, rows):
    registry, key, _, tmp = setup
    return shipment.declare(_packing(tmp, rows), load_issuer(ROOT_ISSUER), key, tmp / "out", [tmp / "certs"],
                            registry, "zh-en", dt.date.today())


def _verify(path, registry):
    roots = keys.trust_roots(home.resolve())
    source = verification.DatabaseSource(registry)
    verdict = verification.verify(path, roots, source)
    shipment.check_declaration(path, verdict, source)
    return verdict


def test_declaration_totals_signature_and_verify(setup):
    registry, _, issued, tmp = setup
    bolt = issued["hex-bolt-hdg"].record.number
    d = _declare(setup, [
        "1,,demo-park/al-profile-6063,12.5,t,7604 29 90,Demo GmbH,INV-1",
        f"2,{bolt},,2400,kg,73181588,Demo GmbH,INV-1",
        "3,,demo-park/lfp-pack-14kwh,40,piece,85076000,Demo GmbH,INV-1",
    ])
    expected = 12_500 * 10.62 + 2_400 * 4.52 + 40 * 1147.0  # kg CO2e, quantity × certified footprint
    assert d.record.total == pytest.approx(expected, rel=1e-12)
    assert d.record.fossil == pytest.approx(expected * 0.9, rel=1e-12)
    _, data = read_attachment(d.path, shipment.DATA_FILE)
    doc = json.loads(data)
    assert [ln["total"] for ln in doc["lines"]] == pytest.approx([12_500 * 10.62, 2_400 * 4.52, 40 * 1147.0])
    assert doc["lines"][0]["declared_quantity"] == 12_500 and doc["lines"][0]["declared_unit"] == "kg"
    assert set(doc["footprints"]) == {r.record.number for r in issued.values()}
    assert doc["lines"][1]["certificate_data_sha256"] == issued["hex-bolt-hdg"].record.data_sha256
    verdict = _verify(d.path, registry)
    assert verdict.valid, verdict.reasons
    assert {c.name for c in verdict.checks} >= {"signature", "data", "file", "status", "certificates"}
    assert verdict.number == d.record.number
    if shutil.which("pdfsig"):
        text = subprocess.run(["pdfsig", str(d.path)], capture_output=True, text=True).stdout
        assert "Signature is Valid" in text and "Total document signed" in text
    # a certificate revoked after the declaration makes the declaration fail verify, naming it
    profile = issued["al-profile-6063"].record.number
    registry.revoke(profile, "test: data error found")
    verdict = _verify(d.path, registry)
    assert not verdict.valid
    assert any(profile in r and "WITHDRAWN" in r for r in verdict.reasons)


def test_a_changed_line_in_the_declaration_is_refused(setup):
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    registry, _, _, tmp = setup
    d = _declare(setup, ["1,,demo-park/hex-bolt-hdg,2400,kg,7318 15 88,Demo GmbH,INV-2"])
    pdf = d.path.read_bytes()
    _, data = read_attachment(pdf, shipment.DATA_FILE)
    changed = data.replace(b'"quantity": 2400.0', b'"quantity": 24.0')
    assert changed != data
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    ef = writer.root["/Names"]["/EmbeddedFiles"]["/Names"][1]["/EF"]
    ef["/F"] = writer.add_object(generic.StreamObject(
        {generic.NameObject("/Type"): generic.NameObject("/EmbeddedFile")}, stream_data=changed))
    writer.update_container(ef)
    out = io.BytesIO()
    writer.write(out)
    tampered = tmp / "tampered.pdf"
    tampered.write_bytes(out.getvalue())
    _, read_back = read_attachment(tampered.read_bytes(), shipment.DATA_FILE)
    assert b'"quantity": 24.0' in read_back
    verdict = _verify(tampered, registry)
    assert not verdict.valid
    failed = {c.name for c in verdict.checks if not c.ok}
    assert {"coverage", "data"} <= failed


@pytest.mark.parametrize(("row", "column", "message"), [
    ("1,,demo-park/hex-bolt-hdg,2400,kg,7604 29 90,Demo GmbH,INV-3", "cn_code", "disagrees with the certified product"),
    ("1,,demo-park/hex-bolt-hdg,2400,piece,73181588,Demo GmbH,INV-3", "unit", "does not convert"),
    ("1,,demo-park/steam-1mpa,10,GJ,73181588,Demo GmbH,INV-3", "product", "no active certificate"),
    ("1,DEMO-PCF-DEMO-PARK-2026-00001-X,,1,kg,73181588,Demo GmbH,INV-3", "certificate", "check character"),
    ("1,,demo-park/hex-bolt-hdg,-5,kg,73181588,Demo GmbH,INV-3", "quantity", "a number > 0"),
    ("1,,demo-park/hex-bolt-hdg,5,kg,73181588,,INV-3", "consignee", "required"),
])
def test_refused_lines_are_located_and_nothing_is_written(setup, row, column, message):
    _, _, _, tmp = setup
    with pytest.raises(shipment.PackingListError) as e:
        _declare(setup, ["2,,demo-park/al-profile-6063,1,t,76042990,Demo GmbH,INV-3", row.replace("1,", "3,", 1)])
    [problem] = e.value.problems
    assert (problem.file, problem.row, problem.column) == ("packing.csv", 3, column)
    assert message in problem.expected
    assert not (tmp / "out").exists() or not list((tmp / "out").glob("shipment_*"))


def test_a_revoked_certificate_in_a_packing_list_is_refused(setup):
    registry, _, issued, tmp = setup
    number = issued["hex-bolt-hdg"].record.number
    registry.revoke(number, "test: wrong steel factor")
    with pytest.raises(shipment.PackingListError) as e:
        _declare(setup, [f"1,{number},,100,kg,73181588,Demo GmbH,INV-4",
                         "2,,demo-park/hex-bolt-hdg,100,kg,73181588,Demo GmbH,INV-4"])
    first, second = e.value.problems
    assert (first.row, first.column) == (2, "certificate")
    assert "not active: withdrawn (revoked)" in first.expected and "wrong steel factor" in first.expected
    assert (second.row, second.column) == (3, "product") and "no active certificate" in second.expected
    assert not (tmp / "out").exists() or not list((tmp / "out").glob("shipment_*"))


def test_packing_list_from_xlsx_and_bad_headers(setup):
    import openpyxl

    _, _, _, tmp = setup
    book = openpyxl.Workbook()
    book.active.title = "Packing list"
    book.active.append(["line", "product", "quantity", "unit", "cn_code", "consignee", "invoice"])
    book.active.append([1, "demo-park/hex-bolt-hdg", 2.4, "t", "7318 15 88", "Demo GmbH", "INV-5"])
    book.save(tmp / "packing.xlsx")
    label, lines = shipment.read_packing_list(tmp / "packing.xlsx")
    assert label == "packing.xlsx[Packing list]"
    assert (lines[0].row, lines[0].quantity, lines[0].unit) == (2, 2.4, "t")
    bad = _packing(tmp, ["1,,x,1,kg,73181588,A,B"], "bad.csv")
    bad.write_text(bad.read_text().replace("invoice", "invoce"))
    with pytest.raises(shipment.PackingListError) as e:
        shipment.read_packing_list(bad)
    assert {(p.column, p.expected.split(";")[0]) for p in e.value.problems} == {
        ("invoce", "unknown column"), ("invoice", "missing column")}


def test_shipment_and_verify_commands(setup, monkeypatch):
    from typer.testing import CliRunner

    from footprint.cli.main import app

    _, _, issued, tmp = setup
    monkeypatch.setenv("FOOTPRINT_DATABASE_URL", f"sqlite:///{tmp / 'registry.sqlite'}")
    bad = _packing(tmp, ["1,,demo-park/hex-bolt-hdg,5,piece,73181588,Demo GmbH,INV-6"], "bad.csv")
    common = ["--issuer", ROOT_ISSUER, "--out", str(tmp / "out"), "--certificates", str(tmp / "certs")]
    result = CliRunner().invoke(app, ["shipment", str(bad), *common])
    assert result.exit_code == 2
    assert "bad.csv, row 2, column unit" in " ".join(result.output.split())
    good = _packing(tmp, ["1,,demo-park/hex-bolt-hdg,5,kg,73181588,Demo GmbH,INV-6"], "good.csv")
    result = CliRunner().invoke(app, ["shipment", str(good), *common])
    assert result.exit_code == 0, result.output
    [pdf] = (tmp / "out").glob("shipment_*.pdf")
    assert f"{5 * 4.52:.6g} kg CO2e" in result.output
    result = CliRunner().invoke(app, ["verify", str(pdf)])
    assert result.exit_code == 0, result.output
    assert "certificates all 1 certificate(s) declared are active" in " ".join(result.output.split())
