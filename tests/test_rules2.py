"""Rules of format 2 (DESIGN §3 "Rules of version 2") on small parks whose every figure is computed
here by hand or with numpy from the same rows: exemptions through a loop, location- and
market-based electricity, biogenic CO2 and uptake, each primary-data-share case, data quality
through park supply, GWP sets, boundary and exemption refusals, waste outputs, mass implied by
the unit, allocation disclosure and fuel double counting."""

from __future__ import annotations

import numpy as np
import pytest
from parks import write_park
from pytest import approx

from footprint.engine.calculation import compute_park
from footprint.engine.checks import refusals
from footprint.park.errors import ParkDataError
from footprint.park.loading import load_park

V2 = {"format": "footprint-park/2"}
# open-factors rows (inventories/background/open-factors.csv), kg CO2e per kWh
GRID_LC = 0.6205  # grid-cn-2023, MEE/NBS/NEA 2023 life-cycle national factor
RESIDUAL = 0.6096  # residual-mix-cn-2023 (kg CO2, characterised 1)
PV_LC = 0.0545  # electricity-pv-cn-2023
WIND_LC = 0.0336  # electricity-wind-cn-2023
C_TO_CO2 = 44 / 12

pytestmark = pytest.mark.usefixtures("project")


def compute(folder):
    return compute_park(load_park(folder))


def test_exemption_through_a_loop(tmp_path):
    """An exclusion of facility a reaches b, and a's own product again through b (a loop)."""
    folder = write_park(
        tmp_path, park=V2,
        facilities=[{"facility_id": "a"}, {"facility_id": "b"}],
        outputs=[{"product_id": "pa", "facility_id": "a", "unit": "kg", "amount": 1000},
                 {"product_id": "pb", "facility_id": "b", "unit": "kg", "amount": 500}],
        inputs=[{"facility_id": "a", "ref": "factor:x", "amount": 2000, "unit": "kg"},
                {"facility_id": "a", "ref": "pb", "amount": 50, "unit": "kg"},
                {"facility_id": "b", "ref": "pa", "amount": 300, "unit": "kg"},
                {"facility_id": "b", "ref": "factor:x", "amount": 100, "unit": "kg"}],
        factors=[{"code": "x", "unit": "kg", "fossil": 1.5}],
        exclusions=[{"facility_id": "a", "item": "lubricants", "estimate": 80, "basis": "2 drums", "source": "est"},
                    {"facility_id": "b", "item": "glue", "estimate": 10, "basis": "mass", "source": "est"}],
    )
    r = compute(folder)
    # per unit: x_a = 80/1000 + 50/1000 x_b ; x_b = 10/500 + 300/500 x_a (and the same for footprints)
    M = np.array([[1, -50 / 1000], [-300 / 500, 1]])
    exempted = np.linalg.solve(M, [80 / 1000, 10 / 500])
    total = np.linalg.solve(M, [2000 * 1.5 / 1000, 100 * 1.5 / 500])
    for n, pid in enumerate(("pa", "pb")):
        p = r.product(pid)
        assert p.total == approx(total[n]) and p.exempted == approx(exempted[n])
        assert p.exempted_percent == approx(100 * exempted[n] / (total[n] + exempted[n]))
        assert p.total == approx(p.fossil)  # exempted emissions are not part of the footprint
    # items, each through the loop: lubricants alone
    lub = np.linalg.solve(M, [80 / 1000, 0])
    items = {i.item: i.per_unit for i in r.product("pb").exempted_items}
    assert items == {"lubricants": approx(lub[1]), "glue": approx(exempted[1] - lub[1])}
    park = load_park(folder)
    assert refusals(park, r, ["pa", "pb"]) == []  # below the default limit of 5 %
    assert max(r.product(p).exempted_percent for p in ("pa", "pb")) < 5


