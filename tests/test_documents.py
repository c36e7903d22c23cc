"""Certificate documents: the PDF says what the calculation says, carries it, and is safe and reproducible.

Every footprint number checked here is worked out by hand from the park rows below, then formatted
with this file's own rounding (Decimal, 3 significant figures), never copied from program output.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import sys
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, SHARED
from parks import write_park
from typer.testing import CliRunner

ISSUE = "2026-03-01"
POPPLER = shutil.which("pdftotext") and shutil.which("pdffonts") and shutil.which("pdfinfo")
needs_poppler = pytest.mark.skipif(not POPPLER, reason="poppler-utils (pdftotext, pdffonts, pdfinfo) not installed")
PACT_SPEC = SHARED / "pact" / "pact-v3.0.3-openapi.yaml"

# ---- the park, and its footprints by hand -------------------------------------------------------
ROWS = dict(
    facilities=[{"facility_id": "mill", "enterprise": "苏州示范铝业有限公司", "enterprise_id": "91320500MA1TEST01X",
                 "name": "Extrusion line 2"},
                {"facility_id": "pv", "enterprise": "园区光伏能源有限公司", "name": "Rooftop PV"}],
    outputs=[{"product_id": "profile", "facility_id": "mill", "unit": "kg", "amount": 2000, "mass_kg": 1,
              "name": "Aluminium profile 6063", "name_zh": "6063铝型材", "hs_code": "760410"},
             {"product_id": "pv-power", "facility_id": "pv", "unit": "kWh", "amount": 50000, "name": "PV power",
              "name_zh": "光伏电力"}],
    inputs=[{"facility_id": "mill", "ref": "factor:ingot", "amount": 2.2, "unit": "t", "data_type": "primary"},
            {"facility_id": "mill", "ref": "factor:grid", "amount": 3, "unit": "MWh"},
            {"facility_id": "mill", "ref": "pv-power", "amount": 10, "unit": "MWh"},
            {"facility_id": "pv", "ref": "factor:module", "amount": 50000, "unit": "kWh"}],
    emissions=[{"facility_id": "mill", "flow": "CH4", "amount": 4, "kind": "combustion"},
               {"facility_id": "mill", "flow": "CO2-luc", "amount": 600, "unit": "g"}],
    factors=[{"code": "ingot", "unit": "kg", "fossil": 8.1, "biogenic": 0.02, "luc": 0.01, "dqr": 2,
              "category": "material"},
             {"code": "grid", "unit": "kWh", "fossil": 0.58, "category": "electricity"},
             {"code": "module", "unit": "kWh", "fossil": 0.04, "dqr": 3, "category": "electricity"}],
    park={"name": "Test Zero-Carbon Park", "name_zh": "测试零碳产业园", "region": "CN-JS"},
)
PV = 0.04  # kg CO2e per kWh of park PV: module factor only
FOSSIL = (2200 * 8.1 + 3000 * 0.58 + 10000 * PV + 4 * 29.8) / 2000
BIOGENIC = 2200 * 0.02 / 2000
LUC = (2200 * 0.01 + 0.6) / 2000
TOTAL = FOSSIL + BIOGENIC + LUC
# primary: the direct rows (DESIGN §3 v2 (a)); the ingot's amount is measured but its factor is a database
# value, so it is secondary; the denominator is pcfExcludingBiogenicUptake (no biogenic CO2 here: the total)
PRIMARY = (4 * 29.8 + 0.6) / 2000 / TOTAL


def sig3(x: float) -> str:
    """3 significant figures, fixed notation, thousands with commas: this test's own rounding."""
    d = Decimal(x)
    r = d.quantize(Decimal(1).scaleb(d.adjusted() - 2), rounding=ROUND_HALF_EVEN)
    return f"{r:,f}"


def pct(x: float) -> str:
    return f"{Decimal(x * 100).quantize(Decimal('0.1'), rounding=ROUND_HALF_EVEN)}%"


# ---- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def park_dir(tmp_path_factory, project):
    return write_park(tmp_path_factory.mktemp("park"), **ROWS)


