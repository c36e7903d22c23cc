"""What a certificate states (DESIGN §6), element by element, in the text of the zh and en PDFs.

The results are the hand-checked park of test_documents with the format-2 fields set here to known
values; each expected string is formatted by this file's own rounding (sig3, pct), so a test fails
when an element is missing, wrong, or printed where the data does not support it.
"""

from __future__ import annotations

import subprocess
from datetime import date
from pathlib import Path

import pytest
from conftest import ROOT
from test_documents import ROWS, needs_poppler, pct, sig3

from footprint.park import models
from footprint.registry import statement as statements

STATEMENT = statements.load(ROOT / "inventories" / "demo-statement.yaml")
ISSUE = date(2026, 3, 1)
PREVIOUS = "DEMO-PCF-TEST-2026-00001-A"
ADDRESS = "18 Demo Road, Suzhou Industrial Park, Jiangsu"
BIOGENIC_CO2, UPTAKE, BIOGENIC_C = 0.5, 0.1 * 44 / 12, 0.1
EXEMPTED_PER_UNIT = 0.06
MOVED_SHARE = 0.35
P2_5, P97_5 = 9.61, 10.9


@pytest.fixture(scope="module")
def results(tmp_path_factory, project):
    from parks import write_park

    from footprint.engine.calculation import compute_park
    from footprint.park.loading import load_park

    return compute_park(load_park(write_park(tmp_path_factory.mktemp("park"), **ROWS)))


@pytest.fixture(scope="module")
def declared(results):
    """The profile with every format-2 element known."""
    p = results.product("profile")
    excluding = p.total + BIOGENIC_CO2
    v2 = p.model_copy(update={
        "biogenic_co2": BIOGENIC_CO2, "biogenic_uptake": UPTAKE, "biogenic_carbon_content": BIOGENIC_C,
        "fossil_carbon_content": None, "pcf_excluding_biogenic_uptake": excluding,
        "pcf_including_biogenic_uptake": excluding - UPTAKE,
        "exempted": EXEMPTED_PER_UNIT, "exempted_percent": EXEMPTED_PER_UNIT / (excluding + EXEMPTED_PER_UNIT) * 100,
        "exempted_items": [models.ExemptedItem(facility_id="mill", item="anodizing chemicals", estimate=120,
                                               per_unit=EXEMPTED_PER_UNIT, basis="SDS mass x 2 kg CO2e/kg",
                                               source="EHS report 2025", row="exclusions.csv:2")],
        "electricity": models.Electricity(method="market-based", location_based=p.total + 0.42,
                                          market_based=p.total),
        "dqi": models.Dqi(ter=1.84, ger=2.26, tir=1.5, unrated_share=0.12, unrated=["factor:grid"]),
        "gwp_sets": ["AR6", "AR5", "unknown"],
        "allocations": [models.AllocationDisclosure(
            facility_id="mill", facility="Extrusion line 2", basis="economic",
            reason="profiles and offcuts have no common physical measure", shares={"profile": 0.8, "offcut": 0.2},
            moved=p.total * MOVED_SHARE, moved_share=MOVED_SHARE)],
        "uncertainty": models.Uncertainty(iterations=1000, seed=1, mean=10.2, median=10.2, p2_5=P2_5, p97_5=P97_5),
    })
    return results.model_copy(update={"products": [v2]})


def issuer(scheme: str):
    import yaml

    from footprint.registry.issuer import Issuer

    data = yaml.safe_load((ROOT / "inventories" / "demo-issuer.yaml").read_text(encoding="utf-8"))
    if scheme != "pact":
        data.pop("validity_years")
    return Issuer.model_validate({**data, "scheme": scheme})


def render(results, cert, lang: str, tmp_path: Path) -> str:
    from footprint.certificates import document

    pdf = tmp_path / f"{cert.number}-{lang}.pdf"
    pdf.write_bytes(document.render_certificate(results, cert, lang, "CN", "CN-JS").pdf)
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    return "".join(text.split())  # line breaks fall anywhere in long Chinese and English text


def has(text: str, *expected: str) -> None:
    for e in expected:
        assert "".join(e.split()) in text, e


