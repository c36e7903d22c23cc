"""CBAM view of the demo park: specific embedded emissions computed by hand from the park's rows.

Every expected figure below is arithmetic on the demo park's rows (inputs.csv, emissions.csv,
outputs.csv), the open-factors rows they reference and cbam-defaults.csv, written out here.
"""

from __future__ import annotations

import shutil

import openpyxl
import pytest
from conftest import DEMO

from footprint.exchange import cbam
from footprint.park.errors import ParkDataError
from footprint.park.loading import load_park

# open-factors rows: fuel-natural-gas (combustion part) CO2 2.186778 kg/m3; electricity-cn-east CO2 0.5617 kg/kWh
GAS_CO2 = 2.186778 / 1000  # t CO2 per m3
GRID = 0.5617  # t CO2 per MWh
# steam plant: 10,049,120 kg CO2 (emissions.csv, combustion) over 128,600 + 36,200 GJ of heat
HEAT_EF = 10_049.120 / ((128_600 + 36_200) / 1000)  # t CO2 per TJ

# al-extrusion: gas 640,000 m3; grid 1,450 MWh (PV 4,300 MWh at 0: the PV plant burns nothing);
# billets 5,800 t Hydro (estimate 4.0), 5,600 t + 3,000 t Chinese (default 3.0); goods 9,050 + 2,580 t
EXT_AL = 9_050 + 2_580
EXT_OWN = 640_000 * GAS_CO2
EXT_PREC = 5_800 * 4.0 + 5_600 * 3.0 + 3_000 * 3.0
EXT_DIR = (EXT_OWN + EXT_PREC) / EXT_AL
EXT_IND = 1_450 * GRID / EXT_AL
# anodizing-line: 19,500 + 5,200 GJ of park heat; grid 700 MWh; 2,000 t of 6063 profile; 1,962 t of goods
ANO_AL = 1_962
ANO_DIR = ((19_500 + 5_200) / 1000 * HEAT_EF + 2_000 * EXT_DIR) / ANO_AL
ANO_IND = (700 * GRID + 2_000 * EXT_IND) / ANO_AL
# fastener-plant: process CO2 92,306 kg; gas 205,000 m3; steam 11,800 GJ; grid 1,050 MWh;
# wire rod 6,050 t (default of CN 7214 99: 3.17), strip 980 t (default of CN 7211 13 00: 3.19)
FAS_AL = 3_750 + 1_480 + 690
FAS_DIR = (92.306 + 205_000 * GAS_CO2 + 11.8 * HEAT_EF + 6_050 * 3.17 + 980 * 3.19) / FAS_AL
FAS_IND = 1_050 * GRID / FAS_AL


@pytest.fixture(scope="module")
def comm() -> dict:
    return cbam.communication(load_park(DEMO))


def good(comm: dict, product_id: str) -> dict:
    return next(g for g in comm["goods"] if g["product_id"] == product_id)


@pytest.mark.parametrize(("product_id", "direct", "indirect"), [
    ("al-profile-6063", EXT_DIR, EXT_IND), ("al-pv-rail-6005", EXT_DIR, EXT_IND),
    ("al-profile-anodized", ANO_DIR, ANO_IND),
    ("hex-bolt-hdg", FAS_DIR, FAS_IND), ("hex-nut-hdg", FAS_DIR, FAS_IND), ("flat-washer-hdg", FAS_DIR, FAS_IND),
])
def test_specific_embedded_emissions_of_the_demo_goods(comm, product_id, direct, indirect):
    g = good(comm, product_id)
    assert g["see_direct"] == pytest.approx(direct, rel=1e-12)
    assert g["see_indirect"] == pytest.approx(indirect, rel=1e-12)
    assert g["see_total"] == pytest.approx(direct + indirect, rel=1e-12)


