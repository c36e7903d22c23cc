"""Random valid parks agree with a plain numpy solve of the same rows: footprints, and the format-2
quantities carried through park supply (exempted emissions, biogenic CO2, primary data share)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from parks import write_park

from footprint.engine.calculation import compute_park
from footprint.park.loading import load_park

GWP_FOSSIL = {"CO2": 1.0, "CH4": 29.8, "N2O": 273.0}
PDS_X0 = 0.5  # factor x0 is a supplier-specific PCF with its own primary data share


def _num(low: float, high: float):
    """Floats as park data may hold them: 0, or between 1e-9 and 1e15 in magnitude (README "Bounds")."""
    return st.floats(low, high).map(lambda x: x if abs(x) >= 1e-9 else 0.0)


@st.composite
def parks(draw):
    n_fac = draw(st.integers(1, 4))
    facilities, outputs = [], []
    for f in range(n_fac):
        n_out = draw(st.integers(1, 3))
        facilities.append({"facility_id": f"f{f}", "allocation": "mass" if n_out > 1 else ""})
        for o in range(n_out):
            # pieces with a mass each (a kg output would imply mass_kg 1)
            outputs.append({"product_id": f"p{f}-{o}", "facility_id": f"f{f}", "unit": "piece",
                            "amount": draw(_num(10, 1e4)), "mass_kg": draw(_num(0.1, 5))})
    factors = [{"code": f"x{k}", "unit": "kg", "fossil": draw(_num(0, 20)), "luc": draw(_num(-1, 1))}
               for k in range(3)]
    factors[0].update(data_type="primary", pds=PDS_X0)
    inputs, emissions, exclusions = [], [], []
    for fac in facilities:
        for k in range(3):
            if draw(st.booleans()):
                inputs.append({"facility_id": fac["facility_id"], "ref": f"factor:x{k}",
                               "amount": draw(_num(0, 1e4)), "unit": "kg",
                               "data_type": draw(st.sampled_from(["primary", "secondary"]))})
        for gas in (*GWP_FOSSIL, "CO2-biogenic"):
            if draw(st.booleans()):
                emissions.append({"facility_id": fac["facility_id"], "flow": gas, "amount": draw(_num(0, 100))})
        if draw(st.booleans()):
            exclusions.append({"facility_id": fac["facility_id"], "item": "left out", "basis": "estimate",
                               "source": "test", "estimate": draw(_num(0, 500))})
    # intra-park uses (loops and self-use allowed), each product used at most 60 % of its output in all
    for o in outputs:
        users = draw(st.lists(st.sampled_from(facilities), max_size=3))
        for user in users:
            inputs.append({"facility_id": user["facility_id"], "ref": o["product_id"],
                           "amount": o["amount"] * draw(_num(0, 0.2)), "unit": "piece"})
    return facilities, outputs, inputs, emissions, factors, exclusions


def numpy_footprints(facilities, outputs, inputs, emissions, factors, exclusions):
    """x = (I − U)⁻ᵀ d with U the per-unit intra-park uses and d a product's direct per-unit amounts:
    of impact (the footprint), of exclusions, of biogenic CO2 and of primary contributions."""
    ids = [o["product_id"] for o in outputs]
    index = {p: n for n, p in enumerate(ids)}
    factor_value = {f"factor:{f['code']}": f["fossil"] + f["luc"] for f in factors}
    share = {}
    for fac in facilities:
        outs = [o for o in outputs if o["facility_id"] == fac["facility_id"]]
        weights = np.array([o["amount"] * o["mass_kg"] for o in outs])
        for o, w in zip(outs, weights / weights.sum()):
            share[o["product_id"]] = w / o["amount"]
    U = np.zeros((len(ids), len(ids)))
    d, exempted, bco2, primary = (np.zeros(len(ids)) for _ in range(4))
    for o in outputs:
        j, fac = index[o["product_id"]], o["facility_id"]
        for i in inputs:
            if i["facility_id"] != fac:
                continue
            if i["ref"] in index:
                U[index[i["ref"]], j] += i["amount"] * share[o["product_id"]]
            else:
                value = i["amount"] * factor_value[i["ref"]] * share[o["product_id"]]
                d[j] += value
                if i["ref"] == "factor:x0" and i["data_type"] == "primary":  # case (d): its pds counts
                    primary[j] += PDS_X0 * value
        for e in emissions:
            if e["facility_id"] != fac:
                continue
            if e["flow"] == "CO2-biogenic":  # GWP 0 in the footprint, 1 in pcfExcludingBiogenicUptake
                bco2[j] += e["amount"] * share[o["product_id"]]
                primary[j] += e["amount"] * share[o["product_id"]]
            else:
                d[j] += e["amount"] * GWP_FOSSIL[e["flow"]] * share[o["product_id"]]
                primary[j] += e["amount"] * GWP_FOSSIL[e["flow"]] * share[o["product_id"]]
        for x in exclusions:
            if x["facility_id"] == fac:
                exempted[j] += x["estimate"] * share[o["product_id"]]
    solve = np.linalg.solve((np.eye(len(ids)) - U).T, np.column_stack([d, exempted, bco2, primary]))
    return {p: solve[n] for n, p in enumerate(ids)}


@pytest.mark.usefixtures("project")
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(parks())
def test_random_parks_match_numpy(park):
    facilities, outputs, inputs, emissions, factors, exclusions = park
    expected = numpy_footprints(*park)
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_park(Path(tmp), facilities=facilities, outputs=outputs, inputs=inputs, emissions=emissions,
                            factors=factors, exclusions=exclusions, park={"format": "footprint-park/2"})
        results = compute_park(load_park(folder))
    for p in results.products:
        total, exempted, bco2, primary = expected[p.product_id]
        assert p.total == pytest.approx(total, rel=1e-5, abs=1e-6)
        assert p.exempted == pytest.approx(exempted, rel=1e-5, abs=1e-6)
        assert p.biogenic_co2 == pytest.approx(bco2, rel=1e-5, abs=1e-6)
        pcf = total + bco2
        assert p.pcf_excluding_biogenic_uptake == pytest.approx(pcf, rel=1e-5, abs=1e-6)
        if pcf > 1e-3:
            assert p.primary_data_share == pytest.approx(min(max(primary / pcf, 0), 1), rel=1e-4, abs=1e-6)
        if pcf + exempted > 1e-3:
            assert p.exempted_percent == pytest.approx(100 * exempted / (pcf + exempted), rel=1e-4, abs=1e-6)
