"""Footprints of small parks against values worked out by hand from their rows (DESIGN §3)."""

from __future__ import annotations

import json

import pytest
from parks import write_park

from footprint.park.loading import load_park

GWP = {  # IPCC AR6 GWP100 per kg, and the part each alias falls in (DESIGN §2)
    "CO2": (1.0, "fossil"), "CH4": (29.8, "fossil"), "N2O": (273.0, "fossil"), "SF6": (25200.0, "fossil"),
    "NF3": (17400.0, "fossil"), "HFC-134a": (1530.0, "fossil"), "HFC-32": (771.0, "fossil"),
    "HFC-125": (3740.0, "fossil"), "CH4-biogenic": (27.0, "biogenic"), "CO2-biogenic": (0.0, "biogenic"),
    "CO2-luc": (1.0, "luc"), "CH4-luc": (29.8, "luc"),
}
REL = 1e-6  # Brightway stores amounts as float32


def compute(folder):
    from footprint.engine.calculation import compute_park

    return compute_park(load_park(folder))


def approx(x):
    return pytest.approx(x, rel=REL, abs=1e-9)


def test_single_product(tmp_path, project):
    folder = write_park(
        tmp_path,
        facilities=[{"facility_id": "plant"}],
        outputs=[{"product_id": "widget", "facility_id": "plant", "unit": "kg", "amount": 2000}],
        inputs=[{"facility_id": "plant", "ref": "factor:steel", "amount": 2.5, "unit": "t", "data_type": "primary"},
                {"facility_id": "plant", "ref": "factor:power", "amount": 3, "unit": "MWh"}],
        emissions=[{"facility_id": "plant", "flow": "CH4", "amount": 4, "kind": "combustion"},
                   {"facility_id": "plant", "flow": "CO2-luc", "amount": 500, "unit": "g"}],
        factors=[{"code": "steel", "unit": "kg", "fossil": 1.9, "biogenic": 0.02, "luc": 0.01},
                 {"code": "power", "unit": "kWh", "fossil": 0.6, "category": "electricity"}],
    )
    p = compute(folder).product("widget")
    fossil = (2500 * 1.9 + 3000 * 0.6 + 4 * 29.8) / 2000
    biogenic = 2500 * 0.02 / 2000
    luc = (2500 * 0.01 + 0.5) / 2000
    assert (p.fossil, p.biogenic, p.luc) == (approx(fossil), approx(biogenic), approx(luc))
    assert p.total == approx(fossil + biogenic + luc)
    # primary: the direct emissions (DESIGN §3 v2 (a)); the steel row's activity data is measured but its
    # factor is a database value (factor data_type secondary), so it is secondary, as is power
    assert p.primary_data_share == approx((4 * 29.8 + 0.5) / (2000 * (fossil + biogenic + luc)))
    cats = {c.key: c.total for c in p.contributions_by_category}
    assert cats["electricity"] == approx(3000 * 0.6 / 2000)
    assert cats["materials"] == approx(2500 * 1.93 / 2000)
    assert cats["direct emissions"] == approx((4 * 29.8 + 0.5) / 2000)
    rows = {c.key: c for c in p.contributions_by_input}
    assert rows["inputs.csv:2"].total == approx(2500 * 1.93 / 2000)
    assert rows["inputs.csv:2"].amount == approx(1.25) and rows["inputs.csv:2"].unit == "kg"
    assert rows["emissions.csv:3"].luc == approx(0.5 / 2000)
    assert sum(c.total for c in p.contributions_by_input) == approx(p.total)


