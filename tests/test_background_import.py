"""Background imports: EcoSpold 1 (a fixture made here, and the shipped USLCI release), the link
report, search, remove, and the refusals. Expected footprints are worked out by hand below."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest
from conftest import SHARED
from typer.testing import CliRunner

from footprint.cli.main import app

USLCI = SHARED / "uslci" / "uslci_fy21_q3_01_ecospold1.zip"
CO2, CH4_FOSSIL, HFC245FA_AR6 = 1.0, 29.8, 962.0


def ecospold1(datasets: list[dict]) -> str:
    """An EcoSpold 1 file in the layout openLCA exports (as USLCI ships it)."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<ecoSpold xmlns="http://www.EcoInvent.org/EcoSpold01">']
    for d in datasets:
        ref = d["flows"][0]
        parts.append(f'<dataset number="{d["number"]}"><metaInformation><processInformation>'
                     f'<referenceFunction name={quoteattr(ref["name"])} unit="{ref["unit"]}" amount="{ref["amount"]}" '
                     f'category="31-33: Manufacturing" subCategory="x"/>'
                     f'<geography location="{d.get("location", "RNA")}" text={quoteattr(d.get("geography", ""))}/>'
                     f'<timePeriod><endDate>{d.get("end", "2010-12-31")}</endDate></timePeriod>'
                     f'</processInformation></metaInformation><flowData>')
        for f in d["flows"]:
            group = f'<outputGroup>{f["group"][3:]}</outputGroup>' if f["group"].startswith("out") else \
                f'<inputGroup>{f["group"][2:]}</inputGroup>'
            parts.append(f'<exchange number="{f["number"]}" name={quoteattr(f["name"])} unit="{f["unit"]}" '
                         f'meanValue="{f["amount"]}" category="{f.get("category", "x")}" '
                         f'subCategory="{f.get("sub", "y")}" location="{f.get("location", "RNA")}">{group}</exchange>')
        parts.append("</flowData></dataset>")
    parts.append("</ecoSpold>")
    return "\n".join(parts)


GRID = {"number": "1", "geography": "Northwest", "flows": [
    {"number": "100", "name": "Electricity, at grid", "unit": "kWh", "amount": 1, "group": "out0"},
    {"number": "900", "name": "Carbon dioxide", "unit": "kg", "amount": 0.5, "group": "out4", "category": "emission",
     "sub": "air"},
    {"number": "901", "name": "Methane", "unit": "kg", "amount": 0.001, "group": "out4", "category": "troposphere",
     "sub": "rural"},
    {"number": "902", "name": "HFC-245fa", "unit": "kg", "amount": 1e-6, "group": "out4", "category": "emission",
     "sub": "air"},
    {"number": "800", "name": "Coal, at mine", "unit": "kg", "amount": 0.4, "group": "in5",
     "category": "Technosphere Flows", "sub": "CUTOFF Flows"},
]}
GRID_US = {"number": "4", "location": "US", "geography": "United States", "end": "2014-12-31", "flows": [
    {"number": "100", "name": "Electricity, at grid", "unit": "kWh", "amount": 1, "group": "out0"},
    {"number": "900", "name": "Carbon dioxide", "unit": "kg", "amount": 0.4, "group": "out4", "category": "emission",
     "sub": "air"},
]}
STEEL = {"number": "2", "flows": [
    {"number": "200", "name": "Steel, at plant", "unit": "kg", "amount": 1, "group": "out0"},
    {"number": "300", "name": "Slag, at plant", "unit": "kg", "amount": 0.2, "group": "out2"},
    {"number": "301", "name": "Dust, at plant", "unit": "kg", "amount": 0.05, "group": "out2"},
    {"number": "100", "name": "Electricity, at grid", "unit": "MJ", "amount": 3.6, "group": "in5"},
    {"number": "999", "name": "Unobtainium, at mine", "unit": "kg", "amount": 0.1, "group": "in5"},
    {"number": "900", "name": "Carbon dioxide", "unit": "kg", "amount": 1.0, "group": "out4", "category": "emission",
     "sub": "air"},
]}
CEMENT = {"number": "3", "flows": [
    {"number": "400", "name": "Cement, at plant", "unit": "kg", "amount": 2, "group": "out0"},
    {"number": "300", "name": "Slag, at plant", "unit": "kg", "amount": 1.0, "group": "in5"},
    {"number": "900", "name": "Carbon dioxide", "unit": "kg", "amount": 1.6, "group": "out4", "category": "emission",
     "sub": "air"},
]}