def test_parts_of_each_process_by_hand(comm):
    procs = {p["id"]: p for p in comm["processes"]}
    ext, ano, fas = procs["al-extrusion"]["see"], procs["anodizing-line"]["see"], procs["fastener-plant"]["see"]
    assert ext["own_direct_t"] == pytest.approx(EXT_OWN)
    assert ext["precursors_direct_t"] == pytest.approx(EXT_PREC)
    assert ext["heat_t"] == 0
    assert ext["electricity_t"] == pytest.approx(1_450 * GRID)
    assert ano["heat_t"] == pytest.approx(24.7 * HEAT_EF)
    assert ano["precursors_direct_t"] == pytest.approx(2_000 * EXT_DIR)
    assert ano["precursors_indirect_t"] == pytest.approx(2_000 * EXT_IND)
    assert fas["own_direct_t"] == pytest.approx(92.306 + 205_000 * GAS_CO2)
    assert fas["heat_t"] == pytest.approx(11.8 * HEAT_EF)
    assert fas["precursors_direct_t"] == pytest.approx(6_050 * 3.17 + 980 * 3.19)
    # embedded electricity: own MWh per t of goods (PV and grid), plus the precursor's for anodized profiles
    assert ext["embedded_electricity"] == pytest.approx((4_300 + 1_450) / EXT_AL)
    assert ano["embedded_electricity"] == pytest.approx((1_900 + 700 + 2_000 * (4_300 + 1_450) / EXT_AL) / ANO_AL)
    # share of default values (and estimates): every bought precursor of the extrusion plant is one
    assert ext["default_share"] == pytest.approx(EXT_PREC / (EXT_OWN + EXT_PREC + 1_450 * GRID))
    assert procs["al-extrusion"]["activity_level_t"] == pytest.approx(EXT_AL)  # scrap carries nothing


def test_boundary_leaves_out_what_cbam_does_not_count(comm):
    procs = {p["id"]: p for p in comm["processes"]}
    not_counted = procs["al-extrusion"]["not_counted"]
    reasons = {n["item"]: n["reason"] for n in not_counted}
    assert "mobile machinery" in next(n["reason"] for n in not_counted if n["row"] == "inputs.csv:22")  # forklifts
    assert "outside the CBAM boundary" in reasons["bg:water-supply"]  # press cooling water
    assert "outside the CBAM boundary" in reasons["compressed-air"]
    assert "transport" in reasons["transport bg:freight-sea"]
    precursors = {p["item"]: p for p in procs["al-extrusion"]["precursors"]}
    assert precursors["bg:aluminium-primary-cn"]["data"] == "default"
    assert "2025/2621" in precursors["bg:aluminium-primary-cn"]["source"]
    assert precursors["factor:al-billet-hydro-reduxa"]["data"] == "estimate"
    sources = sorted(r["item"].split(" ")[0] for r in procs["fastener-plant"]["direct_emissions"])
    assert sources[0] == "CO2" and "natural-gas" in sources[1] and len(sources) == 2


def test_goods_outside_cbam_are_listed_not_computed(comm):
    outside = {o["product_id"]: o["reason"] for o in comm["outside_cbam"]}
    assert "8507.60 is not in Annex I" in outside["lfp-pack-14kwh"]
    assert "residue" in outside["al-scrap"]
    assert "no CN code" in outside["pv-electricity"]
    assert {g["product_id"] for g in comm["goods"]} & set(outside) == set()
    assert cbam.GWP == {"CO2": 1.0, "N2O": 265.0, "CF4": 6630.0, "C2F6": 11100.0}