def test_two_product_loop(tmp_path, project):
    """Steam uses power and power uses steam: h_s = (a + x·h_p), h_p = (b + y·h_s), solved by hand."""
    folder = write_park(
        tmp_path,
        facilities=[{"facility_id": "heat-plant"}, {"facility_id": "pv-plant"}],
        outputs=[{"product_id": "steam", "facility_id": "heat-plant", "unit": "GJ", "amount": 1000},
                 {"product_id": "power", "facility_id": "pv-plant", "unit": "kWh", "amount": 50000}],
        inputs=[{"facility_id": "heat-plant", "ref": "power", "amount": 20, "unit": "MWh"},
                {"facility_id": "heat-plant", "ref": "factor:gas", "amount": 28000, "unit": "m3"},
                {"facility_id": "pv-plant", "ref": "steam", "amount": 100, "unit": "GJ"},
                {"facility_id": "pv-plant", "ref": "factor:module", "amount": 50000, "unit": "kWh"}],
        factors=[{"code": "gas", "unit": "m3", "fossil": 2.16}, {"code": "module", "unit": "kWh", "fossil": 0.04}],
    )
    a, x = 28000 * 2.16 / 1000, 20000 / 1000  # steam: direct kg CO2e/GJ, kWh of power per GJ
    b, y = 0.04, 100 / 50000  # power: direct kg CO2e/kWh, GJ of steam per kWh
    h_s = (a + x * b) / (1 - x * y)
    h_p = b + y * h_s
    r = compute(folder)
    assert r.product("steam").fossil == approx(h_s)
    assert r.product("power").fossil == approx(h_p)
    assert r.product("steam").biogenic == 0 and r.product("power").luc == 0


@pytest.mark.parametrize("allocation, column, values, weights", [
    ("mass", "mass_kg", (1.0, 0.5), (800 * 1.0, 400 * 0.5)),
    ("economic", "price", (30.0, 5.0), (800 * 30.0, 400 * 5.0)),
    ("physical:energy_mj", "energy_mj", (12.0, 40.0), (800 * 12.0, 400 * 40.0)),
])
def test_allocation(tmp_path, project, allocation, column, values, weights):
    folder = write_park(
        tmp_path,
        facilities=[{"facility_id": "refinery", "allocation": allocation}],
        # pieces: a kg output would imply mass_kg 1 (format 2 rule), and mass allocation needs two masses
        outputs=[{"product_id": "main", "facility_id": "refinery", "unit": "piece", "amount": 800,
                  column: values[0]},
                 {"product_id": "side", "facility_id": "refinery", "unit": "piece", "amount": 400,
                  column: values[1]}],
        inputs=[{"facility_id": "refinery", "ref": "factor:feed", "amount": 1500, "unit": "kg"}],
        emissions=[{"facility_id": "refinery", "flow": "N2O", "amount": 0.2}],
        factors=[{"code": "feed", "unit": "kg", "fossil": 0.8}],
    )
    total = 1500 * 0.8 + 0.2 * 273
    share = weights[0] / sum(weights)
    r = compute(folder)
    assert r.product("main").allocation.share == approx(share)
    assert r.product("main").allocation.basis == allocation
    assert r.product("main").fossil == approx(total * share / 800)
    assert r.product("side").fossil == approx(total * (1 - share) / 400)


def test_transport(tmp_path, project):
    """tkm = mass (t) × distance; mass from the input's unit or from mass_kg of the park product."""
    folder = write_park(
        tmp_path,
        facilities=[{"facility_id": "casting"}, {"facility_id": "assembly"}],
        outputs=[{"product_id": "housing", "facility_id": "casting", "unit": "piece", "amount": 1000, "mass_kg": 2.5},
                 {"product_id": "pump", "facility_id": "assembly", "unit": "piece", "amount": 500}],
        inputs=[{"facility_id": "casting", "ref": "factor:alu", "amount": 3, "unit": "t",
                 "transport_ref": "factor:truck", "distance_km": 200},
                {"facility_id": "assembly", "ref": "housing", "amount": 600, "unit": "piece",
                 "transport_ref": "factor:truck", "distance_km": 12}],
        factors=[{"code": "alu", "unit": "kg", "fossil": 10.0}, {"code": "truck", "unit": "tkm", "fossil": 0.1}],
    )
    housing = (3000 * 10.0 + 3 * 200 * 0.1) / 1000
    pump = (600 * housing + 600 * 2.5 / 1000 * 12 * 0.1) / 500
    r = compute(folder)
    assert r.product("housing").fossil == approx(housing)
    assert r.product("pump").fossil == approx(pump)
    cats = {c.key: c.total for c in r.product("pump").contributions_by_category}
    assert cats["transport"] == approx(600 * 2.5 / 1000 * 12 * 0.1 / 500)