@pytest.fixture(scope="module")
def fixture_db(project, tmp_path_factory):
    """The four datasets above, zipped as a user would get them, imported as `es1-test`."""
    from footprint.exchange.background import import_database

    source = tmp_path_factory.mktemp("es1") / "mini.zip"
    with zipfile.ZipFile(source, "w") as z:
        z.writestr("EcoSpold01/mini.xml", ecospold1([GRID, STEEL, CEMENT, GRID_US]))
    return import_database(source, "ecospold1", "es1-test")


def footprint_of(db: str, code: str) -> float:
    import bw2calc as bc
    import bw2data as bd

    from footprint.engine.background import METHODS

    lca = bc.LCA({bd.get_node(database=db, code=code): 1}, method=METHODS["total"])
    lca.lci()
    lca.lcia()
    return float(lca.score)


def test_ecospold1_one_activity_per_dataset_linked_by_flow_number(fixture_db):
    import bw2data as bd

    report = fixture_db
    assert {a["code"] for a in bd.Database("es1-test")} == {"1", "2", "3", "4", "2-300"}
    grid = 0.5 * CO2 + 0.001 * CH4_FOSSIL  # the steel plant's RNA exchange picks the RNA grid (same location)
    steel_burden = 1.0 * CO2 + 3.6 / 3.6 * grid  # 3.6 MJ = 1 kWh; unobtainium has no provider, coal is cut off
    per_kg = steel_burden / (1 + 0.2)  # mass allocation between steel and the slag cement uses; dust is cut off
    assert footprint_of("es1-test", "1") == pytest.approx(grid, rel=1e-6)
    assert footprint_of("es1-test", "4") == pytest.approx(0.4, rel=1e-6)
    assert footprint_of("es1-test", "2") == pytest.approx(per_kg, rel=1e-6)
    assert footprint_of("es1-test", "2-300") == pytest.approx(per_kg, rel=1e-6)
    assert footprint_of("es1-test", "3") == pytest.approx((1.6 + 1.0 * per_kg) / 2, rel=1e-6)

    assert report.datasets_read == 4 and report.datasets_written == 5
    assert (report.technosphere_linked, report.technosphere_converted, report.technosphere_unlinked) == (2, 1, 2)
    assert dict(report.conversions) == {"MJ -> kWh": 1}
    assert report.unlinked["cut-off flow (the database marks it CUTOFF)"] == {"Coal, at mine [kg]": 1}
    assert report.unlinked["no provider in this database"] == {"Unobtainium, at mine [kg]": 1}
    assert report.ambiguous[0]["candidates"] == 2 and report.ambiguous[0]["chosen"].startswith("1 ")
    assert report.ghg_mapped["Carbon dioxide, fossil"] == {"Carbon dioxide": 4}
    assert report.ghg_mapped["Methane, fossil"] == {"Methane": 1}
    assert report.ghg_dropped["HFC-245fa"]["exchanges"] == 1
    dropped = 1e-6 * HFC245FA_AR6  # per kWh of the RNA grid, the dataset the gas weighs most in
    assert report.dropped_overall["dataset"] == "1"
    assert report.dropped_overall["largest_share"] == pytest.approx(dropped / (grid + dropped), rel=1e-6)
    [multi] = report.multi_output
    assert multi.dataset == "2" and [s for _, _, s in multi.products] == pytest.approx([1 / 1.2, 0.2 / 1.2])
    assert multi.cut_off == [("Dust, at plant", 0.05, "kg")]
    text = report.to_text()
    assert "HFC-245fa: 1 exchanges" in text and "unlinked, no provider in this database: 1 exchanges" in text


def test_identity_search_and_remove(fixture_db, tmp_path):
    from footprint.exchange.background import ImportRefused, databases, import_database, remove, search

    [row] = [d for d in databases() if d["name"] == "es1-test"]
    assert row["format"] == "ecospold1" and row["activities"] == 5 and len(row["source_sha256"]) == 64
    hits = search("es1-test", "electricity GRID")
    assert [(h["ref"], h["unit"], h["location"]) for h in hits] == [("bg:es1-test:1", "kilowatt hour", "RNA"),
                                                                      ("bg:es1-test:4", "kilowatt hour", "US")]
    with pytest.raises(ImportRefused, match="exists; remove it first"):
        import_database(tmp_path, "ecospold1", "es1-test")
    with pytest.raises(ImportRefused, match="database name"):
        import_database(tmp_path, "ecospold1", "Bad Name")
    with pytest.raises(ImportRefused, match="unknown format"):
        import_database(tmp_path, "ecospold9", "x")
    with pytest.raises(ImportRefused, match="no ecospold1 datasets"):
        import_database(tmp_path, "ecospold1", "empty")
    source = tmp_path / "again.xml"
    source.write_text(ecospold1([GRID]))
    import_database(source, "ecospold1", "es1-drop")
    remove("es1-drop")
    assert "es1-drop" not in {d["name"] for d in databases()}
    with pytest.raises(ImportRefused, match="no imported background database"):
        remove("es1-drop")