def test_exemption_limit_refuses_naming_the_items(tmp_path):
    folder = write_park(
        tmp_path, park={**V2, "exemption_limit_percent": 3},
        facilities=[{"facility_id": "a"}],
        outputs=[{"product_id": "pa", "facility_id": "a", "unit": "kg", "amount": 100}],
        inputs=[{"facility_id": "a", "ref": "factor:x", "amount": 100, "unit": "kg"}],
        factors=[{"code": "x", "unit": "kg", "fossil": 1.0}],
        exclusions=[{"facility_id": "a", "item": "BMS electronics", "estimate": 4, "basis": "LCA study",
                     "source": "lit"}],
    )
    park = load_park(folder)
    r = compute_park(park)
    assert r.product("pa").exempted_percent == approx(100 * 0.04 / 1.04)  # 3.85 % > 3 %
    (problem,) = refusals(park, r, ["pa"])
    assert (problem.file, problem.row, problem.column) == ("exclusions.csv", 2, "estimate")
    assert "BMS electronics" in problem.expected and "3.85 %" in problem.expected


def electricity_park(tmp_path, method: str, retired: float = 300, sold: float = 200):
    """mill: 1000 MWh from the grid (300 MWh covered by retired PV GECs) and 400 MWh from the park PV
    plant, which generated 1000 MWh and sold the attributes of 200 MWh (of its exported power)."""
    electricity = [{"facility_id": "pv", "instrument": "GEC", "technology": "pv", "mwh": sold, "status": "sold",
                    "vintage_start": "2025-01-01", "vintage_end": "2025-12-31", "source": "GEC statement"}]
    if retired:
        electricity.append({"facility_id": "mill", "instrument": "GEC", "technology": "pv", "mwh": retired,
                            "status": "retired", "vintage_start": "2025-01-01", "vintage_end": "2025-12-31",
                            "certificate_ids": "GEC-A..", "source": "GEC cancellation record"})
    return write_park(
        tmp_path, park={**V2, "electricity_method": method},
        facilities=[{"facility_id": "mill"}, {"facility_id": "pv"}],
        outputs=[{"product_id": "bar", "facility_id": "mill", "unit": "t", "amount": 2000},
                 {"product_id": "power", "facility_id": "pv", "unit": "kWh", "amount": 1_000_000}],
        inputs=[{"facility_id": "mill", "ref": "bg:grid-cn-2023", "amount": 600, "unit": "MWh",
                 "data_type": "primary"},
                {"facility_id": "mill", "ref": "bg:grid-cn-2023", "amount": 400_000, "unit": "kWh",
                 "data_type": "primary"},
                {"facility_id": "mill", "ref": "power", "amount": 400_000, "unit": "kWh", "data_type": "primary"},
                {"facility_id": "mill", "ref": "factor:ore", "amount": 3000, "unit": "t"},
                {"facility_id": "pv", "ref": "factor:panel", "amount": 1_000_000, "unit": "kWh"}],
        factors=[{"code": "ore", "unit": "kg", "fossil": 0.5},
                 {"code": "panel", "unit": "kWh", "fossil": 0.04, "gwp": "AR6", "category": "material"}],
        electricity=electricity,
    )


@pytest.mark.parametrize("method", ["market-based", "location-based"])
def test_location_and_market_based_electricity(tmp_path, method):
    r = compute(electricity_park(tmp_path, method))
    power = 0.04  # in-park PV at its own footprint in both methods (the plant kept these attributes)
    rest = 400_000 * power + 3_000_000 * 0.5
    location = (1_000_000 * GRID_LC + rest) / 2000
    market = (300_000 * PV_LC + 700_000 * RESIDUAL + rest) / 2000
    bar = r.product("bar")
    assert bar.electricity.method == method
    assert (bar.electricity.location_based, bar.electricity.market_based) == (approx(location), approx(market))
    assert bar.total == approx(location if method == "location-based" else market)
    assert r.product("power").total == approx(power) and r.product("power").electricity.location_based == \
        approx(power)


def test_market_based_without_certificates_is_all_residual(tmp_path):
    r = compute(electricity_park(tmp_path, "market-based", retired=0))
    assert r.product("bar").electricity.market_based == approx(
        (1_000_000 * RESIDUAL + 400_000 * 0.04 + 3_000_000 * 0.5) / 2000)