@pytest.fixture(scope="module")
def computed(park_dir):
    from footprint.engine.calculation import compute_park
    from footprint.park.loading import load_park

    park = load_park(park_dir)
    return park, compute_park(park)


@pytest.fixture(scope="module")
def issuer_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("issuer") / "issuer.yaml"
    shutil.copy(ROOT / "inventories" / "demo-issuer.yaml", path)
    return path


def cli(*args: str):
    from footprint.cli.main import app

    return CliRunner().invoke(app, list(args))


def certify(*args: str):
    """``footprint certify`` rendering unsigned drafts (``--draft`` once the command also signs)."""
    draft = ["--draft"] if "--draft" in cli("certify", "--help").output else []
    return cli("certify", *args, *draft)


@pytest.fixture(scope="module")
def certificates(park_dir, issuer_file, tmp_path_factory):
    """The profile's certificate in each language, made by the command line."""
    out = {}
    for lang in ("zh-en", "zh", "en"):
        folder = tmp_path_factory.mktemp(f"cert-{lang}")
        run = certify(str(park_dir), "--product", "profile", "--lang", lang, "--out", str(folder),
                  "--issue-date", ISSUE, "--issuer", str(issuer_file))
        assert run.exit_code == 0, run.output
        (pdf,) = folder.glob("*.pdf")
        out[lang] = pdf
    return out


def text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout


def attachment(pdf: Path | bytes) -> tuple[str, bytes]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf) if isinstance(pdf, bytes) else pdf)
    ((name, contents),) = reader.attachments.items()
    return name, contents[0]


# ---- what the certificate states -------------------------------------------------------------


def test_hand_values_match_the_engine(computed):
    _, results = computed
    p = results.product("profile")
    for got, want in ((p.fossil, FOSSIL), (p.biogenic, BIOGENIC), (p.luc, LUC), (p.total, TOTAL),
                      (p.primary_data_share, PRIMARY)):
        assert got == pytest.approx(want, rel=1e-6)


@needs_poppler
@pytest.mark.parametrize("lang", ["zh-en", "zh", "en"])
def test_pdf_text_shows_the_calculation(certificates, lang):
    words = text(certificates[lang])
    for number in (sig3(TOTAL), sig3(FOSSIL), sig3(BIOGENIC), sig3(LUC), pct(PRIMARY)):
        assert number in words, (number, lang)
    assert "2025-01-01 – 2025-12-31" in words  # reference period
    assert "2028-12-31" in words  # valid until: 3 years after the reference period
    assert "760410" in words and "91320500MA1TEST01X" in words and "CNAS-DEMO-0000" in words
    assert "DEMO — NOT A VALID CERTIFICATION" in words
    if lang != "en":
        assert "6063铝型材" in words and "产品碳足迹证书" in words and "苏州示范铝业有限公司" in words
        assert "草稿" in words
    if lang != "zh":
        assert "Aluminium profile 6063" in words and "Product Carbon Footprint Certificate" in words
    if lang == "zh":
        assert "Product Carbon Footprint Certificate" not in words
    # the largest contributor: the ingot, 2.2 t × 8.13 over 2000 kg
    assert sig3(2200 * 8.13 / 2000) in words


def test_attachment_is_the_results(certificates, computed):
    from footprint.park.models import Results

    _, results = computed
    name, data = attachment(certificates["zh-en"])
    assert name == "product-footprint.json"
    pf = json.loads(data)
    pcf = pf["pcf"]
    assert Decimal(pcf["pcfExcludingBiogenicUptake"]) == Decimal(repr(results.product("profile").total))
    assert float(pcf["pcfExcludingBiogenicUptake"]) == pytest.approx(TOTAL, rel=1e-6)
    assert float(pcf["fossilGhgEmissions"]) == pytest.approx(FOSSIL, rel=1e-6)
    assert float(pcf["biogenicNonCO2Emissions"]) == pytest.approx(BIOGENIC, rel=1e-6)
    assert float(pcf["landUseChangeGhgEmissions"]) == pytest.approx(LUC, rel=1e-6)
    assert float(pcf["primaryDataShare"]) == pytest.approx(PRIMARY * 100, rel=1e-6)
    assert (pcf["declaredUnitOfMeasurement"], pcf["declaredUnitAmount"]) == ("kilogram", "1.0")
    assert (pcf["referencePeriodStart"], pcf["referencePeriodEnd"]) == ("2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z")
    assert pf["validityPeriodEnd"] == "2029-01-01T00:00:00Z"
    assert pf["productClassifications"] == ["urn:pact:productclassification:hs:760410"]
    assert pcf["geographyCountrySubdivision"] == "CN-JS"
    ext = pf["extensions"][0]["data"]
    carried = Results.model_validate(ext["results"])
    assert carried.products == [results.product("profile")]
    assert carried.model_copy(update={"products": results.products}) == results
    assert ext["certificate"]["issue_date"] == ISSUE and ext["certificate"]["status"] == "draft"