def test_cli_refusals_exit_2(project, tmp_path):
    runner = CliRunner()
    missing = runner.invoke(app, ["background", "import", str(tmp_path / "none.zip"), "--format", "ecospold1",
                                  "--name", "x"])
    assert missing.exit_code == 2 and "no such file or folder" in missing.output
    assert runner.invoke(app, ["background", "remove", "nothing-here"]).exit_code == 2
    assert runner.invoke(app, ["background", "search", "nothing-here", "steel"]).exit_code == 2


@pytest.fixture(scope="module")
def uslci(project):
    """The shipped USLCI release imported as `uslci`, the name demo-park-uslci uses."""
    if not USLCI.exists():
        pytest.skip("the shipped USLCI release is not in ../shared/data")
    from footprint.exchange.background import import_database

    return import_database(USLCI, "ecospold1", "uslci")


def test_uslci_imports_every_dataset_with_plausible_footprints(uslci):
    import bw2data as bd

    from footprint.exchange.background import report_paths

    report = uslci
    with zipfile.ZipFile(USLCI) as z:
        xml = b"".join(z.read(n) for n in z.namelist() if n.endswith(".xml") and "categories" not in n)
    numbers = set(re.findall(rb'<dataset number="(\d+)"', xml))
    codes = {a["code"] for a in bd.Database("uslci")}
    assert len(numbers) == 639 == report.datasets_read and {n.decode() for n in numbers} <= codes
    # Published orders of magnitude (README "Background databases you own"): US grid ~0.67 kg CO2e/kWh,
    # natural gas burned in a boiler ~2.4 kg/m3 (1.9 combustion + upstream), hot-rolled steel ~2.3 kg/kg.
    refs = {r.code: r.kg_co2e for r in report.references}
    assert 0.60 < refs["93176"] < 0.75 and 2.2 < refs["95054"] < 2.6 and 2.0 < refs["70631"] < 2.6
    assert refs["93176"] == pytest.approx(footprint_of("uslci", "93176"), rel=1e-6)
    assert all(Path(p).exists() for p in report_paths("uslci"))
    assert report.technosphere_linked + report.technosphere_unlinked == xml.count(b"<inputGroup>5<") + \
        xml.count(b"<outputGroup>3<")


def test_demo_park_on_uslci_reviews_recomputes_and_certifies(uslci, tmp_path, monkeypatch):
    import json
    import shutil
    import subprocess

    from conftest import ROOT

    from footprint.documents import read_attachment

    monkeypatch.setenv("FOOTPRINT_DATABASE_URL", f"sqlite:///{tmp_path / 'registry.sqlite'}")
    runner = CliRunner()

    def cli(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    park, review, out = ROOT / "inventories" / "demo-park-uslci", tmp_path / "review", tmp_path / "certs"
    cli("keys", "demo")
    cli("review", str(park), "--product", "hex-bolt-hdg", "--out", str(review), "--iterations", "20")
    bundle = next(review.glob("*-bundle.zip"))
    assert "Reproduced" in cli("recompute", str(bundle))
    cli("reviewers", "add", "dana.lee", "--name", "Dana Lee (demo)", "--organisation", "Demo Verification Ltd")
    cli("review", "decide", str(park), "--product", "hex-bolt-hdg", "--approve", "--reviewer", "dana.lee",
        "--comment", "USLCI links checked", "--bundle", str(bundle), "--statement",
        str(ROOT / "inventories" / "demo-statement.yaml"))
    cli("certify", str(park), "--product", "hex-bolt-hdg", "--issuer", str(ROOT / "inventories" / "demo-issuer.yaml"),
        "--out", str(out), "--issue-date", "2026-03-01", "--backdate")
    [pdf] = out.glob("hex-bolt-hdg_*.pdf")
    results = json.loads(read_attachment(pdf.read_bytes())[1])["extensions"][0]["data"]["results"]
    used = {(d["database"], d["code"]) for d in results["products"][0]["background_datasets"]}
    assert {("uslci", "93176"), ("uslci", "95054"), ("uslci", "70631")} <= used  # the three inputs drawn from USLCI
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(review / "demo-park-uslci-review.pdf"), "-"], capture_output=True,
                              text=True, check=True).stdout
        assert "Background datasets used" in text and "U.S. Life Cycle Inventory Database (USLCI), FY21" in text
        certificate = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        named = " ".join(certificate.split())  # the certificate names the publication and each dataset used
        assert "Life Cycle Inventory Database (USLCI), FY21 Q3.01 release" in named
        for dataset in ("Hot rolled sheet, steel, at plant", "Electricity, at grid (US)",
                        "Natural gas, combusted in industrial boiler"):
            assert dataset in named