@needs_poppler
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_reviewed_cnca_certificate_states_every_element(declared, lang, tmp_path):
    from footprint.registry.certificate import Review, draft

    p = declared.product("profile")
    cert = draft(declared, "profile", issuer("cnca-2025"), ISSUE).model_copy(update={
        "number": "DEMO-PCF-TEST-2026-00002-B", "status": "active", "supersedes": (PREVIOUS,),
        "site_address": ADDRESS,
        "review": Review(reviewer="Wang Fang (demo reviewer)", decided_at="2026-02-20T08:00:00+00:00",
                         bundle_sha256="ab" * 32, comment="rows checked", statement=STATEMENT)})
    text = render(declared, cert, lang, tmp_path)
    zh = lang == "zh"
    excluding = p.total + BIOGENIC_CO2
    # the footprint, its parts and the declared unit
    has(text, sig3(p.total), sig3(p.fossil), sig3(p.biogenic), sig3(p.luc), "1 kg", "1.00 kg",
        "部分碳足迹（摇篮到大门）" if zh else "partial carbon footprint of the product, cradle-to-gate",
        "2025-01-01 – 2025-12-31")
    # biogenic CO2, uptake, PACT PCFs and carbon contents: declared ones with values, the fossil one not assessed
    has(text, sig3(BIOGENIC_CO2), sig3(UPTAKE), sig3(excluding), sig3(excluding - UPTAKE),
        f"{'生物源碳' if zh else 'biogenic'}: {sig3(BIOGENIC_C)} kg C",
        f"{'化石碳' if zh else 'fossil'}: {'未评估' if zh else 'not assessed'}")
    # exempted share with its item
    has(text, sig3(EXEMPTED_PER_UNIT / (excluding + EXEMPTED_PER_UNIT) * 100) + "%", "anodizing chemicals (mill)",
        sig3(EXEMPTED_PER_UNIT), "SDS mass x 2 kg CO2e/kg")
    # electricity: the stated method and both results
    has(text, "基于市场" if zh else "market-based", sig3(p.total + 0.42), sig3(p.total))
    # the allocation that matters, GWP sets, primary data share and DQI, the 95 % interval
    has(text, "Extrusion line 2: economic (profile 80.0%, offcut 20.0%)",
        "profiles and offcuts have no common physical measure", pct(MOVED_SHARE), "AR6, AR5, unknown",
        pct(p.primary_data_share), "TeR 1.8 · GeR 2.3 · TiR 1.5", pct(0.12), f"{sig3(P2_5)} – {sig3(P97_5)}")
    # background data, standards, holder and site
    has(text, "park factors.csv", "ISO 14067:2018", "GB/T 24067-2024", "苏州示范铝业有限公司", "91320500MA1TEST01X",
        ADDRESS, "Extrusion line 2")
    # the scheme: its rule, 2 years from issue, surveillance at 12 months, the label; the certificate replaced
    rule = "国家认监委《产品碳足迹标识认证通用实施规则（试行）》（2025年3月）" if zh else \
        "CNCA General Implementation Rules for Product Carbon Footprint Label Certification (trial), March 2025"
    has(text, rule, "2026-03-01 – 2028-02-29", "2027-03-01",
        "中国产品碳足迹标识" if zh else "China Product Carbon Footprint Label", PREVIOUS)
    # the verification statement as recorded
    has(text, STATEMENT.verifier, STATEMENT.accreditation, "ISO 14064-3:2019", "有限保证" if zh else "limited",
        "5%", STATEMENT.criteria, STATEMENT.scope, STATEMENT.intended_users, STATEMENT.opinion,
        "Wang Fang (demo reviewer)")
    assert ("自我声明" if zh else "Self-declared") not in text
    if zh:
        assert "Product Carbon Footprint Certificate" not in text
    else:
        assert "产品碳足迹证书" not in text


@needs_poppler
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_self_declared_certificate_says_so_and_claims_nothing_unassessed(results, lang, tmp_path):
    """A format-1 product: no carbon contents, uptake, exclusions, electricity split or DQI declared."""
    from footprint.registry.certificate import draft

    p = results.product("profile")
    cert = draft(results, "profile", issuer("pact"), ISSUE).model_copy(update={
        "number": "DEMO-PCF-TEST-2026-00003-C", "status": "active", "self_declared": True})
    text = render(results, cert, lang, tmp_path)
    zh = lang == "zh"
    not_assessed = "未评估" if zh else "notassessed"
    has(text, sig3(p.total), "自我声明" if zh else "Self-declared",
        "未经第三方核查" if zh else "not verified by a third party",
        "PACT 方法学 v3" if zh else "PACT Methodology v3: valid at most 3 years after the reference period",
        "2026-03-01 – 2028-12-31")
    for label in (("生物源CO2吸收", "BiogenicCO2uptake"), ("排除排放占比", "Exemptedemissions"),
                  ("不确定性(95%)", "Uncertainty(95%)")):
        at = text.index(label[0] if zh else label[1])
        # the value follows its label, or just precedes it where a long neighbouring cell (the DQI, computed
        # for every park since format 2's engine) makes pdftotext read the two columns in another order
        window = text[max(0, at - len(not_assessed) - 1):at + 40]
        assert not_assessed in window, (label, window)
    for absent in ("核查意见" if zh else "Opinion", "ISO 14064-3", "获证后监督" if zh else "surveillance"):
        assert absent not in text, absent