def test_certificates_against_consumption_and_generation(tmp_path):
    """Retiring more than the grid supplied, and selling more than was generated beside the in-park
    supply, are located errors."""
    with pytest.raises(ParkDataError) as info:
        compute(electricity_park(tmp_path / "a", "market-based", retired=1200))
    (p,) = info.value.problems
    assert (p.file, p.row, p.column, p.value) == ("electricity.csv", 3, "mwh", 1200)
    assert "retired certificates for 1200 MWh but used 1000 MWh of grid electricity" in p.expected
    with pytest.raises(ParkDataError) as info:
        load_park(electricity_park(tmp_path / "b", "market-based", sold=700))
    (p,) = info.value.problems
    assert (p.file, p.row, p.column) == ("electricity.csv", 2, "mwh")
    assert "sold the attributes of 700 MWh and supplied 400 MWh in the park, but generated 1000 MWh" in p.expected


def test_unknown_certificate_technology_is_located(tmp_path):
    folder = electricity_park(tmp_path, "market-based")
    text = (folder / "electricity.csv").read_text().replace("GEC,pv,300", "GEC,tidal,300")
    (folder / "electricity.csv").write_text(text)
    with pytest.raises(ParkDataError) as info:
        compute(folder)
    (p,) = info.value.problems
    assert (p.file, p.row, p.column, p.value) == ("electricity.csv", 3, "technology", "tidal")


def test_biogenic_co2_uptake_and_carbon_contents(tmp_path):
    folder = write_park(
        tmp_path, park=V2,
        facilities=[{"facility_id": "board"}, {"facility_id": "box"}],
        outputs=[{"product_id": "sheet", "facility_id": "board", "unit": "kg", "amount": 1000,
                  "biogenic_carbon_kg": 0.4, "fossil_carbon_kg": 0.01},
                 {"product_id": "carton", "facility_id": "box", "unit": "piece", "amount": 200, "mass_kg": 0.5}],
        inputs=[{"facility_id": "board", "ref": "factor:pulp", "amount": 1100, "unit": "kg"},
                {"facility_id": "box", "ref": "sheet", "amount": 100, "unit": "kg"}],
        emissions=[{"facility_id": "board", "flow": "CO2-biogenic", "amount": 300},
                   {"facility_id": "board", "flow": "CH4-biogenic", "amount": 2},
                   {"facility_id": "board", "flow": "CO2", "amount": 150}],
        factors=[{"code": "pulp", "unit": "kg", "fossil": 0.3, "biogenic": 0.05}],
    )
    r = compute(folder)
    sheet, carton = r.product("sheet"), r.product("carton")
    fossil = (1100 * 0.3 + 150) / 1000
    biogenic = (1100 * 0.05 + 2 * 27.0) / 1000  # CH4 non-fossil 27.0 (IPCC 2021)
    assert (sheet.fossil, sheet.biogenic, sheet.total) == (approx(fossil), approx(biogenic), approx(fossil + biogenic))
    assert sheet.biogenic_co2 == approx(0.3)  # kept apart, GWP 1 in pcfExcludingBiogenicUptake
    assert sheet.pcf_excluding_biogenic_uptake == approx(fossil + biogenic + 0.3)
    assert sheet.biogenic_uptake == approx(0.4 * C_TO_CO2)
    assert sheet.pcf_including_biogenic_uptake == approx(fossil + biogenic + 0.3 - 0.4 * C_TO_CO2)
    assert (sheet.biogenic_carbon_content, sheet.fossil_carbon_content) == (0.4, 0.01)
    # the carton carries the sheet's biogenic CO2 (0.5 kg of sheet per carton) but declares no carbon content
    assert carton.biogenic_co2 == approx(0.3 * 100 / 200)
    assert carton.total == approx((fossil + biogenic) * 100 / 200)
    assert carton.biogenic_uptake is None and carton.pcf_including_biogenic_uptake is None
    assert carton.biogenic_carbon_content is None