def test_inspect_prints_the_attachment(certificates):
    run = cli("inspect", str(certificates["en"]))
    assert run.exit_code == 0, run.output
    assert json.loads(run.stdout) == json.loads(attachment(certificates["en"])[1])
    run = cli("inspect", str(ROOT / "pyproject.toml"))
    assert run.exit_code == 1 and "is not a PDF file" in run.output


@pytest.mark.skipif(not PACT_SPEC.exists(), reason=f"{PACT_SPEC} absent (../shared not beside the repository)")
def test_attachment_validates_against_pact_product_footprint(certificates):
    import jsonschema

    spec = yaml.safe_load(PACT_SPEC.read_text(encoding="utf-8"))
    schema = {"$ref": "#/components/schemas/ProductFootprint", "components": spec["components"]}
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    for pdf in certificates.values():
        errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(json.loads(attachment(pdf)[1]))]
        assert not errors


def test_qr_code_carries_number_and_data_hash(certificates):
    zxingcpp = pytest.importorskip("zxingcpp")
    pdfium = pytest.importorskip("pypdfium2")
    pdf = certificates["zh-en"]
    data = attachment(pdf)[1]
    number = json.loads(data)["extensions"][0]["data"]["certificate"]["number"]
    doc = pdfium.PdfDocument(pdf.read_bytes())
    image = doc[0].render(scale=100 / 72).to_pil()  # 100 dpi
    doc.close()
    payloads = [r.text for r in zxingcpp.read_barcodes(image)]
    assert payloads == [f"https://verify.example.org/verify/{number}#sha256={hashlib.sha256(data).hexdigest()}"]


# ---- PDF/A, fonts, size, determinism ----------------------------------------------------------


@needs_poppler
def test_pdfa3b_with_embedded_subset_fonts(certificates):
    from pypdf import PdfReader

    for lang, pdf in certificates.items():
        meta = subprocess.run(["pdfinfo", "-meta", str(pdf)], capture_output=True, text=True, check=True).stdout
        assert 'pdfaid:part="3"' in meta and 'pdfaid:conformance="B"' in meta
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
        assert "Page size:       595.276 x 841.89 pts (A4)" in info
        fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
        rows = [line.split() for line in fonts.splitlines()[2:]]
        assert rows, fonts
        for row in rows:  # name type... emb sub uni id gen
            assert row[0].split("+", 1)[1].startswith("Footprint-Sans"), f"fallback font in {lang}: {row[0]}"
            assert row[-5:-2] == ["yes", "yes", "yes"], f"{lang}: {row}"  # embedded, subset, ToUnicode
        root = PdfReader(pdf).trailer["/Root"]
        (spec,) = [a.get_object() for a in root["/AF"]]
        assert spec["/AFRelationship"] == "/Data" and spec["/F"] == "product-footprint.json"
        assert pdf.stat().st_size < 1024 * 1024


@needs_poppler
def test_bilingual_certificate_is_three_pages_under_1mb(certificates):
    """Three pages: the contribution tables keep their rows whatever the product (documents.placement)."""
    info = subprocess.run(["pdfinfo", str(certificates["zh-en"])], capture_output=True, text=True).stdout
    assert "Pages:           3" in info
    assert certificates["zh-en"].stat().st_size < 1024 * 1024