@pytest.mark.parametrize("alias", sorted(GWP))
def test_flow_alias(tmp_path, project, alias):
    folder = write_park(
        tmp_path,
        facilities=[{"facility_id": "site"}],
        outputs=[{"product_id": "good", "facility_id": "site", "unit": "kg", "amount": 10}],
        emissions=[{"facility_id": "site", "flow": alias, "amount": 2}],
    )
    factor, part = GWP[alias]
    p = compute(folder).product("good")
    expected = {"fossil": 0.0, "biogenic": 0.0, "luc": 0.0}
    expected[part] = 2 * factor / 10
    assert (p.fossil, p.biogenic, p.luc) == (approx(expected["fossil"]), approx(expected["biogenic"]),
                                             approx(expected["luc"]))


def test_primary_share_through_chain(tmp_path, project):
    """A's share carries into B in proportion to what B takes from A (DESIGN §3)."""
    folder = write_park(
        tmp_path,
        facilities=[{"facility_id": "a"}, {"facility_id": "b"}],
        outputs=[{"product_id": "pa", "facility_id": "a", "unit": "kg", "amount": 100},
                 {"product_id": "pb", "facility_id": "b", "unit": "kg", "amount": 50}],
        inputs=[{"facility_id": "a", "ref": "factor:x", "amount": 100, "unit": "kg", "data_type": "primary"},
                {"facility_id": "a", "ref": "factor:x", "amount": 300, "unit": "kg", "data_type": "secondary"},
                {"facility_id": "b", "ref": "pa", "amount": 50, "unit": "kg", "data_type": "secondary"},
                {"facility_id": "b", "ref": "factor:x", "amount": 100, "unit": "kg", "data_type": "secondary"}],
        emissions=[{"facility_id": "b", "flow": "CO2", "amount": 100}],
        # format 2: x is a supplier-specific PCF, so its measured row is primary (DESIGN §3 v2 (d))
        factors=[{"code": "x", "unit": "kg", "fossil": 1.0, "data_type": "primary"}],
        park={"format": "footprint-park/2"},
    )
    r = compute(folder)
    assert r.product("pa").primary_data_share == approx(100 / 400)
    pa_total = 400 / 100
    pb_total = (50 * pa_total + 100 + 100) / 50
    pb_primary = (50 * pa_total * 0.25 + 100) / 50
    assert r.product("pb").fossil == approx(pb_total)
    assert r.product("pb").primary_data_share == approx(pb_primary / pb_total)


def test_results_json_shape(tmp_path, project):
    folder = write_park(
        tmp_path,
        facilities=[{"facility_id": "plant"}],
        outputs=[{"product_id": "widget", "facility_id": "plant", "unit": "kg", "amount": 4}],
        inputs=[{"facility_id": "plant", "ref": "factor:steel", "amount": 4, "unit": "kg"}],
        factors=[{"code": "steel", "unit": "kg", "fossil": 1.5, "luc": 0.25}],
        park={"period": {"start": "2024-07-01", "end": "2025-06-30"}},
    )
    doc = json.loads(compute(folder).model_dump_json())
    assert doc["format"] == "footprint-results/1"
    assert doc["park"].startswith("test-park-")
    assert doc["period"] == {"start": "2024-07-01", "end": "2025-06-30"}
    assert doc["method"] == "IPCC 2021 GWP100"
    (p,) = doc["products"]
    assert {k: p[k] for k in ("product_id", "unit")} == {"product_id": "widget", "unit": "kg"}
    assert p["total"] == approx(1.75) and p["fossil"] == approx(1.5) and p["luc"] == approx(0.25)
    assert p["biogenic"] == 0 and p["primary_data_share"] == 0