def test_workbook_has_the_template_names_and_every_mandatory_field(comm, tmp_path):
    paths = cbam.write(comm, tmp_path / "cbam.xlsx")
    assert [p.name for p in paths] == ["cbam_al-extrusion.xlsx", "cbam_anodizing-line.xlsx",
                                       "cbam_fastener-plant.xlsx"]
    book = openpyxl.load_workbook(paths[2])
    assert book.sheetnames[:6] == ["Summary_Communication", "A_InstData", "B_EmInst", "C_Emissions&Energy",
                                   "D_Processes", "E_PurchPrec"]
    rows = [list(r) for r in book["Summary_Communication"].iter_rows(values_only=True)]
    values = {r[0]: r[1] for r in rows if r and r[0]}
    for label in ("Name of the installation (English name):", "City:", "Country:", "Reporting period start:",
                  "Reporting period end:", "Carbon price instrument:",
                  "Total direct emissions during reporting period:",
                  "Justification for use of default values (if relevant):"):
        assert values[label] not in (None, ""), label
    assert values["City:"] == "Yancheng" and values["Country:"] == "CN"
    header = rows.index(list(cbam.PRODUCT_COLUMNS))
    products = [dict(zip(cbam.PRODUCT_COLUMNS, r, strict=False)) for r in rows[header + 1:]]
    assert [p["CN Codes"] for p in products] == ["731815", "731816", "731822"]
    mandatory = ("Production process from which the products arise", "Type of aggregated good or precursor",
                 "CN Codes", cbam.PRODUCT_COLUMNS[4], "SEE (direct)", "SEE (indirect)", "SEE (total)", "Unit",
                 "Share of emissions by default value", "Source for electricity EF", "Embedded electricity (MWh/t)",
                 "Electricity EF (tCO2/MWh)", "Type of instrument (carbon pricing)")
    for p in products:
        assert all(p[c] not in (None, "") for c in mandatory), p
        assert p["SEE (direct)"] == pytest.approx(FAS_DIR)
        assert p["Type of instrument (carbon pricing)"] == "none"
    streams = list(book["B_EmInst"].iter_rows(values_only=True))[1:]
    assert sorted(r[7] for r in streams) == pytest.approx(sorted([92.306, 205_000 * GAS_CO2]))
    energy = {r[0]: r[1] for r in book["C_Emissions&Energy"].iter_rows(values_only=True)}
    assert energy["Electricity consumed"] == pytest.approx(2_750 + 1_050)
    assert energy["Imported measurable heat"] == pytest.approx(11.8)
    purchased = list(book["E_PurchPrec"].iter_rows(values_only=True))
    assert [r[3] for r in purchased[1:]] == ["721391", "721114"]
    assert all(r[9] == "Default value" for r in purchased[1:])


def test_cbam_yaml_problems_are_located(tmp_path):
    park = tmp_path / "park"
    shutil.copytree(DEMO, park)
    text = (park / "cbam.yaml").read_text()
    text = text.replace("row: 15", "row: 14").replace('default_of: "7214 99"', 'default_of: "7299"')
    (park / "cbam.yaml").write_text(text.replace('country: "NO"  ', "country: NO  "))
    with pytest.raises(ParkDataError) as e:
        cbam.communication(load_park(park))
    messages = [str(p) for p in e.value.problems]
    assert any("precursors[0].country" in m and "quote it" in m for m in messages)
    assert any("precursors[1].row" in m and "row 14 is al-extrusion bg:freight-road" in m for m in messages)
    assert any("precursors[0].cn_code" in m and "no default value for CN 7299" in m for m in messages)
    (park / "cbam.yaml").write_text("format: &f footprint-cbam/1\nverifier: *f\n")
    with pytest.raises(ParkDataError, match="without anchors and aliases"):
        cbam.communication(load_park(park))
    (park / "cbam.yaml").unlink()
    with pytest.raises(ParkDataError, match="cbam.yaml: missing"):
        cbam.communication(load_park(park))


def test_cbam_command_writes_the_workbook_and_json(tmp_path):
    from typer.testing import CliRunner

    from footprint.cli.main import app

    result = CliRunner().invoke(app, ["cbam", str(DEMO), "--facility", "fastener-plant",
                                      "--out", str(tmp_path / "c.xlsx"), "--json", str(tmp_path / "c.json")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "c.xlsx").is_file()  # one installation: the file named, not <stem>_<id>
    import json

    goods = json.loads((tmp_path / "c.json").read_text())["goods"]
    assert [g["product_id"] for g in goods] == ["hex-bolt-hdg", "hex-nut-hdg", "flat-washer-hdg"]
    assert goods[0]["see_direct"] == pytest.approx(FAS_DIR)
    result = CliRunner().invoke(app, ["cbam", str(DEMO), "--facility", "nope", "--out", str(tmp_path / "d.xlsx")])
    assert result.exit_code == 2 and "nope" in result.output
    assert not (tmp_path / "d.xlsx").exists()
