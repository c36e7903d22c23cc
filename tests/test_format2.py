"""Park format version 2 (DESIGN §2 "Format version 2"): every new column and table is read, and
every bad value is reported with file, spreadsheet row, column, value and what was expected.
Format-1 parks keep loading and may not use format-2 columns silently.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from parks import write_park

from footprint.park.errors import ParkDataError, Problem
from footprint.park.loading import load_park

V2 = {"format": "footprint-park/2"}

# A small valid format-2 park; the first data row of each table is spreadsheet row 2.
BASE = {
    "facilities": [
        {"facility_id": "mill", "allocation": "economic", "allocation_reason": "billet and scrap differ in use",
         "address": "1 Park Road, Changzhou", "unlocode": "CN CZX", "latitude": 31.8, "longitude": 119.9,
         "installation_id": "CN-INST-0001"},  # 2
        {"facility_id": "pv"},  # 3
    ],
    "outputs": [
        {"product_id": "billet", "facility_id": "mill", "unit": "t", "amount": 100, "price": 20000,
         "fossil_carbon_kg": 0.5},  # 2
        {"product_id": "offcut", "facility_id": "mill", "unit": "t", "amount": 10, "price": 12000},  # 3
        {"product_id": "scrap", "facility_id": "mill", "unit": "kg", "amount": 5000, "kind": "waste"},  # 4
        {"product_id": "power", "facility_id": "pv", "unit": "kWh", "amount": 1_000_000},  # 5
    ],
    "inputs": [
        {"facility_id": "mill", "ref": "power", "amount": 400_000, "unit": "kWh", "data_type": "primary",
         "category": "electricity"},  # 2
        {"facility_id": "mill", "ref": "factor:ore", "amount": 200, "unit": "t", "transport_ref": "factor:truck",
         "distance_km": 50, "transport_data_type": "primary"},  # 3
        {"facility_id": "pv", "ref": "factor:panel", "amount": 1_000_000, "unit": "kWh"},  # 4
    ],
    "emissions": [{"facility_id": "mill", "flow": "CO2-biogenic", "amount": 10}],  # 2
    "factors": [
        {"code": "ore", "unit": "kg", "fossil": 1.2, "boundary": "cradle-to-gate", "gwp": "AR6",
         "data_type": "primary", "pds": 0.4, "ter": 2, "ger": 1, "tir": 3},  # 2
        {"code": "truck", "unit": "tkm", "fossil": 0.1, "category": "transport", "gwp": "AR5"},  # 3
        {"code": "panel", "unit": "kWh", "fossil": 0.04, "boundary": "gate-to-gate"},  # 4
    ],
    "exclusions": [{"facility_id": "mill", "item": "lubricants", "estimate": 120, "basis": "2 t x 0.06",
                    "source": "invoices 2025"}],  # 2
    "electricity": [{"facility_id": "pv", "instrument": "GEC", "technology": "pv", "mwh": 500, "status": "sold",
                     "vintage_start": "2025-01-01", "vintage_end": "2025-12-31", "certificate_ids": "GEC-1..500",
                     "source": "GEC platform statement"}],  # 2
}


def make(folder: Path, edit: Callable[[dict], None] | None = None, park: dict | None = None) -> Path:
    rows = copy.deepcopy(BASE)
    if edit:
        edit(rows)
    return write_park(folder, park={**V2, **(park or {})}, **rows)


def put(table: str, index: int, **cells) -> Callable[[dict], None]:
    return lambda rows: rows[table][index].update(cells)


def append(table: str, **cells) -> Callable[[dict], None]:
    return lambda rows: rows[table].append(cells)


def test_valid_format_2_park_reads_every_new_column(tmp_path):
    park = load_park(make(tmp_path))
    assert park.park.version == 2 and park.park.exemption_limit_percent == 5
    assert park.park.electricity_method == "market-based" and park.park.grid_factor is None
    mill = park.facilities[0]
    assert (mill.allocation_reason, mill.unlocode, mill.latitude, mill.longitude, mill.installation_id) == (
        "billet and scrap differ in use", "CN CZX", 31.8, 119.9, "CN-INST-0001")
    billet, offcut, scrap, power = park.outputs
    assert billet.mass_kg == 1000 and scrap.mass_kg == 1 and power.mass_kg is None  # implied by the unit
    assert (billet.kind, scrap.kind) == ("product", "waste")
    assert (billet.fossil_carbon_kg, billet.biogenic_carbon_kg) == (0.5, None)  # empty = not assessed
    assert park.inputs[0].category == "electricity" and park.inputs[1].transport_data_type == "primary"
    assert park.inputs[2].transport_data_type == "secondary"
    ore, truck, panel = park.factors
    assert (ore.boundary, ore.gwp, ore.data_type, ore.pds, ore.ter, ore.ger, ore.tir) == (
        "cradle-to-gate", "AR6", "primary", 0.4, 2, 1, 3)
    assert (truck.boundary, truck.gwp, truck.data_type, truck.pds, truck.ter) == (
        "cradle-to-gate", "AR5", "secondary", None, None)
    assert (panel.boundary, panel.gwp) == ("gate-to-gate", "unknown")
    (ex,) = park.exclusions
    assert (ex.facility_id, ex.item, ex.estimate, ex.origin.label) == ("mill", "lubricants", 120, "exclusions.csv:2")
    (gec,) = park.electricity
    assert (gec.instrument, gec.technology, gec.mwh, gec.status, gec.vintage_start, gec.vintage_end) == (
        "GEC", "pv", 500, "sold", date(2025, 1, 1), date(2025, 12, 31))


def test_park_settings_are_read(tmp_path):
    park = load_park(make(tmp_path, park={"exemption_limit_percent": 3, "electricity_method": "location-based",
                                          "grid_factor": "bg:grid-cn-2023",
                                          "residual_mix_factor": "bg:open-factors:residual-mix-cn-2023"}))
    assert (park.park.exemption_limit_percent, park.park.electricity_method) == (3, "location-based")
    assert (park.park.grid_factor, park.park.residual_mix_factor) == (
        "bg:grid-cn-2023", "bg:open-factors:residual-mix-cn-2023")


def test_mass_unit_implies_mass_for_mass_allocation(tmp_path):
    """A mass-allocated facility whose outputs are in kg or t needs no mass_kg."""
    def edit(rows):
        rows["facilities"][0]["allocation"] = "mass"
    park = load_park(make(tmp_path, edit))
    assert [o.mass_kg for o in park.outputs[:2]] == [1000, 1000]


def test_waste_output_needs_no_allocation(tmp_path):
    """One product and one waste output: nothing to allocate."""
    def edit(rows):
        rows["outputs"][1]["kind"] = "waste"
        rows["facilities"][0].update(allocation="", allocation_reason="")
    park = load_park(make(tmp_path, edit))
    assert [o.kind for o in park.outputs] == ["product", "waste", "waste", "product"]


@dataclass
class Case:
    name: str
    expect: tuple[str, int | None, str | None, object, str]
    edit: Callable[[dict], None] | None = None
    park: dict | None = None
    v1: bool = False  # write the park as format 1


CASES = [
    # park.yaml
    Case("limit below 0", ("park.yaml", None, "exemption_limit_percent", -1, "greater than or equal to 0"),
         park={"exemption_limit_percent": -1}),
    Case("unknown method", ("park.yaml", None, "electricity_method", "hourly", "'market-based' or 'location-based'"),
         park={"electricity_method": "hourly"}),
    Case("grid factor not a ref", ("park.yaml", None, "grid_factor", "0.62", "expected factor:<code>, bg:<code>"),
         park={"grid_factor": "0.62"}),
    Case("v2 key in v1", ("park.yaml", None, "electricity_method", "location-based",
                          "belongs to format footprint-park/2"),
         park={"format": "footprint-park/1", "electricity_method": "location-based"}),
    # facilities
    Case("latitude", ("facilities.csv", 2, "latitude", "91", "between -90 and 90"), put("facilities", 0, latitude=91)),
    Case("longitude", ("facilities.csv", 3, "longitude", "-181", "between -180 and 180"),
         put("facilities", 1, longitude=-181)),
    Case("unlocode", ("facilities.csv", 2, "unlocode", "Changzhou", "expected a UN/LOCODE"),
         put("facilities", 0, unlocode="Changzhou")),
    Case("economic without reason", ("facilities.csv", 2, "allocation_reason", None, "economic allocation needs a "
                                     "reason"), put("facilities", 0, allocation_reason="")),
    # outputs
    Case("kind", ("outputs.csv", 4, "kind", "scrap", "expected one of product, waste"),
         put("outputs", 2, kind="scrap")),
    Case("carbon content negative", ("outputs.csv", 2, "fossil_carbon_kg", "-0.1", "expected a number ≥ 0"),
         put("outputs", 0, fossil_carbon_kg=-0.1)),
    Case("biogenic carbon not a number", ("outputs.csv", 3, "biogenic_carbon_kg", "n/a", "expected a number"),
         put("outputs", 1, biogenic_carbon_kg="n/a")),
    Case("mass disagrees with unit", ("outputs.csv", 2, "mass_kg", "900", "one t is 1000 kg"),
         put("outputs", 0, mass_kg=900)),
    Case("only waste", ("facilities.csv", 3, "facility_id", "pv", "no output in outputs.csv of kind product"),
         put("outputs", 3, kind="waste")),
    # inputs
    Case("input category", ("inputs.csv", 3, "category", "ore", "expected one of materials, packaging"),
         put("inputs", 1, category="ore")),
    Case("transport data type", ("inputs.csv", 3, "transport_data_type", "measured", "expected one of primary"),
         put("inputs", 1, transport_data_type="measured")),
    Case("transport data type without leg", ("inputs.csv", 4, "transport_data_type", "primary", "needs a transport "
                                             "leg"), put("inputs", 2, transport_data_type="primary")),
    # factors
    Case("boundary", ("factors.csv", 2, "boundary", "cradle-to-grave", "expected one of cradle-to-gate, "
                      "gate-to-gate, combustion-only, direct-only"), put("factors", 0, boundary="cradle-to-grave")),
    Case("gwp", ("factors.csv", 3, "gwp", "AR7", "expected one of AR6, AR5, AR4, unknown"),
         put("factors", 1, gwp="AR7")),
    Case("factor data type", ("factors.csv", 4, "data_type", "specific", "expected one of primary, secondary"),
         put("factors", 2, data_type="specific")),
    Case("pds above 1", ("factors.csv", 2, "pds", "40", "fraction 0–1"), put("factors", 0, pds=40)),
    Case("pds of a database factor", ("factors.csv", 3, "pds", "0.5", "supplier-specific PCF"),
         put("factors", 1, pds=0.5)),
    Case("ter", ("factors.csv", 2, "ter", "6", "expected one of 1, 2, 3, 4, 5"), put("factors", 0, ter=6)),
    Case("tir", ("factors.csv", 4, "tir", "0", "expected one of 1, 2, 3, 4, 5"), put("factors", 2, tir=0)),
    # exclusions
    Case("estimate negative", ("exclusions.csv", 2, "estimate", "-5", "expected a number ≥ 0"),
         put("exclusions", 0, estimate=-5)),
    Case("item missing", ("exclusions.csv", 3, "item", None, "a value is required"),
         append("exclusions", facility_id="pv", item="", estimate=1, basis="b", source="s")),
    Case("exclusion of unknown facility", ("exclusions.csv", 2, "facility_id", "smelter", "unknown facility"),
         put("exclusions", 0, facility_id="smelter")),
    # electricity
    Case("instrument", ("electricity.csv", 2, "instrument", "REC", "expected one of GEC, I-REC, PPA, direct-line"),
         put("electricity", 0, instrument="REC")),
    Case("status", ("electricity.csv", 2, "status", "kept", "expected one of retired, sold"),
         put("electricity", 0, status="kept")),
    Case("mwh zero", ("electricity.csv", 2, "mwh", "0", "expected a number > 0"), put("electricity", 0, mwh=0)),
    Case("vintage not a date", ("electricity.csv", 2, "vintage_start", "Q1 2025", "expected a date YYYY-MM-DD"),
         put("electricity", 0, vintage_start="Q1 2025")),
    Case("vintage reversed", ("electricity.csv", 2, "vintage_end", "2024-12-31", "ends before it starts"),
         put("electricity", 0, vintage_end="2024-12-31")),
    Case("vintage outside period", ("electricity.csv", 2, "vintage_start", "2023-01-01", "outside the reporting "
                                    "period 2025-01-01 to 2025-12-31"),
         put("electricity", 0, vintage_start="2023-01-01", vintage_end="2023-12-31")),
    Case("certificates of unknown facility", ("electricity.csv", 2, "facility_id", "wind", "unknown facility"),
         put("electricity", 0, facility_id="wind")),
    Case("sold plus in-park above generation", ("electricity.csv", 2, "mwh", 700.0, "sold the attributes of 700 MWh "
                                                "and supplied 400 MWh in the park, but generated 1000 MWh"),
         put("electricity", 0, mwh=700)),
    # format-2 columns and tables in a format-1 park
    Case("v2 column in v1", ("facilities.csv", 1, "allocation_reason", "allocation_reason", "column of format "
                             "footprint-park/2"), v1=True),
    Case("v2 table in v1", ("exclusions.csv", None, None, None, "table of format footprint-park/2"), v1=True),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_each_problem_is_located(tmp_path, case):
    park = {"format": "footprint-park/1"} if case.v1 else case.park
    with pytest.raises(ParkDataError) as info:
        load_park(make(tmp_path, case.edit, park))
    file, row, column, value, fragment = case.expect
    found = [p for p in info.value.problems if (p.file, p.row, p.column, p.value) == (file, row, column, value)
             and fragment in p.expected]
    assert found, "\n".join(repr(p) for p in info.value.problems)
    assert isinstance(found[0], Problem)