def test_bundle_records_identity_and_recompute_refuses_another(project, tmp_path):
    import hashlib
    import json

    from parks import write_park

    from footprint.exchange.background import import_database, remove
    from footprint.review import bundle

    source = tmp_path / "mini.xml"
    source.write_text(ecospold1([GRID, STEEL, CEMENT, GRID_US]))
    import_database(source, "ecospold1", "es1-bundle")
    park = write_park(tmp_path / "park", facilities=[{"facility_id": "shop"}],
                      outputs=[{"product_id": "frame", "facility_id": "shop", "unit": "kg", "amount": 100}],
                      inputs=[{"facility_id": "shop", "ref": "bg:es1-bundle:2", "amount": 120, "unit": "kg"},
                              {"facility_id": "shop", "ref": "bg:es1-bundle:1", "amount": 50, "unit": "kWh"}])
    digest, results = bundle.create(park, tmp_path / "b.zip", iterations=0, seed=1)
    grid = 0.5 + 0.001 * CH4_FOSSIL
    steel = (1.0 + grid) / 1.2
    [frame] = results.products
    assert frame.total == pytest.approx((120 * steel + 50 * grid) / 100, rel=1e-6)
    assert [(d.database, d.code, d.name) for d in frame.background_datasets] == [
        ("es1-bundle", "1", "Electricity, at grid"), ("es1-bundle", "2", "Steel, at plant")]
    assert frame.background_datasets[0].publication == "EcoSpold 1 data from mini.xml"

    recorded = json.loads(bundle.read(tmp_path / "b.zip")["background/databases.json"])["es1-bundle"]["identity"]
    assert recorded["source_sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert recorded["format"] == "ecospold1"
    _, _, diffs = bundle.recompute(tmp_path / "b.zip")
    assert max(d.relative for d in diffs) <= bundle.TOLERANCE

    remove("es1-bundle")
    source.write_text(ecospold1([GRID, STEEL]))  # another release under the same name
    import_database(source, "ecospold1", "es1-bundle")
    with pytest.raises(ValueError, match="not the ones the bundle was computed on.*es1-bundle: source_sha256"):
        bundle.recompute(tmp_path / "b.zip")


def test_ecospold1_bad_amounts_and_numbers_are_reported_not_written(project, tmp_path):
    from footprint.exchange.background import import_database

    broken = {"number": "7", "flows": [{**GRID["flows"][0], "number": "700", "amount": 0}]}  # makes nothing
    twice = {**GRID, "flows": GRID["flows"][:2]}  # the number of GRID again
    odd = {"number": "8", "flows": [
        {"number": "800", "name": "Widget", "unit": "kg", "amount": 1, "group": "out0"},
        {"number": "100", "name": "Electricity, at grid", "unit": "kWh", "amount": "lots", "group": "in5"},
        {"number": "900", "name": "Carbon dioxide", "unit": "kg", "amount": "NaN", "group": "out4",
         "category": "emission", "sub": "air"},
        {"number": "900", "name": "Carbon dioxide", "unit": "kg", "amount": 2.0, "group": "out4",
         "category": "emission", "sub": "air"}]}
    source = tmp_path / "odd.xml"
    source.write_text(ecospold1([GRID, broken, twice, odd]))
    report = import_database(source, "ecospold1", "es1-odd")
    assert (report.datasets_read, report.datasets_written) == (4, 2)
    assert any("Dataset 7" in n and "reference amount is 0.0" in n for n in report.notes)
    assert any("Dataset 1" in n and "second dataset" in n for n in report.notes)
    assert report.unlinked["amount is not a number"] == {"Electricity, at grid [kWh]": 1}
    assert report.elementary_unmapped["Carbon dioxide (amount is not a number)"] == 1
    assert footprint_of("es1-odd", "8") == pytest.approx(2.0, rel=1e-6)
