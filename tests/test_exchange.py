"""Exports: PACT v3.0.3 ProductFootprints and Catena-X PCF 9.0.0 records, validated against the
published schemas (../shared/data), with every value checked against the park rows by hand; and
supersession: a re-certified product's record names the one it replaces, which becomes Deprecated.
"""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
import yaml
from conftest import ROOT, SHARED
from parks import write_park
from typer.testing import CliRunner

PACT_SPEC = SHARED / "pact" / "pact-v3.0.3-openapi.yaml"
CATENAX_SCHEMA = SHARED / "catenax" / "pcf-9.0.0-schema.json"
ISSUER = str(ROOT / "inventories" / "demo-issuer.yaml")
needs_pact = pytest.mark.skipif(not PACT_SPEC.exists(), reason=f"{PACT_SPEC} absent (../shared not beside the repo)")
needs_catenax = pytest.mark.skipif(not CATENAX_SCHEMA.exists(), reason=f"{CATENAX_SCHEMA} absent")

ROWS = dict(
    facilities=[{"facility_id": "mill", "enterprise": "Suzhou Demo Aluminium", "enterprise_id": "91320500MA1TEST01X"},
                {"facility_id": "pv", "enterprise": "Park PV Energy"}],
    outputs=[{"product_id": "profile", "facility_id": "mill", "unit": "t", "amount": 2, "mass_kg": 1000,
              "hs_code": "760410"},
             {"product_id": "pv-power", "facility_id": "pv", "unit": "kWh", "amount": 50000}],
    inputs=[{"facility_id": "mill", "ref": "factor:ingot", "amount": 2200, "unit": "kg"},
            {"facility_id": "mill", "ref": "pv-power", "amount": 10, "unit": "MWh"},
            {"facility_id": "pv", "ref": "factor:module", "amount": 50000, "unit": "kWh"}],
    emissions=[{"facility_id": "mill", "flow": "CH4", "amount": 4}],
    factors=[{"code": "ingot", "unit": "kg", "fossil": 8.1, "biogenic": 0.02, "luc": 0.01},
             {"code": "module", "unit": "kWh", "fossil": 0.04}],
    park={"region": "CN-JS"},
)
# per tonne of profile, by hand: ingot 2200 kg, 10 MWh of PV at 0.04 kg/kWh, 4 kg CH4 × 29.8, over 2 t
FOSSIL = (2200 * 8.1 + 10000 * 0.04 + 4 * 29.8) / 2
BIOGENIC = 2200 * 0.02 / 2
LUC = 2200 * 0.01 / 2
TOTAL = FOSSIL + BIOGENIC + LUC
PV_TOTAL = 0.04


def cli(*args: str, code: int = 0) -> str:
    from footprint.cli.main import app

    run = CliRunner().invoke(app, list(args))
    assert run.exit_code == code, run.output
    return run.output


def pact_validator():
    import jsonschema

    spec = yaml.safe_load(PACT_SPEC.read_text(encoding="utf-8"))
    schema = {"$ref": "#/components/schemas/ProductFootprint", "components": spec["components"]}
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def pact_errors(footprint: dict) -> list[str]:
    return [f"{list(e.path)}: {e.message}" for e in pact_validator().iter_errors(footprint)]


@pytest.fixture(scope="module")
def park_dir(tmp_path_factory, project):
    return write_park(tmp_path_factory.mktemp("park"), **ROWS)