def test_primary_data_share_cases(tmp_path):
    """(a) direct emission, (b) own measured energy, (c) a park product, (d) a supplier PCF with its
    own share, a transport leg with a carrier's factor; database factors are secondary whatever
    their activity data."""
    folder = write_park(
        tmp_path, park=V2,
        facilities=[{"facility_id": "s"}, {"facility_id": "m"}],
        outputs=[{"product_id": "part", "facility_id": "s", "unit": "kg", "amount": 100},
                 {"product_id": "good", "facility_id": "m", "unit": "kg", "amount": 200}],
        inputs=[
            {"facility_id": "s", "ref": "factor:db", "amount": 100, "unit": "kg", "data_type": "primary"},  # 0
            {"facility_id": "s", "ref": "bg:grid-cn-2023", "amount": 500, "unit": "kWh", "data_type": "primary"},  # b
            {"facility_id": "m", "ref": "part", "amount": 50, "unit": "kg", "data_type": "secondary"},  # c
            {"facility_id": "m", "ref": "factor:pcf", "amount": 100, "unit": "kg", "data_type": "primary",
             "transport_ref": "factor:ship", "distance_km": 1000, "transport_data_type": "primary"},  # d + leg
            {"facility_id": "m", "ref": "factor:pcf", "amount": 20, "unit": "kg", "data_type": "secondary",
             "transport_ref": "factor:truck", "distance_km": 100},  # estimated: secondary, leg secondary
        ],
        emissions=[{"facility_id": "s", "flow": "CO2", "amount": 30}, {"facility_id": "m", "flow": "CO2",
                                                                        "amount": 10}],  # a
        factors=[{"code": "db", "unit": "kg", "fossil": 2.0},
                 {"code": "pcf", "unit": "kg", "fossil": 3.0, "data_type": "primary", "pds": 0.4},
                 {"code": "ship", "unit": "tkm", "fossil": 0.02, "category": "transport", "data_type": "primary",
                  "pds": 0.5},
                 {"code": "truck", "unit": "tkm", "fossil": 0.1, "category": "transport"}],
    )
    r = compute(folder)
    part_total = (100 * 2.0 + 500 * RESIDUAL + 30) / 100  # market-based: no certificates, all residual mix
    part_primary = (500 * RESIDUAL + 30) / 100
    assert r.product("part").primary_data_share == approx(part_primary / part_total)
    good_total = (50 * part_total + 120 * 3.0 + 0.1 * 1000 * 0.02 + 0.02 * 100 * 0.1 + 10) / 200
    good_primary = (50 * part_primary + 0.4 * 100 * 3.0 + 0.5 * 0.1 * 1000 * 0.02 + 10) / 200
    assert r.product("good").total == approx(good_total)
    assert r.product("good").primary_data_share == approx(good_primary / good_total)


def test_dqi_through_park_supply_and_gwp_sets(tmp_path):
    folder = write_park(
        tmp_path, park=V2,
        facilities=[{"facility_id": "s"}, {"facility_id": "m"}],
        outputs=[{"product_id": "part", "facility_id": "s", "unit": "kg", "amount": 100},
                 {"product_id": "good", "facility_id": "m", "unit": "kg", "amount": 10}],
        inputs=[{"facility_id": "s", "ref": "factor:rated", "amount": 100, "unit": "kg"},
                {"facility_id": "s", "ref": "factor:plain", "amount": 50, "unit": "kg"},
                {"facility_id": "m", "ref": "part", "amount": 40, "unit": "kg"},
                {"facility_id": "m", "ref": "factor:spec", "amount": 10, "unit": "kg", "data_type": "primary"}],
        emissions=[{"facility_id": "s", "flow": "CO2", "amount": 20}],
        factors=[{"code": "rated", "unit": "kg", "fossil": 1.0, "ter": 2, "ger": 4, "tir": 3, "gwp": "AR5"},
                 {"code": "plain", "unit": "kg", "fossil": 2.0},  # no ratings: 3, unrated; GWP set unknown
                 {"code": "spec", "unit": "kg", "fossil": 5.0, "data_type": "primary", "ter": 5, "ger": 5,
                  "tir": 5, "gwp": "AR6"}],  # primary data with a specific factor: 1
    )
    r = compute(folder)
    # leaves of part per kg: rated 1.0 (2,4,3), plain 1.0 (3,3,3), emission 0.2 (1,1,1)
    w = np.array([1.0, 1.0, 0.2])
    s = np.array([[2, 4, 3], [3, 3, 3], [1, 1, 1]])
    part = r.product("part").dqi
    assert [part.ter, part.ger, part.tir] == approx(list(w @ s / w.sum()))
    assert part.unrated_share == approx(1.0 / 2.2) and part.unrated == ["Factor plain"]
    # good per unit: 4 kg of part (its leaves × 4) and 5.0 of spec at (1,1,1)
    w2 = np.append(w * 4, 5.0)
    s2 = np.vstack([s, [1, 1, 1]])
    good = r.product("good").dqi
    assert [good.ter, good.ger, good.tir] == approx(list(w2 @ s2 / w2.sum()))
    assert good.unrated_share == approx(4.0 / w2.sum())
    assert r.product("part").gwp_sets == ["AR6", "AR5", "unknown"]  # the emission, rated, plain
    assert r.product("good").gwp_sets == ["AR6", "AR5", "unknown"]


