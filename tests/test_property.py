"""Random valid parks agree with a plain numpy solve of the same rows."""

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
                            "amount": draw(st.floats(10, 1e4)), "mass_kg": draw(st.floats(0.1, 5))})
    factors = [{"code": f"x{k}", "unit": "kg", "fossil": draw(st.floats(0, 20)), "luc": draw(st.floats(-1, 1))}
               for k in range(3)]
    inputs, emissions = [], []
    for fac in facilities:
        for k in range(3):
            if draw(st.booleans()):
                inputs.append({"facility_id": fac["facility_id"], "ref": f"factor:x{k}",
                               "amount": draw(st.floats(0, 1e4)), "unit": "kg",
                               "data_type": draw(st.sampled_from(["primary", "secondary"]))})
        for gas in GWP_FOSSIL:
            if draw(st.booleans()):
                emissions.append({"facility_id": fac["facility_id"], "flow": gas, "amount": draw(st.floats(0, 100))})
    # intra-park uses (loops and self-use allowed), each product used at most 60 % of its output in all
    for o in outputs:
        users = draw(st.lists(st.sampled_from(facilities), max_size=3))
        for user in users:
            inputs.append({"facility_id": user["facility_id"], "ref": o["product_id"],
                           "amount": o["amount"] * draw(st.floats(0, 0.2)), "unit": "piece"})
    return facilities, outputs, inputs, emissions, factors


def numpy_footprints(facilities, outputs, inputs, emissions, factors):
    """h = (I − U)⁻ᵀ d with U the per-unit intra-park uses and d the direct per-unit impacts."""
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
    d = np.zeros(len(ids))
    for o in outputs:
        j, fac = index[o["product_id"]], o["facility_id"]
        for i in inputs:
            if i["facility_id"] != fac:
                continue
            if i["ref"] in index:
                U[index[i["ref"]], j] += i["amount"] * share[o["product_id"]]
            else:
                d[j] += i["amount"] * factor_value[i["ref"]] * share[o["product_id"]]
        for e in emissions:
            if e["facility_id"] == fac:
                d[j] += e["amount"] * GWP_FOSSIL[e["flow"]] * share[o["product_id"]]
    return dict(zip(ids, np.linalg.solve((np.eye(len(ids)) - U).T, d)))


@pytest.mark.usefixtures("project")
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(parks())
def test_random_parks_match_numpy(park):
    facilities, outputs, inputs, emissions, factors = park
    expected = numpy_footprints(*park)
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_park(Path(tmp), facilities=facilities, outputs=outputs, inputs=inputs, emissions=emissions,
                            factors=factors)
        results = compute_park(load_park(folder))
    for p in results.products:
        assert p.total == pytest.approx(expected[p.product_id], rel=1e-5, abs=1e-6)
