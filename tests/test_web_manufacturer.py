"""The manufacturer's pages (issue 11): template, upload with located problems, results, requests,
downloads, and that a manufacturer never sees another enterprise's parks, results or certificates."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from test_web_core import PASSWORD, login, token_of
from typer.testing import CliRunner

from footprint.park import template
from footprint.park.loading import COLUMNS, COLUMNS_2, TABLE_NAMES, load_park
from footprint.registry import audit, users
from footprint.registry.records import NewCertificate, Registry
from footprint.registry.schema import AuditEntry, CertificationRequest, Submission
from footprint.service.app import Settings, create_app
from footprint.service.web import jobs, submissions

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "inventories" / "demo-park"
YINFENG = "91320902DEMO0003AL"  # the demo park's aluminium extruder
MAX_UPLOAD = 2 * 1024 * 1024


@pytest.fixture(scope="module")
def site(project, tmp_path_factory):
    """(client factory, registry) on the test session's data directory (its Brightway project is set up)
    with a registry of this module's own; manufacturers of the template's example enterprise, of the
    demo park's extruder, and of an enterprise in neither."""
    from argon2 import PasswordHasher, Type

    folder = tmp_path_factory.mktemp("web-maker")
    url = f"sqlite:///{folder / 'registry.sqlite'}"
    registry = Registry.open(project, url)
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.ID)
    mp = pytest.MonkeyPatch()
    mp.setattr(users, "_hasher", lambda: cheap)
    for email, role, ents in (("example@maker.test", "manufacturer", [template.EXAMPLE_ENTERPRISE]),
                              ("yinfeng@maker.test", "manufacturer", [YINFENG]),
                              ("other@maker.test", "manufacturer", ["91320902DEMO0099XX"]),
                              ("rev@body.test", "reviewer", [])):
        users.add(registry, email, role, PASSWORD, ents)
    app = create_app(Settings(home=project, database_url=url, max_upload_bytes=MAX_UPLOAD))
    opened = []

    def client(email: str | None = None) -> TestClient:
        c = TestClient(app, base_url="https://testserver", follow_redirects=False)
        c.__enter__()
        opened.append(c)
        if email:
            assert login(c, email).status_code == 303
        return c

    yield client, registry
    for c in opened:
        c.__exit__(None, None, None)
    mp.undo()
    registry.close()


def upload(client: TestClient, name: str, data: bytes, registry: Registry) -> jobs.JobView:
    page = client.get("/parks")
    r = client.post("/parks/upload", data={"csrf_token": token_of(page.text)},
                    files={"park": (name, data, "application/octet-stream")})
    assert r.status_code == 303 and r.headers["location"].startswith("/jobs/"), r.text
    job = jobs.wait(registry, int(r.headers["location"].rsplit("/", 1)[1]), timeout=300)
    assert job.status == "done", job.error
    return job


def submissions_count(registry: Registry) -> int:
    with registry.read() as s:
        return s.query(Submission).count()


def factor(code: str) -> float:
    with open(ROOT / "inventories" / "background" / "open-factors.csv", encoding="utf-8") as fh:
        row = next(r for r in csv.DictReader(fh) if r["code"] == code)
    return float(row["fossil"])