def test_boundary_refuses_above_one_percent_naming_rows(tmp_path):
    def park(folder, tonnes):
        return write_park(
            folder, park=V2,
            facilities=[{"facility_id": "f"}],
            outputs=[{"product_id": "bolt", "facility_id": "f", "unit": "kg", "amount": 1000}],
            inputs=[{"facility_id": "f", "ref": "factor:wire", "amount": 1000, "unit": "kg"},
                    {"facility_id": "f", "ref": "bg:steel-bof", "amount": tonnes, "unit": "t"}],
            factors=[{"code": "wire", "unit": "kg", "fossil": 2.0}])
    folder = park(tmp_path / "big", 0.1)  # 0.1 t × 3.19 = 319 of 2319: 13.8 %
    p = load_park(folder)
    r = compute_park(p)
    (b,) = r.product("bolt").boundary_exceptions
    assert (b.ref, b.boundary, b.rows) == ("open-factors:steel-bof", "direct-only", ["inputs.csv:3"])
    assert b.share == approx(319 / 2319)
    (problem,) = refusals(p, r, ["bolt"])
    assert (problem.file, problem.row, problem.column) == ("inputs.csv", 3, "ref")
    assert "not cradle-to-gate" in problem.expected and "open-factors:steel-bof" in problem.expected
    small = load_park(park(tmp_path / "small", 0.005))  # 15.95 of 2015.95: 0.79 %
    rs = compute_park(small)
    assert rs.product("bolt").boundary_exceptions[0].share == approx(15.95 / 2015.95)
    assert refusals(small, rs, ["bolt"]) == []


def test_waste_output_carries_nothing(tmp_path):
    folder = write_park(
        tmp_path, park=V2,
        facilities=[{"facility_id": "mill"}, {"facility_id": "remelt"}],
        outputs=[{"product_id": "profile", "facility_id": "mill", "unit": "t", "amount": 80},
                 {"product_id": "scrap", "facility_id": "mill", "unit": "t", "amount": 20, "kind": "waste"},
                 {"product_id": "ingot", "facility_id": "remelt", "unit": "t", "amount": 10}],
        inputs=[{"facility_id": "mill", "ref": "factor:billet", "amount": 100, "unit": "t"},
                {"facility_id": "remelt", "ref": "scrap", "amount": 10, "unit": "t"},
                {"facility_id": "remelt", "ref": "factor:gas", "amount": 500, "unit": "kg"}],
        factors=[{"code": "billet", "unit": "kg", "fossil": 8.0}, {"code": "gas", "unit": "kg", "fossil": 3.0}],
    )
    r = compute(folder)
    assert [p.product_id for p in r.products] == ["profile", "ingot"]  # no result, no certificate for waste
    assert r.product("profile").total == approx(100_000 * 8.0 / 80)  # the whole burden
    assert r.product("profile").allocation.basis == "single output"
    assert r.product("ingot").total == approx(500 * 3.0 / 10)  # scrap enters burden-free (cut-off)