@pytest.fixture(scope="module")
def pact_export(park_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "pact.json"
    cli("export", str(park_dir), "--format", "pact", "--out", str(out), "--issuer", ISSUER, "--date", "2026-03-01")
    return json.loads(out.read_text(encoding="utf-8"))["data"]


@needs_pact
def test_park_export_is_valid_pact_with_the_hand_values(pact_export, park_dir):
    by_product = {fp["productNameCompany"]: fp for fp in pact_export}
    assert set(by_product) == {"Product profile", "Product pv-power"}
    for fp in pact_export:
        assert not pact_errors(fp), fp["productNameCompany"]
    fp = by_product["Product profile"]
    pcf = fp["pcf"]
    assert float(pcf["pcfExcludingBiogenicUptake"]) == pytest.approx(TOTAL, rel=1e-6)
    assert float(pcf["fossilGhgEmissions"]) == pytest.approx(FOSSIL, rel=1e-6)
    assert float(pcf["biogenicNonCO2Emissions"]) == pytest.approx(BIOGENIC, rel=1e-6)
    assert float(pcf["landUseChangeGhgEmissions"]) == pytest.approx(LUC, rel=1e-6)
    assert (pcf["declaredUnitOfMeasurement"], pcf["declaredUnitAmount"], pcf["productMassPerDeclaredUnit"]) == \
        ("kilogram", "1000.0", "1000.0")
    assert pcf["packagingEmissionsIncluded"] is False and pcf["ccsTechnologicalCO2CaptureIncluded"] is False
    assert "verification" not in pcf
    park_id = yaml.safe_load((park_dir / "park.yaml").read_text())["id"]
    assert fp["productIds"] == [f"urn:pact:example.org:product-id:{park_id}:profile"]
    assert fp["companyIds"] == ["urn:pact:example.org:company-id:91320500MA1TEST01X",
                                f"urn:pact:example.org:facility-id:{park_id}:mill"]
    assert fp["comment"].startswith("Not certified:")
    assert fp["status"] == "Active" and "precedingPfIds" not in fp
    assert float(by_product["Product pv-power"]["pcf"]["pcfExcludingBiogenicUptake"]) == pytest.approx(PV_TOTAL)


@needs_catenax
def test_catenax_export_validates_and_maps(pact_export, park_dir, tmp_path):
    import jsonschema

    schema = json.loads(CATENAX_SCHEMA.read_text(encoding="utf-8"))
    out = tmp_path / "cx.json"
    missing = cli("export", str(park_dir), "--format", "catenax", "--out", str(out), "--issuer", ISSUER,
                  "--date", "2026-03-01", "--bpnl", "91320500MA1TEST01X=BPNL000000000DWF", code=1)
    assert "no BPNL for 'Park PV Energy'" in missing and not out.exists()
    cli("export", str(park_dir), "--format", "catenax", "--out", str(out), "--issuer", ISSUER, "--date",
        "2026-03-01", "--bpnl", "91320500MA1TEST01X=BPNL000000000DWF", "--bpnl", "Park PV Energy=BPNL00000000PVXX")
    records = json.loads(out.read_text(encoding="utf-8"))
    validator = jsonschema.Draft4Validator(schema)
    for record in records:
        assert not [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(record)]
    profile = next(r for r in records
                   if r["companyAndProductInformation"][0]["productInformation"][0]["productNameCompany"]
                   == "Product profile")
    company = profile["companyAndProductInformation"][0]["companyInformation"][0]
    assert company["companyIds"][0] == "urn:BPNL000000000DWF" and company["companyName"] == "Suzhou Demo Aluminium"
    production = profile["productLifeCycleStagesAndEmissions"][0]["productionStage"][0]
    assert production["pcfExcludingBiogenicUptake"] == pytest.approx(TOTAL, rel=1e-6)
    assert production["fossilGhgEmissions"] == pytest.approx(FOSSIL, rel=1e-6)
    info = profile["pcfAssessmentAndMethodology"][0]["pcfAssessmentInformation"][0]
    assert info["geography"] == [{"geographyRegionOrSubregion": "Eastern Asia", "geographyCountry": "CN",
                                  "geographyCountrySubdivision": "CN-JS"}]
    pact_profile = next(fp for fp in pact_export if fp["productNameCompany"] == "Product profile")
    assert info["idAndVersion"][0]["id"] == pact_profile["id"]
    assert profile["scopeOfPcfForm"] == [{"specVersion": "urn:io.catenax.pcf:datamodel:version:9.0.0",
                                          "partialFullPcf": "Cradle-to-gate"}]
    assert "attestationOfConformance" not in profile  # not verified
    cli("export", str(park_dir), "--format", "catenax", "--out", str(out), "--issuer", ISSUER, "--date",
        "2026-03-01", "--bpnl", "Suzhou Demo Aluminium=NOT-A-BPN", "--bpnl", "Park PV Energy=BPNL00000000PVXX",
        code=1)


def test_export_usage_errors(park_dir, tmp_path):
    out = tmp_path / "x.json"
    assert "either PARK_DIR or --registry" in cli("export", "--out", str(out), code=2)
    assert "either PARK_DIR or --registry" in cli("export", str(park_dir), "--registry", "--out", str(out), code=2)
    assert "is not pact or catenax" in cli("export", str(park_dir), "--format", "csv", "--out", str(out), code=2)
    assert "is not COMPANY=BPNL" in cli("export", str(park_dir), "--format", "catenax", "--bpnl", "x",
                                        "--out", str(out), code=2)
    assert not out.exists()


@needs_pact
def test_reissue_names_the_predecessor_and_registry_export_deprecates_it(park_dir, tmp_path):
    from footprint.certificates import certification, keys, pact
    from footprint.documents import read_attachment
    from footprint.engine import home
    from footprint.registry.records import Registry

    park, issuer, results = certification.prepare(park_dir, ISSUER)
    key = keys.default_key(home.resolve())
    with Registry(f"sqlite:///{tmp_path / 'registry.sqlite'}") as registry:
        (first,) = certification.issue(park, issuer, results, tmp_path / "a", key, ["profile"], "en",
                                       date(2026, 3, 1), registry=registry, backdate=True)
        (second,) = certification.issue(park, issuer, results, tmp_path / "b", key, ["profile"], "en",
                                        date(2026, 3, 2), registry=registry, backdate=True)
        (third,) = certification.issue(park, issuer, results, tmp_path / "c", key, ["profile"], "en",
                                       date(2026, 3, 3), registry=registry, backdate=True)
        assert registry.predecessors(park.park.id, "profile") == [third.record.number, second.record.number,
                                                                   first.record.number]
        footprints, missing = __import__("footprint.exchange.export", fromlist=["x"]).registry_footprints(registry)
    assert missing == []
    newest = json.loads(read_attachment(third.path)[1])
    assert newest["precedingPfIds"] == [pact.footprint_id(second.record.number), pact.footprint_id(first.record.number)]
    assert not pact_errors(newest)
    assert re.search(rf"{second.record.number}, {first.record.number}",
                     __import__("subprocess").run(["pdftotext", str(third.path), "-"], capture_output=True,
                                                  text=True).stdout.replace("\n", " "))
    statuses = {fp["id"]: fp["status"] for fp in footprints}
    assert statuses == {pact.footprint_id(first.record.number): "Deprecated",
                        pact.footprint_id(second.record.number): "Deprecated",
                        pact.footprint_id(third.record.number): "Active"}
    for fp in footprints:
        assert not pact_errors(fp)


@needs_catenax
def test_catenax_record_of_a_verified_certificate_carries_the_attestation(park_dir):
    import jsonschema

    from footprint.certificates import certification, pact
    from footprint.exchange import catenax
    from footprint.registry import statement as statements
    from footprint.registry.certificate import Review

    park, issuer, results = certification.prepare(park_dir, ISSUER)
    st = statements.load(ROOT / "inventories" / "demo-statement.yaml")
    cert = certification.certificates.draft(results, "profile", issuer, date(2026, 3, 1)).model_copy(update={
        "number": "DEMO-PCF-X-2026-00007-Q", "status": "active", "supersedes": ("DEMO-PCF-X-2026-00006-S",),
        "review": Review(reviewer="Li Wei", decided_at="2026-02-20T08:00:00+00:00", bundle_sha256="cd" * 32,
                         comment="ok", statement=st)})
    record = catenax.pcf_record(pact.product_footprint(results, results.product("profile"), cert, "CN", None),
                                "BPNL000000000DWF")
    schema = json.loads(CATENAX_SCHEMA.read_text(encoding="utf-8"))
    assert not list(jsonschema.Draft4Validator(schema).iter_errors(record))
    (attestation,) = record["attestationOfConformance"]
    assert attestation == {"attestationType": "PCF Verification", "standardName": "ISO 14064-3:2019",
                           "attestationStandard": "ISO 14064-3:2019",
                           "attestationOfConformanceId": "DEMO-PCF-X-2026-00007-Q", "providerName": st.verifier,
                           "completedAt": "2026-02-20T08:00:00Z"}
    ident = record["pcfAssessmentAndMethodology"][0]["pcfAssessmentInformation"][0]["idAndVersion"][0]
    assert ident["version"] == 1 and ident["precedingPfIds"] == [{"id": pact.footprint_id("DEMO-PCF-X-2026-00006-S")}]
    assert record["pcfAssessmentAndMethodology"][0]["verificationAndCertificationShares"] == \
        [{"productVerificationShare3rdParty": 100}]
    geography = record["pcfAssessmentAndMethodology"][0]["pcfAssessmentInformation"][0]["geography"]
    assert geography == [{"geographyRegionOrSubregion": "Eastern Asia", "geographyCountry": "CN"}]
    other = pact.product_footprint(results, results.product("profile"), cert, "ZW", None)
    with pytest.raises(catenax.CatenaXError, match="no UN M49 region known for country 'ZW'"):
        catenax.pcf_record(other, "BPNL000000000DWF")
    assert catenax.pcf_record(other, "BPNL000000000DWF", "Sub-Saharan Africa")