def test_same_inputs_same_bytes(computed, certificates, issuer_file, tmp_path):
    """Same results, templates and issue date: byte-identical, here and in a fresh process."""
    from footprint.certificates import document as certificate_document
    from footprint.registry.certificate import draft
    from footprint.registry.issuer import load_issuer

    park, results = computed
    cert = draft(results, "profile", load_issuer(issuer_file), date.fromisoformat(ISSUE))
    def render() -> bytes:
        return certificate_document.render_certificate(results, cert, "zh-en", park.park.country, park.park.region).pdf

    first = render()
    assert render() == first
    assert certificates["zh-en"].read_bytes() == first
    (tmp_path / "results.json").write_text(results.model_dump_json(), encoding="utf-8")
    script = f"""
import sys
from datetime import date
from footprint import documents
from footprint.certificates import document as certificate_document
from footprint.registry.certificate import draft
from footprint.registry.issuer import load_issuer
from footprint.park.models import Results
r = Results.model_validate_json(open({str(tmp_path / 'results.json')!r}, encoding='utf-8').read())
c = draft(r, 'profile', load_issuer({str(issuer_file)!r}), date.fromisoformat({ISSUE!r}))
sys.stdout.buffer.write(certificate_document.render_certificate(r, c, 'zh-en', 'CN', 'CN-JS').pdf)
"""
    other = subprocess.run([sys.executable, "-c", script], capture_output=True, check=True).stdout
    assert other == first


def test_placed_qr_path_gives_the_bytes_weasyprint_gives(computed, issuer_file):
    """The renderer draws the QR code's path itself after layout (documents.vector): the PDF is byte for
    byte the one WeasyPrint makes when it parses the same path, in each language."""
    from footprint import documents
    from footprint.certificates import document as certificate_document
    from footprint.registry.certificate import draft
    from footprint.registry.issuer import load_issuer

    park, results = computed
    cert = draft(results, "profile", load_issuer(issuer_file), date.fromisoformat(ISSUE))
    data = certificate_document.data_file(results, cert)
    for lang in ("zh", "en", "zh-en"):
        context = certificate_document.certificate_context(results, cert, lang, hashlib.sha256(data).hexdigest())
        args = ("certificate.html.j2", context, data, "x.json", "d", documents.moment(date.fromisoformat(ISSUE)))
        weasyprint_parses = documents.renderer().output(*args)
        placed = documents.renderer().output(*args, paths=(context["qr_path"],))
        assert placed.pdf == weasyprint_parses.pdf, lang
        assert context["qr_path"].count("z") > 100  # a real QR code was placed, not an empty path


def test_path_operators_by_hand():
    from footprint.documents import vector

    assert vector.operators("M4 4h7v1h-7zM13 5h1.5v1h-1.5z") == b"\n".join([
        b"0 0 m", b"4 4 m", b"11 4 l", b"11 5 l", b"4 5 l", b"h",
        b"13 5 m", b"14.5 5 l", b"14.5 6 l", b"13 6 l", b"h"])
    with pytest.raises(ValueError, match="not one the renderer draws"):
        vector.operators("M0 0L3 3z")


@needs_poppler
def test_laid_out_text_is_the_text_in_the_pdf(computed, issuer_file, tmp_path):
    """The demo check reads the text the renderer laid out (no PDF parsing): each of its lines is in
    pdftotext's output (in content order: -raw keeps the rotated watermark's words together), and
    DEMO — NOT A VALID CERTIFICATION is there exactly when the issuer is a demo."""
    from footprint.certificates import document as certificate_document
    from footprint.certificates.issuing import DEMO_TEXT
    from footprint.registry.certificate import draft
    from footprint.registry.issuer import load_issuer

    park, results = computed
    issuer = load_issuer(issuer_file)
    for demo in (True, False):
        cert = draft(results, "profile", issuer.model_copy(update={"demo": demo}), date.fromisoformat(ISSUE))
        doc = certificate_document.render_certificate(results, cert, "zh-en", park.park.country)
        (tmp_path / "c.pdf").write_bytes(doc.pdf)
        in_pdf = "".join(subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", str(tmp_path / "c.pdf"), "-"],
                                        capture_output=True, text=True, check=True).stdout.split())
        lines = ["".join(line.split()) for line in doc.text.splitlines() if line.strip()]
        assert len(lines) > 100
        assert [line for line in lines if line not in in_pdf] == []
        assert (DEMO_TEXT in doc.text.replace("\n", " ")) is demo