def test_mass_allocation_with_mass_implied_by_units(tmp_path):
    folder = write_park(
        tmp_path, park=V2,
        facilities=[{"facility_id": "mill", "allocation": "mass"}],
        outputs=[{"product_id": "coil", "facility_id": "mill", "unit": "t", "amount": 3},
                 {"product_id": "strip", "facility_id": "mill", "unit": "kg", "amount": 1000}],
        inputs=[{"facility_id": "mill", "ref": "factor:x", "amount": 8000, "unit": "kg"}],
        factors=[{"code": "x", "unit": "kg", "fossil": 1.0}],
    )
    r = compute(folder)
    assert r.product("coil").allocation.share == approx(3000 / 4000)
    assert r.product("coil").total == approx(8000 * 0.75 / 3)  # per tonne
    assert r.product("strip").total == approx(8000 * 0.25 / 1000)


def test_allocation_disclosed_with_reason_downstream(tmp_path):
    folder = write_park(
        tmp_path, park=V2,
        facilities=[{"facility_id": "ext", "allocation": "economic",
                     "allocation_reason": "profile and rail differ in alloy value, not in mass"},
                    {"facility_id": "pack"}],
        outputs=[{"product_id": "profile", "facility_id": "ext", "unit": "kg", "amount": 100, "price": 30},
                 {"product_id": "rail", "facility_id": "ext", "unit": "kg", "amount": 100, "price": 10},
                 {"product_id": "pack", "facility_id": "pack", "unit": "piece", "amount": 10}],
        inputs=[{"facility_id": "ext", "ref": "factor:billet", "amount": 200, "unit": "kg"},
                {"facility_id": "pack", "ref": "profile", "amount": 50, "unit": "kg"},
                {"facility_id": "pack", "ref": "factor:cell", "amount": 10, "unit": "piece"}],
        factors=[{"code": "billet", "unit": "kg", "fossil": 10.0}, {"code": "cell", "unit": "piece", "fossil": 50}],
    )
    r = compute(folder)
    profile = 200 * 10.0 * 0.75 / 100
    pack_total = (50 * profile + 10 * 50) / 10
    (a,) = r.product("pack").allocations
    assert (a.facility_id, a.basis, a.reason) == ("ext", "economic",
                                                  "profile and rail differ in alloy value, not in mass")
    assert a.shares == {"profile": approx(0.75), "rail": approx(0.25)}
    assert a.moved == approx(50 * profile / 10) and a.moved_share == approx(50 * profile / 10 / pack_total)
    assert r.product("profile").allocations[0].moved_share == approx(1.0)
    # the review's other basis: by mass the two 100 kg outputs share 50/50
    (alt,) = r.product("pack").allocation_alternatives
    assert (alt.facility_id, alt.basis, alt.shares) == ("ext", "mass", {"profile": approx(0.5), "rail": approx(0.5)})
    assert alt.total == approx((50 * 200 * 10.0 * 0.5 / 100 + 10 * 50) / 10)
    (alt,) = r.product("rail").allocation_alternatives
    assert alt.total == approx(200 * 10.0 * 0.5 / 100)


def test_fuel_with_combustion_and_reported_combustion_is_refused(tmp_path):
    folder = write_park(
        tmp_path, park=V2,
        facilities=[{"facility_id": "boiler"}],
        outputs=[{"product_id": "steam", "facility_id": "boiler", "unit": "GJ", "amount": 1000}],
        inputs=[{"facility_id": "boiler", "ref": "bg:fuel-diesel", "amount": 1000, "unit": "kg"}],
        emissions=[{"facility_id": "boiler", "flow": "CO2", "amount": 3186, "kind": "combustion"}],
    )
    park = load_park(folder)
    r = compute_park(park)
    (problem,) = refusals(park, r, ["steam"])
    assert (problem.file, problem.row, problem.column) == ("inputs.csv", 2, "ref")
    assert "the factor includes combustion" in problem.expected and "emissions.csv:2" in problem.expected
