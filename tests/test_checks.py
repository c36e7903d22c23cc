"""Each review check fires on a park made to trigger it, and names the rows concerned."""

from __future__ import annotations

import pytest
from parks import write_park

from footprint.engine.background import factor_totals
from footprint.engine.calculation import calculate
from footprint.engine.checks import review
from footprint.engine.inventory import build_foreground, write_foreground
from footprint.park.loading import load_park

BASE = dict(
    facilities=[{"facility_id": "a"}, {"facility_id": "b"}, {"facility_id": "c"}],
    outputs=[{"product_id": "pa", "facility_id": "a", "unit": "kg", "amount": 100},
             {"product_id": "pb", "facility_id": "b", "unit": "kg", "amount": 100},
             {"product_id": "pc", "facility_id": "c", "unit": "kg", "amount": 100}],
    factors=[{"code": "power", "unit": "kWh", "fossil": 0.5, "category": "electricity"},
             {"code": "resin", "unit": "kg", "fossil": 2.0},
             {"code": "truck", "unit": "tkm", "fossil": 0.1}],
)
ENERGY = [{"facility_id": f, "ref": "factor:power", "amount": 100, "unit": "kWh"} for f in "abc"]


def findings(tmp_path, **rows):
    park = write_park(tmp_path, **{**BASE, **rows})
    fg = build_foreground(load_park(park))
    write_foreground(fg)
    return review(fg, calculate(fg), factor_totals())


def of(found, check, severity="warning"):
    return [f for f in found if f.check == check and f.severity == severity]


@pytest.mark.usefixtures("project")
def test_quiet_park_has_no_warnings(tmp_path):
    found = findings(tmp_path, inputs=ENERGY)
    assert [f for f in found if f.severity != "info"] == []


@pytest.mark.usefixtures("project")
def test_product_without_inputs_and_facility_without_energy(tmp_path):
    found = findings(tmp_path, inputs=ENERGY[:2])
    messages = [(f.message, f.rows) for f in of(found, "completeness")]
    assert ("pc has no input and no emission: its footprint is zero", ["outputs.csv:4"]) in messages
    assert any("facility c has output but no energy input" in m and rows == ["facilities.csv:4"]
               for m, rows in messages)


@pytest.mark.usefixtures("project")
def test_material_without_transport_where_others_have_it(tmp_path):
    inputs = ENERGY + [
        {"facility_id": "a", "ref": "factor:resin", "amount": 10, "unit": "kg", "transport_ref": "factor:truck",
         "distance_km": 50},
        {"facility_id": "b", "ref": "factor:resin", "amount": 10, "unit": "kg"},
    ]
    (finding,) = of(findings(tmp_path, inputs=inputs), "completeness")
    assert finding.rows == ["inputs.csv:6", "inputs.csv:5"]
    assert "factor:resin at b has no transport" in finding.message


@pytest.mark.usefixtures("project")
def test_intensity_far_from_park_median(tmp_path):
    inputs = ENERGY + [{"facility_id": "c", "ref": "factor:power", "amount": 5000, "unit": "kWh"}]
    found = of(findings(tmp_path, inputs=inputs), "plausibility")
    # c: 5,100 kWh per 100 kg = 183.6 MJ/kg against 3.6 MJ/kg for a and b → 51×
    assert any(f.product_id == "pc" and "energy intensity (MJ) 183.6 per kg is 51×" in f.message for f in found)
    assert any(f.product_id == "pc" and "emission intensity" in f.message for f in found)


@pytest.mark.usefixtures("project")
def test_factor_outside_background_range(tmp_path):
    factors = BASE["factors"] + [{"code": "alu", "name": "Aluminium ingot from supplier X", "unit": "kg",
                                  "fossil": 45.0}]
    found = of(findings(tmp_path, inputs=ENERGY, factors=factors), "plausibility")
    (finding,) = [f for f in found if "factor alu" in f.message]
    assert finding.rows == ["factors.csv:5"]
    assert "aluminium-primary" in finding.message


@pytest.mark.usefixtures("project")
def test_balance_and_exemptions_are_reported(tmp_path):
    inputs = ENERGY + [{"facility_id": "b", "ref": "pa", "amount": 40, "unit": "kg"}]
    found = findings(tmp_path, inputs=inputs)
    (bal,) = of(found, "balance", "info")
    assert bal.message == "pa: park facilities use 40 of 100 kg produced (40.0%)"
    assert bal.rows == ["outputs.csv:2", "inputs.csv:5"]
    assert of(found, "exemptions", "info")