def test_validity_is_capped_and_configurable(computed, issuer_file, tmp_path):
    from footprint.registry.certificate import CertificateError, draft
    from footprint.registry.issuer import IssuerConfigError, load_issuer

    _, results = computed
    config = yaml.safe_load(issuer_file.read_text(encoding="utf-8"))
    short = tmp_path / "short.yaml"
    short.write_text(yaml.safe_dump({**config, "validity_years": 1}), encoding="utf-8")
    assert draft(results, "profile", load_issuer(short), date(2026, 3, 1)).valid_until == date(2026, 12, 31)
    assert draft(results, "profile", load_issuer(issuer_file), date(2026, 3, 1)).valid_until == date(2028, 12, 31)
    long = tmp_path / "long.yaml"
    long.write_text(yaml.safe_dump({**config, "validity_years": 5}), encoding="utf-8")
    with pytest.raises(IssuerConfigError, match="validity_years"):
        load_issuer(long)
    with pytest.raises(CertificateError, match="not after the end of the reference period"):
        draft(results, "profile", load_issuer(issuer_file), date(2025, 6, 1))
    with pytest.raises(CertificateError, match="after the end of validity"):
        draft(results, "profile", load_issuer(short), date(2027, 1, 1))


# ---- security (DESIGN §5) ------------------------------------------------------------------------

HOSTILE = '<img src="file:///etc/passwd">'
TEMPLATE_INJECTION = "{{ 7*7 }}"


@needs_poppler
def test_hostile_names_render_as_text_and_fetch_nothing(computed, issuer_file, tmp_path):
    from footprint import documents
    from footprint.certificates import document as certificate_document
    from footprint.registry.certificate import draft
    from footprint.registry.issuer import load_issuer

    park, results = computed
    p = results.product("profile")
    bad = p.model_copy(update={"name": HOSTILE, "name_zh": TEMPLATE_INJECTION, "enterprise": "<b>&amp;</b>",
                               "contributions_by_input": [p.contributions_by_input[0].model_copy(
                                   update={"label": '<link rel="stylesheet" href="file:///etc/passwd">'})]
                               + p.contributions_by_input[1:]})
    hostile = results.model_copy(update={"products": [bad], "park_name": "<style>@import 'file:///etc/'</style>"})
    cert = draft(hostile, "profile", load_issuer(issuer_file), date.fromisoformat(ISSUE))
    documents.renderer()  # fonts and stylesheet loaded before watching
    opened: list[str] = []
    watching = [True]

    def hook(event: str, args: tuple) -> None:
        if event == "open" and watching[0] and isinstance(args[0], (str, bytes, Path)):
            opened.append(str(args[0] if not isinstance(args[0], bytes) else args[0].decode()))

    sys.addaudithook(hook)
    try:
        pdf = certificate_document.render_certificate(hostile, cert, "zh-en").pdf
    finally:
        watching[0] = False
    assert not any("passwd" in path or path.startswith("/etc") for path in opened), opened
    templates = str((ROOT / "templates").resolve())
    python = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix})
    strays = [p for p in opened if not p.startswith(templates) and not p.startswith(python)]
    assert not strays, strays
    assert documents.renderer().fetcher.refused == []  # nothing even asked for: it is all text
    out = tmp_path / "hostile.pdf"
    out.write_bytes(pdf)
    words = text(out)
    assert HOSTILE in words and TEMPLATE_INJECTION in words and "<b>&amp;</b>" in words
    assert "<style>@import'file:///etc/'</style>" in "".join(words.split())  # wrapped over two lines