def test_pact_record_of_a_declared_product(declared, results):
    """Every SHALL field, BIO fields by the spec's rule, dqi, true GWP sets, exclusions and allocations named,
    verification from the recorded statement — and the schema accepts it."""
    from test_exchange import PACT_SPEC, pact_errors

    from footprint.certificates import pact
    from footprint.registry.certificate import Review, draft

    if not PACT_SPEC.exists():
        pytest.skip(f"{PACT_SPEC} absent")
    p = declared.product("profile")
    review = Review(reviewer="Wang Fang (demo reviewer)", decided_at="2026-02-20T08:00:00+00:00",
                    bundle_sha256="ab" * 32, comment="rows checked", statement=STATEMENT)
    cert = draft(declared, "profile", issuer("cnca-2025"), ISSUE).model_copy(update={
        "number": "DEMO-PCF-TEST-2026-00002-B", "status": "active", "review": review, "supersedes": (PREVIOUS,)})
    fp = pact.product_footprint(declared, p, cert, "CN", "CN-JS")
    assert not pact_errors(fp)
    pcf = fp["pcf"]
    excluding = p.total + BIOGENIC_CO2
    assert float(pcf["pcfExcludingBiogenicUptake"]) == pytest.approx(excluding, rel=1e-12)
    assert float(pcf["pcfIncludingBiogenicUptake"]) == pytest.approx(excluding - UPTAKE, rel=1e-12)
    assert float(pcf["biogenicCO2Uptake"]) == pytest.approx(-UPTAKE) and pcf["biogenicCarbonContent"] == "0.1"
    assert pcf["fossilCarbonContent"] == "0" and "Fossil carbon content not assessed" in fp["comment"]
    assert float(pcf["exemptedEmissionsPercent"]) == pytest.approx(EXEMPTED_PER_UNIT / (excluding + EXEMPTED_PER_UNIT)
                                                                   * 100)
    assert "Excluded (cut-off, estimated): anodizing chemicals (mill" in pcf["boundaryProcessesDescription"]
    assert "anodizing chemicals at mill: SDS mass x 2 kg CO2e/kg" in pcf["exemptedEmissionsDescription"]
    assert pcf["ipccCharacterizationFactors"] == ["AR5", "AR6"] and "(unknown)" in fp["comment"]
    assert pcf["dqi"] == {"technologicalDQR": "1.84", "geographicalDQR": "2.26", "temporalDQR": "1.5"}
    assert "Extrusion line 2 (mill): economic, shares profile 0.8, offcut 0.2, moving 35.0 %" \
        in pcf["allocationRulesDescription"]
    assert pcf["packagingEmissionsIncluded"] is False and pcf["ccsTechnologicalCO2CaptureIncluded"] is False
    v = pcf["verification"]
    assert (v["providerName"], v["standardName"], v["coverage"], v["completedAt"]) == \
        (STATEMENT.verifier, "ISO 14064-3:2019", "product level", "2026-02-20T08:00:00Z")
    assert STATEMENT.opinion in v["comments"] and "Limited assurance; materiality 5 %" in v["comments"]
    assert fp["precedingPfIds"] == [pact.footprint_id(PREVIOUS)]
    assert fp["comment"].startswith("Certificate DEMO-PCF-TEST-2026-00002-B by Demo Product Carbon Footprint "
                                    "Certification Centre under CNCA General Implementation Rules")

    # format 1: nothing declared → the BIO fields that are unknown are absent, and no verification
    plain = results.product("profile")
    selfd = draft(results, "profile", issuer("pact"), ISSUE).model_copy(update={
        "number": "DEMO-PCF-TEST-2026-00003-C", "status": "active", "self_declared": True})
    fp = pact.product_footprint(results, plain, selfd, "CN", "CN-JS")
    assert not pact_errors(fp)
    for absent in ("biogenicCO2Uptake", "biogenicCarbonContent", "verification"):
        assert absent not in fp["pcf"], absent
    assert fp["pcf"]["pcfIncludingBiogenicUptake"] == fp["pcf"]["pcfExcludingBiogenicUptake"]
    assert "self-declared, not verified by a third party" in fp["comment"]
    assert "No exclusions declared" in fp["comment"] and "Biogenic CO2 uptake not assessed" in fp["comment"]