def test_rerun_replaces_database_and_failure_keeps_previous(tmp_path, project, monkeypatch):
    import bw2data as bd

    def compute(folder):
        from footprint.engine.calculation import compute_park

        return compute_park(load_park(folder), write_database=True)

    rows = dict(facilities=[{"facility_id": "plant"}],
                outputs=[{"product_id": "widget", "facility_id": "plant", "unit": "kg", "amount": 10}],
                factors=[{"code": "x", "unit": "kg", "fossil": 1.0}], park={"id": "rerun-park"})
    first = compute(write_park(tmp_path / "v1", inputs=[{"facility_id": "plant", "ref": "factor:x", "amount": 10,
                                                          "unit": "kg"}], **rows))
    assert first.product("widget").fossil == approx(1.0)
    second = compute(write_park(tmp_path / "v2", inputs=[{"facility_id": "plant", "ref": "factor:x", "amount": 30,
                                                           "unit": "kg"}], **rows))
    assert second.product("widget").fossil == approx(3.0)
    assert len(bd.Database("park:rerun-park")) == 2  # widget + factor, nothing left over from the first run

    from bw2data.backends import ExchangeDataset as ED

    original = ED.insert_many

    def broken_once(*args, **kwargs):  # the new write fails; the restore after it works
        monkeypatch.setattr(ED, "insert_many", original)
        raise OSError("disk full")

    monkeypatch.setattr(ED, "insert_many", broken_once)
    with pytest.raises(OSError):
        compute(write_park(tmp_path / "v3", inputs=[{"facility_id": "plant", "ref": "factor:x", "amount": 50,
                                                     "unit": "kg"}], **rows))
    monkeypatch.undo()
    node = bd.get_node(database="park:rerun-park", code="widget")
    amounts = [e["amount"] for e in node.technosphere()]
    assert amounts == [pytest.approx(3.0)]


def test_nothing_written_outside_footprint_home(tmp_path):
    """With FOOTPRINT_HOME set, a full run leaves the user's home directory untouched."""
    import os
    import subprocess
    import sys

    user_home, data_home = tmp_path / "user-home", tmp_path / "data"
    user_home.mkdir()
    folder = write_park(
        tmp_path / "park",
        facilities=[{"facility_id": "plant"}],
        outputs=[{"product_id": "widget", "facility_id": "plant", "unit": "kg", "amount": 1}],
        inputs=[{"facility_id": "plant", "ref": "factor:x", "amount": 1, "unit": "kg"}],
        factors=[{"code": "x", "unit": "kg", "fossil": 1.0}],
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "BRIGHTWAY"))}
    env.update(HOME=str(user_home), FOOTPRINT_HOME=str(data_home))
    run = subprocess.run([sys.executable, "-m", "footprint.cli.main", "calc", str(folder)], env=env,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert list(user_home.iterdir()) == []
    assert (data_home / "brightway").is_dir()


def test_background_footprints_are_cached_and_reused_exactly(tmp_path, project):
    """The second run takes the background's footprints from the data directory, bit for bit."""
    import shutil

    from footprint.engine import background_footprints, calculation, home

    folder = write_park(
        tmp_path,
        facilities=[{"facility_id": "plant"}],
        outputs=[{"product_id": "widget", "facility_id": "plant", "unit": "kg", "amount": 10}],
        inputs=[{"facility_id": "plant", "ref": "bg:electricity-cn-east", "amount": 30, "unit": "kWh"}],
    )
    shutil.rmtree(home.resolve() / "cache", ignore_errors=True)
    background_footprints._MEMO.clear()  # as in a new process
    fresh = compute(folder)
    assert len(list((home.resolve() / "cache").glob("background-*.npz"))) == 1
    background_footprints._MEMO.clear()
    calculation._KNOWN.items.clear()
    cached = compute(folder)
    assert cached is not fresh and cached.model_dump() == fresh.model_dump()
    assert fresh.product("widget").fossil == approx(30 * 0.5617 / 10)