def test_fetcher_serves_only_template_files(tmp_path):
    from weasyprint import HTML

    from footprint import documents
    from footprint.documents.fetcher import TemplateFetcher

    fetcher = TemplateFetcher(ROOT / "templates")
    assert fetcher.resolve((ROOT / "templates" / "documents.css").as_uri()).name == "documents.css"
    secret = tmp_path / "secret.css"
    secret.write_text("body { color: red }")
    for url in ("file:///etc/passwd", (ROOT / "templates" / ".." / "pyproject.toml").as_uri(), secret.as_uri(),
                "https://example.org/x.png", "data:text/css,body{}", "ftp://example.org/a",
                "file://remotehost/etc/passwd"):
        with pytest.raises(PermissionError):
            fetcher.resolve(url)
    # a template that asks for outside files gets nothing
    r = documents.renderer()
    before = len(r.fetcher.refused)
    html = (f'<link rel="stylesheet" href="{secret.as_uri()}"><img src="file:///etc/passwd">'
            '<img src="../pyproject.toml"><p>x</p>')
    HTML(string=html, base_url=r.templates.as_uri() + "/", url_fetcher=r.fetcher).render(font_config=r.font_config)
    assert len(r.fetcher.refused) - before == 3


def test_templates_autoescape():
    from footprint import documents

    env = documents.renderer().env
    assert env.autoescape is True
    html = env.from_string("{{ x }}").render(x=HOSTILE)
    assert "<img" not in html and "&lt;img" in html


# ---- bad input: clear error, no file ----------------------------------------------------------------


def test_unknown_product_is_an_error_and_writes_nothing(park_dir, issuer_file, tmp_path):
    out = tmp_path / "out"
    run = certify(str(park_dir), "--product", "profile", "--product", "no-such-thing", "--out", str(out),
              "--issue-date", ISSUE, "--issuer", str(issuer_file))
    assert run.exit_code == 1
    assert "unknown product 'no-such-thing'" in run.output and "profile" in run.output
    assert not out.exists() or not any(out.iterdir())


def test_missing_or_invalid_issuer_is_an_error_and_writes_nothing(park_dir, tmp_path):
    out = tmp_path / "out"
    run = certify(str(park_dir), "--out", str(out), "--issuer", str(tmp_path / "nowhere.yaml"))
    assert run.exit_code == 1 and "no issuer configuration" in run.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("format: footprint-issuer/1\nname: X\nemail: not-an-email\nunknown_key: 1\n", encoding="utf-8")
    run = certify(str(park_dir), "--out", str(out), "--issuer", str(bad))
    assert run.exit_code == 1
    for field in ("name_zh", "accreditation_id", "email", "unknown_key"):
        assert field in run.output
    assert not out.exists()


def test_bad_language_and_date(park_dir, issuer_file, tmp_path):
    out = tmp_path / "out"
    run = certify(str(park_dir), "--lang", "fr", "--out", str(out), "--issuer", str(issuer_file),
              "--issue-date", ISSUE)
    assert run.exit_code == 1 and "'fr'" in run.output
    run = certify(str(park_dir), "--out", str(out), "--issuer", str(issuer_file), "--issue-date", "2026-13-01")
    assert run.exit_code != 0
    assert not out.exists()


# ---- the park summary -----------------------------------------------------------------------------


@needs_poppler
def test_summary_lists_every_product(park_dir, issuer_file, computed, tmp_path):
    from footprint.park.models import Results

    out = tmp_path / "summary.pdf"
    run = cli("summary", str(park_dir), "--out", str(out), "--issuer", str(issuer_file), "--issue-date", ISSUE)
    assert run.exit_code == 0, run.output
    words = text(out)
    assert sig3(TOTAL) in words and sig3(PV) in words  # PV power: 0.0400 kg CO2e/kWh
    assert "6063铝型材" in words and "光伏电力" in words
    name, data = attachment(out)
    assert name == "footprint-results.json"
    assert Results.model_validate_json(data) == computed[1]


def test_parts_below_a_billionth_of_the_total_print_as_zero():
    from footprint.documents import numbers

    assert numbers.part(3.47e-15, 12.3) == "0"
    assert numbers.part(-2e-14, 12.3) == "0"
    assert numbers.part(0.0247, 12.3) == "0.0247"
    assert numbers.part(12.3, 12.3) == "12.3"