def test_template_has_every_sheet_and_column_and_loads(tmp_path):
    data = template.workbook_bytes()
    assert data == template.workbook_bytes.__wrapped__()  # built anew: the same bytes
    out = tmp_path / "park.xlsx"
    from footprint.cli.main import app

    result = CliRunner().invoke(app, ["template", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == data
    from openpyxl import load_workbook

    book = load_workbook(out)
    assert book.sheetnames == ["park", *TABLE_NAMES, "lists", "guide"]
    for table in TABLE_NAMES:
        header = [c.value for c in book[table][1]]
        assert set(header) == set(COLUMNS.get(table, {})) | set(COLUMNS_2[table]), table
        assert book[table].max_row >= 2  # an example row
    assert [c.value for c in book["lists"]["A"]][1:] == ["g", "kg", "t", "MJ", "GJ", "TJ", "kWh", "MWh", "L", "m3",
                                                          "piece", "tkm"]
    park = load_park(tmp_path)
    assert park.park.id == "example-park" and park.outputs[0].product_id == "al-housing"


def test_upload_of_the_template_computes_results_and_offers_downloads(site):
    client, registry = site
    maker = client("example@maker.test")
    assert maker.get("/template/park.xlsx").content == template.workbook_bytes()
    job = upload(maker, "park.xlsx", template.workbook_bytes(), registry)
    sid = job.result["submission_id"]
    assert job.link == f"/parks/{sid}"
    page = maker.get(f"/parks/{sid}")
    assert page.status_code == 200
    # by hand: (ingot 104 t x 16.5 + its 104 t x 300 km road freight + 350 MWh at the national life-cycle grid
    # factor (location-based) + 180 t CO2 from the furnaces) / 100 t of housings
    expected = (104000 * 16.5 + 104 * 300 * factor("freight-road") + 350000 * factor("grid-cn-2023") + 180000) / 1e5
    results = json.loads(maker.get(f"/parks/{sid}/results.json").content)
    product = results["products"][0]
    assert product["total"] == pytest.approx(expected, rel=1e-6)
    assert product["uncertainty"]["iterations"] == 1000
    assert product["uncertainty"]["p2_5"] < product["total"] < product["uncertainty"]["p97_5"]
    # primary data: the metered grid electricity and the furnaces' CO2 (measured), over the total
    assert product["primary_data_share"] == pytest.approx((350000 * factor("grid-cn-2023") + 180000) / 1e5 / expected,
                                                          rel=1e-6)
    from footprint.documents.numbers import sig

    text = page.text
    assert sig(expected) in text and "<svg" in text
    assert f"{sig(1.8)} · {1.8 / expected * 100:.1f}%" in text  # the bar of direct emissions: 180 t / 100 t
    low, high = sig(product["uncertainty"]["p2_5"]), sig(product["uncertainty"]["p97_5"])
    assert f"{low} – {high}" in text
    rows = list(csv.DictReader(io.StringIO(maker.get(f"/parks/{sid}/results.csv").text)))
    assert [r["product_id"] for r in rows] == ["al-housing"] and float(rows[0]["total"]) == pytest.approx(expected)
    folder = Path(registry.home) / "web" / "submissions" / str(sid)
    assert (folder / "upload.xlsx").read_bytes() == template.workbook_bytes()
    with registry.read() as s:
        detail = json.loads(s.query(AuditEntry).filter(AuditEntry.action == "submission-add").one().detail)
        stored = s.get(Submission, sid).folder
    assert detail["sha256"] == hashlib.sha256(template.workbook_bytes()).hexdigest()
    assert stored == str(folder / "park") and load_park(stored).park.id == "example-park"


def broken_template() -> bytes:
    """The template with the product's amount made text: outputs row 2, column amount (F)."""
    src = zipfile.ZipFile(io.BytesIO(template.workbook_bytes()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == "xl/worksheets/sheet3.xml":  # park, facilities, outputs
                body, n = re.subn(rb'<c r="F2" t="n"><v>100000</v></c>',
                                  rb'<c r="F2" t="inlineStr"><is><t>100 000 kg</t></is></c>', body)
                assert n == 1, body[:2000]
            dst.writestr(info, body)
    return out.getvalue()


def test_an_invalid_upload_lists_located_problems_and_stores_nothing(site):
    client, registry = site
    maker = client("example@maker.test")
    before = submissions_count(registry)
    job = upload(maker, "park (copy).xlsx", broken_template(), registry)
    assert "submission_id" not in job.result and job.link == f"/parks/upload/{job.id}"
    page = maker.get(job.link)
    assert page.status_code == 200
    row = re.search(r"<tr><td>park\.xlsx\[outputs\]</td><td class=\"num\">2</td><td>amount</td>\s*"
                    r"<td class=\"value\"><code>100 000 kg</code></td><td>([^<]+)</td></tr>", page.text)
    assert row and "expected a number" in row.group(1)
    assert submissions_count(registry) == before
    assert not any((Path(registry.home) / "web" / "incoming").iterdir())  # the upload's bytes are gone
    other = client("yinfeng@maker.test")
    assert other.get(job.link).status_code == 404  # another user's upload


def demo_zip(extra: dict[str, bytes] | None = None, prefix: str = "demo-park/") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(DEMO.iterdir()):
            z.writestr(prefix + path.name, path.read_bytes())
        for name, body in (extra or {}).items():
            z.writestr(name, body)
    return out.getvalue()


def test_zip_of_the_csv_folder_shows_only_the_uploaders_products(site):
    client, registry = site
    maker = client("yinfeng@maker.test")
    job = upload(maker, "demo-park.zip", demo_zip(), registry)
    sid = job.result["submission_id"]
    park = load_park(DEMO)
    facility_of = {f.facility_id: f.enterprise_id for f in park.facilities}
    own = sorted(o.product_id for o in park.outputs if facility_of[o.facility_id] == YINFENG and o.kind == "product")
    results = json.loads(maker.get(f"/parks/{sid}/results.json").content)
    assert sorted(p["product_id"] for p in results["products"]) == own and len(own) >= 1
    page = maker.get(f"/parks/{sid}").text
    others = [o.product_id for o in park.outputs if facility_of[o.facility_id] != YINFENG]
    assert others and not any(f'value="{p}"' in page for p in others)
    # another manufacturer, a reviewer and anonymous never see it
    stranger = client("other@maker.test")
    for path in (f"/parks/{sid}", f"/parks/{sid}/results.json", f"/parks/{sid}/results.csv"):
        assert stranger.get(path).status_code == 404
    assert f"/parks/{sid}" not in stranger.get("/parks").text
    assert client("rev@body.test").get(f"/parks/{sid}").status_code == 403
    assert client().get(f"/parks/{sid}").status_code == 303
    # a park without the uploader's enterprise is refused, located at the enterprise_id column
    job = upload(stranger, "demo-park.zip", demo_zip(), registry)
    assert job.result["problems"][0]["column"] == "enterprise_id"


@pytest.mark.parametrize(("name", "data", "reason"), [
    ("evil.zip", "dotdot", "'..' path components are refused"),
    ("bomb.zip", "bomb", "zip bomb"),
    ("notes.txt", b"hello", "expected a park workbook (.xlsx) or a zip"),
])
def test_hostile_archives_are_refused_and_nothing_is_written(site, name, data, reason):
    client, registry = site
    maker = client("yinfeng@maker.test")
    if data == "dotdot":
        data = demo_zip({"demo-park/../../outside.csv": b"x"})
    elif data == "bomb":
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("park/park.yaml", b"format: x\n")
            z.writestr("park/inputs.csv", b"0" * (100 * 1024 * 1024))
        data = out.getvalue()
    before = submissions_count(registry)
    job = upload(maker, name, data, registry)
    assert reason in job.result["problems"][0]["expected"]
    assert submissions_count(registry) == before
    assert not (Path(registry.home) / "web" / "outside.csv").exists()


def test_upload_larger_than_the_limit_is_refused_before_reading(site):
    client, registry = site
    maker = client("yinfeng@maker.test")
    before = submissions_count(registry)
    page = maker.get("/parks")
    r = maker.post("/parks/upload", data={"csrf_token": token_of(page.text)},
                   files={"park": ("big.zip", b"PK\x03\x04" + b"0" * (MAX_UPLOAD + 10), "application/zip")})
    assert r.status_code == 413 and "at most 2 MB" in r.text
    assert submissions_count(registry) == before


def test_request_certification_of_own_products_only(site):
    client, registry = site
    maker = client("yinfeng@maker.test")
    sid = max(s.id for s in submissions.visible(registry, next(u for u in users.listing(registry)
                                                                 if u.email == "yinfeng@maker.test")))
    page = maker.get(f"/parks/{sid}")
    own = re.findall(r'name="product" value="([^"]+)"', page.text)
    assert own
    token = token_of(page.text)
    r = maker.post(f"/parks/{sid}/request", data={"csrf_token": token, "product": own[:1]})
    assert r.status_code == 303
    with registry.read() as s:
        made = [(json.loads(m.products), m.status) for m in
                s.query(CertificationRequest).filter(CertificationRequest.submission_id == sid)]
        entry = json.loads(s.query(AuditEntry).filter(AuditEntry.action == "request-create").all()[-1].detail)
        report = audit.verify(s, registry.seal())
    assert made == [(own[:1], "requested")]
    assert entry["row"]["products"] == own[:1]
    assert report.ok, report.problems  # users, requests and certificates match the log
    again = maker.post(f"/parks/{sid}/request", data={"csrf_token": token, "product": own[:1]})
    assert again.status_code == 400 and "already requested" in again.text
    foreign = maker.post(f"/parks/{sid}/request", data={"csrf_token": token, "product": ["pv-electricity"]})
    assert foreign.status_code == 400 and "not products of your enterprises" in foreign.text
    stranger = client("other@maker.test")
    assert stranger.post(f"/parks/{sid}/request", data={"csrf_token": token_of(stranger.get("/parks").text),
                                                          "product": own[:1]}).status_code == 404


def test_certificates_of_own_enterprises_only(site):
    client, registry = site
    now = dt.datetime.now(dt.UTC)
    numbers = {}
    for holder in (YINFENG, "91320902DEMO0001PV"):
        pdf = b"%PDF-1.7 test copy of " + holder.encode()
        reservation = registry.reserve("web-test")
        registry.record(reservation, NewCertificate(
            product_id=f"p-{holder[-4:].lower()}", product_name=f"Product of {holder}", holder="Holder", unit="kg",
            total=1.5, fossil=1.5, biogenic=0.0, luc=0.0, data_sha256="0" * 64,
            pdf_sha256=hashlib.sha256(pdf).hexdigest(), file_name="x.pdf", signer="test", signer_fingerprint="0" * 64,
            signature_level="B-B", demo=True, valid_from=now, valid_until=now + dt.timedelta(days=365),
            holder_id=holder), copy=pdf)
        numbers[holder] = (reservation.number, pdf)
    maker = client("yinfeng@maker.test")
    page = maker.get("/certificates").text
    mine, theirs = numbers[YINFENG][0], numbers["91320902DEMO0001PV"][0]
    assert mine in page and theirs not in page
    assert maker.get(f"/certificates/{mine}.pdf").content == numbers[YINFENG][1]
    assert maker.get(f"/certificates/{theirs}.pdf").status_code == 404
    assert client("other@maker.test").get(f"/certificates/{mine}.pdf").status_code == 404


def test_park_sheet_problems_are_located_by_row(tmp_path):
    from openpyxl import load_workbook

    from footprint.park.errors import ParkDataError

    (tmp_path / "park.xlsx").write_bytes(template.workbook_bytes())
    book = load_workbook(tmp_path / "park.xlsx")
    sheet = book["park"]
    rows = {sheet.cell(n, 1).value: n for n in range(2, sheet.max_row + 1)}
    sheet.cell(rows["country"], 2).value = "China"
    sheet.cell(rows["period.end"], 2).value = "2024-12-31"
    book.save(tmp_path / "park.xlsx")
    with pytest.raises(ParkDataError) as e:
        load_park(tmp_path)
    found = {(p.file, p.row, p.column, p.value) for p in e.value.problems}
    assert ("park.xlsx[park]", rows["country"], "country", "China") in found
    assert ("park.xlsx[park]", rows["period.end"], "period.end", "2024-12-31") in found
    del book["park"]
    book.save(tmp_path / "park.xlsx")
    with pytest.raises(ParkDataError) as e:
        load_park(tmp_path)
    assert "a sheet 'park' in park.xlsx" in str(e.value)
