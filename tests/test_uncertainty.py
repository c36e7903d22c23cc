"""Monte Carlo: reproducible by seed, centred on the deterministic value, spread by the pedigree rule."""

from __future__ import annotations

import math

import pytest
from parks import write_park

from footprint.engine.calculation import calculate
from footprint.engine.inventory import build_foreground, write_foreground
from footprint.park.loading import load_park


def run(folder, iterations, seed):
    fg = build_foreground(load_park(folder))
    write_foreground(fg)
    return calculate(fg, iterations=iterations, seed=seed)


@pytest.fixture
def park(tmp_path, project):
    return write_park(
        tmp_path,
        facilities=[{"facility_id": "a"}, {"facility_id": "b"}],
        outputs=[{"product_id": "pa", "facility_id": "a", "unit": "kg", "amount": 100},
                 {"product_id": "pb", "facility_id": "b", "unit": "kg", "amount": 10}],
        inputs=[{"facility_id": "a", "ref": "factor:x", "amount": 200, "unit": "kg", "data_type": "primary"},
                {"facility_id": "b", "ref": "pa", "amount": 30, "unit": "kg", "data_type": "primary"},
                {"facility_id": "a", "ref": "pb", "amount": 1, "unit": "kg", "data_type": "primary"}],
        emissions=[{"facility_id": "b", "flow": "CO2", "amount": 5}],
        factors=[{"code": "x", "unit": "kg", "fossil": 2.0, "dqr": 1}],
    )


def test_same_seed_same_numbers(park):
    first = run(park, 300, seed=7)
    second = run(park, 300, seed=7)
    other = run(park, 300, seed=8)
    assert [p.uncertainty for p in first.products] == [p.uncertainty for p in second.products]
    assert first.products[0].uncertainty != other.products[0].uncertainty


def test_small_uncertainty_mean_near_deterministic(park):
    results = run(park, 2000, seed=1)
    for p in results.products:
        u = p.uncertainty
        assert u.iterations == 2000 and u.seed == 1
        assert u.mean == pytest.approx(p.total, rel=0.01)
        assert u.p2_5 < p.total < u.p97_5


def test_spread_follows_pedigree_rule(tmp_path, project):
    """One secondary row of a DQR-3 factor: ln(total) is normal with σ² = σ_row² + σ_factor²."""
    folder = write_park(
        tmp_path,
        facilities=[{"facility_id": "a"}],
        outputs=[{"product_id": "pa", "facility_id": "a", "unit": "kg", "amount": 1}],
        inputs=[{"facility_id": "a", "ref": "factor:x", "amount": 1, "unit": "kg", "data_type": "secondary"}],
        factors=[{"code": "x", "unit": "kg", "fossil": 3.0, "dqr": 3}],
    )
    # secondary row: basic 1.05, pedigree (4,3,1,1,1) → 1.2, 1.05, 1, 1, 1
    sigma_row = math.sqrt(math.log(1.05) ** 2 + math.log(1.2) ** 2 + math.log(1.05) ** 2) / 2
    # DQR 3 factor: pedigree (4,4,4,4,4) → 1.2, 1.1, 1.2, 1.02, 1.5
    sigma_factor = math.sqrt(sum(math.log(f) ** 2 for f in (1.2, 1.1, 1.2, 1.02, 1.5))) / 2
    sigma = math.hypot(sigma_row, sigma_factor)
    u = run(folder, 20000, seed=3).product("pa").uncertainty
    assert u.median == pytest.approx(3.0, rel=0.01)
    assert u.p97_5 == pytest.approx(3.0 * math.exp(1.96 * sigma), rel=0.03)
    assert u.p2_5 == pytest.approx(3.0 * math.exp(-1.96 * sigma), rel=0.03)


def test_explicit_gsd_columns_replace_the_rule(tmp_path, project):
    """A row's and a factor's stated GSD: ln(total) has σ² = ln(gsd_row)² + ln(gsd_factor)²."""
    folder = write_park(
        tmp_path,
        facilities=[{"facility_id": "a"}],
        outputs=[{"product_id": "pa", "facility_id": "a", "unit": "kg", "amount": 1}],
        inputs=[{"facility_id": "a", "ref": "factor:x", "amount": 1, "unit": "kg", "gsd": 1.3}],
        factors=[{"code": "x", "unit": "kg", "fossil": 3.0, "dqr": 3, "gsd": 1.1}],
    )
    sigma = math.hypot(math.log(1.3), math.log(1.1))
    u = run(folder, 20000, seed=4).product("pa").uncertainty
    assert u.p97_5 == pytest.approx(3.0 * math.exp(1.96 * sigma), rel=0.03)
    assert u.p2_5 == pytest.approx(3.0 * math.exp(-1.96 * sigma), rel=0.03)


def test_gsd_below_one_is_a_located_error(tmp_path):
    from footprint.park.errors import ParkDataError

    folder = write_park(
        tmp_path,
        facilities=[{"facility_id": "a"}],
        outputs=[{"product_id": "pa", "facility_id": "a", "unit": "kg", "amount": 1}],
        inputs=[{"facility_id": "a", "ref": "factor:x", "amount": 1, "unit": "kg", "gsd": 0.8}],
        factors=[{"code": "x", "unit": "kg", "fossil": 3.0}],
    )
    with pytest.raises(ParkDataError) as e:
        load_park(folder)
    (problem,) = e.value.problems
    assert (problem.file, problem.row, problem.column, problem.value) == ("inputs.csv", 2, "gsd", "0.8")
    assert "≥ 1" in problem.expected
