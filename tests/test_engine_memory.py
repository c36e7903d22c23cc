"""The in-memory calculation (no park database written) against bw2calc on the written database, and the
caches that make a running process fast: background footprints on disk and in memory, an unchanged park's
results, the park database rewritten only when its content changed."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from conftest import DEMO
from parks import write_park

from footprint.park.loading import load_park

REL = 1e-9  # the bound: identical to bw2calc on the written database within 1e-9 relative


@pytest.fixture
def fresh_process():
    """Forget what this process keeps between calculations, as a new process would (the disk cache stays)."""
    from footprint.engine import background_footprints, calculation

    background_footprints._MEMO.clear()
    calculation._KNOWN.items.clear()
    yield
    background_footprints._MEMO.clear()
    calculation._KNOWN.items.clear()


def _chain_background(name: str, co2: float = 1.0) -> str:
    """A background database with a chain and a loop between its activities (so its own solve matters), and
    fossil, non-fossil and land-use CO2 and methane."""
    import bw2data as bd

    from footprint.engine.background import biosphere_codes
    from footprint.park.flows import ALIASES

    bio = {alias: ("biosphere3", biosphere_codes()[ALIASES[alias]]) for alias in ("CO2", "CH4", "CO2-biogenic",
                                                                                   "CO2-luc")}

    def activity(code, unit, technosphere, biosphere):
        return {"name": f"chain {code}", "reference product": code, "unit": unit, "location": "GLO",
                "type": "process", "exchanges": [{"input": (name, code), "amount": 1.0, "type": "production"}]
                + [{"input": (name, c), "amount": a, "type": "technosphere"} for c, a in technosphere]
                + [{"input": bio[f], "amount": a, "type": "biosphere"} for f, a in biosphere]}

    if name in bd.databases:
        del bd.databases[name]
    db = bd.Database(name)
    db.register()
    db.write({
        (name, "ore"): activity("ore", "kilogram", [("power", 0.3)], [("CO2", co2), ("CO2-luc", 0.05)]),
        (name, "power"): activity("power", "kilowatt hour", [("ore", 0.01)], [("CO2", 0.6), ("CH4", 0.001)]),
        (name, "pulp"): activity("pulp", "kilogram", [("power", 1.2), ("ore", 0.1)],
                                 [("CO2-biogenic", 1.4), ("CH4", 0.0004)]),
    })
    return name


def _generated_park(folder, background: str, seed: int = 7):
    """A seeded park: loops between products and with themselves, two- and three-output facilities (mass,
    economic), park factors, transport legs, emissions of each kind, inputs from two backgrounds."""
    rng = np.random.default_rng(seed)
    facilities, outputs, inputs, emissions = [], [], [], []
    products = []
    for f in range(12):
        outs = 3 if f == 4 else 2 if f % 4 == 1 else 1
        fid = f"f{f}"
        facilities.append({"facility_id": fid, "allocation": {1: "mass", 2: "economic", 3: "mass"}.get(outs, "")})
        for k in range(outs):
            pid = f"p{f}-{k}"
            products.append(pid)
            outputs.append({"product_id": pid, "facility_id": fid, "unit": "kg",
                            "amount": f"{rng.uniform(1e4, 1e5):.6g}", "mass_kg": 1,
                            "price": f"{rng.uniform(0.5, 5):.4g}"})
    open_refs = [("bg:electricity-cn-east", "kWh"), ("bg:pp", "kg"), ("bg:aluminium-primary-cn", "kg"),
                 ("bg:fuel-diesel", "kg"), ("bg:paperboard", "kg")]
    chain_refs = [(f"bg:{background}:ore", "kg"), (f"bg:{background}:power", "kWh"), (f"bg:{background}:pulp", "kg")]
    for f, fac in enumerate(facilities):
        fid = fac["facility_id"]
        for ref, unit in [open_refs[f % 5], chain_refs[f % 3], chain_refs[(f + 1) % 3]]:
            row = {"facility_id": fid, "ref": ref, "amount": f"{rng.uniform(100, 5000):.6g}", "unit": unit}
            if unit == "kg" and f % 2:
                row.update(transport_ref="factor:truck", distance_km=f"{rng.uniform(50, 900):.0f}")
            inputs.append(row)
        inputs.append({"facility_id": fid, "ref": "factor:resin", "amount": f"{rng.uniform(10, 500):.6g}",
                       "unit": "kg"})
        emissions.append({"facility_id": fid, "flow": ("CO2", "CH4", "CO2-biogenic", "CO2-luc")[f % 4],
                          "amount": f"{rng.uniform(1, 300):.6g}"})
    # supply between park products: a two-product loop, a three-product loop, self-use, a chain
    for user, supplier in [("f0", "p1-0"), ("f1", "p0-0"), ("f3", "p4-1"), ("f4", "p5-1"), ("f5", "p3-0"),
                           ("f6", "p6-0"), ("f7", "p6-0"), ("f8", "p7-0"), ("f9", "p4-2"), ("f2", "p2-0")]:
        inputs.append({"facility_id": user, "ref": supplier, "amount": f"{rng.uniform(5, 80):.6g}", "unit": "kg"})
    return load_park(write_park(
        folder, facilities=facilities, outputs=outputs, inputs=inputs, emissions=emissions,
        factors=[{"code": "truck", "unit": "tkm", "fossil": 0.09}, {"code": "resin", "unit": "kg", "fossil": 2.2,
                                                                   "biogenic": 0.1, "luc": 0.04}]))


def _assert_equals_bw2calc(park, results) -> None:
    """Every product's fossil, biogenic, luc, total and biogenic CO2 against the inventory of a new
    bw2calc.LCA of its activity in the written database, characterised with the factors of the project's
    methods (as the methods store them: bw2calc's own characterisation matrix rounds them to float32)."""
    import bw2calc as bc
    import bw2data as bd

    from footprint.engine.background import METHODS, PARTS, biogenic_co2_flows, method_factors

    db = f"park:{park.park.id}"
    factors = {part: method_factors(part) for part in METHODS}
    assert results.products
    for p in results.products:
        lca = bc.LCA({bd.get_node(database=db, code=p.product_id).id: 1}, method=METHODS["total"])
        lca.lci()
        flows = {flow: float(lca.inventory[row].sum()) for flow, row in lca.dicts.biosphere.items()}
        bco2 = sum(flows.get(f, 0.0) for f in biogenic_co2_flows())
        assert p.biogenic_co2 == pytest.approx(bco2, rel=REL, abs=1e-12), p.product_id
        expected = {part: sum(amount * factors[part].get(flow, 0.0) for flow, amount in flows.items())
                    for part in METHODS}
        for part in PARTS:
            assert getattr(p, part) == pytest.approx(expected[part], rel=REL, abs=1e-12), (p.product_id, part)
        assert p.total == pytest.approx(expected["total"], rel=REL, abs=1e-12), p.product_id
        lca.lcia()  # and bw2calc's own score, with its float32 factors
        assert p.total == pytest.approx(lca.score, rel=1e-6), p.product_id


def test_demo_park_equals_bw2calc_on_written_database(project):
    from footprint.engine.calculation import compute_park

    park = load_park(DEMO)
    results = compute_park(park, write_database=True)
    _assert_equals_bw2calc(park, results)


def test_generated_park_with_loops_and_allocation_equals_bw2calc(tmp_path, project):
    from footprint.engine.calculation import compute_park

    park = _generated_park(tmp_path, _chain_background("chain-bg"))
    results = compute_park(park, write_database=True)
    assert {p.allocation.basis for p in results.products} >= {"mass", "economic", "single output"}
    assert any(p.biogenic_co2 > 0 for p in results.products) and all(p.luc > 0 for p in results.products)
    _assert_equals_bw2calc(park, results)


def test_calc_writes_no_park_database_and_a_write_only_when_the_content_changed(tmp_path, project, monkeypatch):
    import bw2data as bd

    from footprint.engine import inventory
    from footprint.engine.calculation import compute_park

    rows = dict(facilities=[{"facility_id": "plant"}],
                outputs=[{"product_id": "widget", "facility_id": "plant", "unit": "kg", "amount": 10}],
                factors=[{"code": "x", "unit": "kg", "fossil": 1.0}])
    park = load_park(write_park(tmp_path / "v1", inputs=[{"facility_id": "plant", "ref": "factor:x", "amount": 10,
                                                          "unit": "kg"}], **rows))
    db = f"park:{park.park.id}"
    assert compute_park(park).product("widget").fossil == pytest.approx(1.0)
    assert db not in bd.databases

    writes = []
    original = inventory._ParkDatabase.write

    def counted(self, *args, **kwargs):
        writes.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(inventory._ParkDatabase, "write", counted)
    compute_park(park, write_database=True)
    assert len(writes) == 1 and len(bd.Database(db)) == 2
    compute_park(park, write_database=True)  # unchanged: not written again
    compute_park(load_park(tmp_path / "v1"), write_database=True)  # the same rows read again
    assert len(writes) == 1

    changed = load_park(write_park(tmp_path / "v2", inputs=[{"facility_id": "plant", "ref": "factor:x", "amount": 30,
                                                             "unit": "kg"}], park={"id": park.park.id}, **rows))
    assert compute_park(changed, write_database=True).product("widget").fossil == pytest.approx(3.0)
    assert len(writes) == 2
    node = bd.get_node(database=db, code="widget")
    assert [e["amount"] for e in node.technosphere()] == [pytest.approx(3.0)]


def test_unchanged_park_gets_its_results_again_and_a_changed_row_recomputes(tmp_path, project):
    from footprint.engine.calculation import compute_park

    rows = dict(facilities=[{"facility_id": "plant"}],
                outputs=[{"product_id": "widget", "facility_id": "plant", "unit": "kg", "amount": 10}])
    folder = write_park(tmp_path / "a", inputs=[{"facility_id": "plant", "ref": "bg:electricity-cn-east",
                                                 "amount": 30, "unit": "kWh"}], **rows)
    first = compute_park(load_park(folder))
    assert compute_park(load_park(folder)) is first
    assert compute_park(load_park(folder), iterations=20, seed=None) is not first  # random: nothing to reuse
    park = load_park(folder)
    park.inputs[0].amount = 60.0  # the same park id with another row
    assert compute_park(park).product("widget").fossil == pytest.approx(2 * first.product("widget").fossil)


def test_background_change_recomputes_in_memory_and_on_disk(tmp_path, project, fresh_process):
    from footprint.engine import home
    from footprint.engine.calculation import compute_park

    name = _chain_background("cache-bg", co2=1.0)
    park = load_park(write_park(
        tmp_path, facilities=[{"facility_id": "plant"}],
        outputs=[{"product_id": "widget", "facility_id": "plant", "unit": "kg", "amount": 1}],
        inputs=[{"facility_id": "plant", "ref": f"bg:{name}:ore", "amount": 1, "unit": "kg"}]))
    before = compute_park(park).product("widget").fossil
    files = set((home.resolve() / "cache").glob("background-*.npz"))
    _chain_background(name, co2=2.0)  # one more kg of CO2 per kg of ore
    after = compute_park(park).product("widget").fossil
    # ore = 2.0 (was 1.0) + 0.3 power; power = 0.6 + CH4 + 0.01 ore: the difference is 1 kg / (1 − 0.3 × 0.01)
    assert after - before == pytest.approx(1.0 / (1 - 0.3 * 0.01), rel=1e-6)
    assert len(set((home.resolve() / "cache").glob("background-*.npz")) - files) == 1


def test_a_new_process_loads_background_footprints_from_disk(tmp_path, project, fresh_process, monkeypatch):
    from footprint.engine import background_footprints, calculation, home
    from footprint.engine.calculation import compute_park

    folder = write_park(
        tmp_path, facilities=[{"facility_id": "plant"}],
        outputs=[{"product_id": "widget", "facility_id": "plant", "unit": "kg", "amount": 1}],
        inputs=[{"facility_id": "plant", "ref": f"bg:{_chain_background('disk-bg')}:pulp", "amount": 1,
                 "unit": "kg"}])
    shutil.rmtree(home.resolve() / "cache", ignore_errors=True)
    background_footprints._MEMO.clear()
    solved = compute_park(load_park(folder))
    background_footprints._MEMO.clear()
    calculation._KNOWN.items.clear()

    def no_solve(databases):
        raise AssertionError("solved again instead of reading the cache")

    monkeypatch.setattr(background_footprints, "_matrices", no_solve)
    loaded = compute_park(load_park(folder))
    assert loaded is not solved and loaded.model_dump() == solved.model_dump()


def test_method_change_recomputes(tmp_path, project, fresh_process):
    import bw2data as bd

    from footprint.engine.background import METHODS, biosphere_codes, node_ids
    from footprint.engine.calculation import compute_park
    from footprint.park.flows import ALIASES

    park = load_park(write_park(
        tmp_path, facilities=[{"facility_id": "plant"}],
        outputs=[{"product_id": "widget", "facility_id": "plant", "unit": "kg", "amount": 1}],
        inputs=[{"facility_id": "plant", "ref": f"bg:{_chain_background('method-bg')}:ore", "amount": 1,
                 "unit": "kg"}],
        emissions=[{"facility_id": "plant", "flow": "CO2", "amount": 5}]))
    before = compute_park(park).product("widget")
    co2 = node_ids("biosphere3", {biosphere_codes()[ALIASES["CO2"]]}).popitem()[1]
    method = bd.Method(METHODS["fossil"])
    original = method.load()
    try:
        method.write([(flow, 2 * cf if flow == co2 else cf) for flow, cf in original])
        after = compute_park(park).product("widget")
    finally:
        method.write(original)
    # fossil CO2 of the chain (its own and the background's, through the loop) now counts twice
    assert after.luc == pytest.approx(before.luc, rel=1e-12)
    assert after.fossil > before.fossil + 5
    assert compute_park(park).product("widget").fossil == pytest.approx(before.fossil, rel=1e-12)


def test_contributions_built_without_validation_equal_validated_ones():
    from footprint.engine.calculation import _GIVEN_INPUT, _contribution
    from footprint.park.models import Contribution

    fields = dict(key="inputs.csv:3", label="steel", total=1.75, fossil=1.5, biogenic=0.25, luc=0.0,
                  rows=["inputs.csv:3", "inputs.csv:9"], category="materials", amount=2.0, unit="kg",
                  data_type="primary")
    built = _contribution(dict(fields), _GIVEN_INPUT)
    valid = Contribution(**fields)
    assert built == valid and built.model_dump_json() == valid.model_dump_json()
    assert built.model_fields_set == valid.model_fields_set
    built.label = "steel sheet"  # assignment still goes through pydantic
    assert built.label == "steel sheet" and valid.label == "steel"


def _grouped_by_loop(items):
    """Contributions summed by key with a plain loop over Python floats, rows in first-seen order, sorted by size
    (stable): the engine's grouping before it was done with arrays, kept here as the reference."""
    sums, labels, rows = {}, {}, {}
    for key, label, parts, origin in items:
        if key in sums:
            sums[key] = [a + b for a, b in zip(sums[key], parts)]
        else:
            sums[key], labels[key] = list(parts), label
        rows.setdefault(key, {}).update(dict.fromkeys(origin))
    out = [dict(key=k, label=labels[k], total=float(f + b + luc) + 0.0, fossil=f + 0.0, biogenic=b + 0.0,
                luc=luc + 0.0, rows=list(rows[k])) for k, (f, b, luc) in sums.items()]
    return sorted(out, key=lambda c: -abs(c["total"]))


@pytest.mark.parametrize("which", ["demo", "generated"])
def test_contributions_and_dqr_equal_a_plain_loop_bit_for_bit(which, tmp_path, project):
    """The array grouping gives every product exactly the floats, rows, order and fields that a loop over its
    exchanges gives (the engine's earlier way), by input row, facility, enterprise and category."""
    from footprint.engine.calculation import Solution, calculate
    from footprint.engine.inventory import build_foreground

    park = load_park(DEMO) if which == "demo" else _generated_park(tmp_path, _chain_background("loop-bg"))
    fg = build_foreground(park)
    sol = Solution(fg)
    results = calculate(fg, sol=sol)
    facilities = {f.facility_id: f for f in park.facilities}
    products = {o.product_id: o for o in park.outputs}
    checked = 0
    for p in results.products:
        f = facilities[p.facility_id]
        j = sol.index((fg.database, p.product_id))
        items = [(e, e.amount * sol.unit_impact(e) / sol.A[j, j]) for e in fg.exchanges
                 if e.product_id == p.product_id and e.supplier != p.product_id]
        by = {"input": [], "facility": [], "enterprise": [], "category": []}
        for e, parts in items:
            s = f if e.kind == "biosphere" else facilities[products[e.supplier].facility_id] if e.supplier else None
            values = parts.tolist()
            by["input"].append((e.rows[0], e.label, values, e.rows))
            by["facility"].append((s.facility_id, s.name, values, e.rows) if s else
                                  ("outside-park", "Purchased from outside the park", values, e.rows))
            by["enterprise"].append((s.enterprise, s.enterprise, values, e.rows) if s else
                                    ("outside-park", "Purchased from outside the park", values, e.rows))
            by["category"].append((e.category, e.category, values, e.rows))
        for grouping, listed in by.items():
            expected = _grouped_by_loop(listed)
            got = getattr(p, f"contributions_by_{grouping}")
            assert [c.model_dump(include=set(expected[0]) if expected else None) for c in got] == expected
            assert [c.total for c in got] == [c["total"] for c in expected]  # exact floats, not approx
            checked += len(got)
        first = {}
        for e, _ in items:
            first.setdefault(e.rows[0], e)
        for c in p.contributions_by_input:
            e = first[c.key]
            technosphere = e.kind == "technosphere"
            assert (c.category, c.data_type, c.amount, c.unit) == (
                e.category, e.data_type, e.amount if technosphere else None, e.unit if technosphere else None)
            assert c.model_fields_set == {"key", "label", "total", "fossil", "biogenic", "luc", "rows", "category",
                                          "data_type"} | ({"amount", "unit"} if technosphere else set())
        rated = [(fg.targets[e.target].dqr, abs(float(parts.sum()))) for e, parts in items
                 if e.target in fg.targets and fg.targets[e.target].dqr]
        weight = sum(w for _, w in rated)
        assert p.dqr == (round(sum(d * w for d, w in rated) / weight, 2) if weight else None)
    assert checked > 4 * len(results.products)


def test_home_option_holds_the_background_cache(tmp_path):
    """`--home DIR` (not $FOOTPRINT_HOME) decides where the background cache goes: the user's default
    data directory stays untouched (issue 17: the benchmark's cache went to ~/.local/share/footprint)."""
    import os
    import subprocess
    import sys

    user_home, data_home = tmp_path / "user-home", tmp_path / "data"
    user_home.mkdir()
    folder = write_park(
        tmp_path / "park", facilities=[{"facility_id": "plant"}],
        outputs=[{"product_id": "widget", "facility_id": "plant", "unit": "kg", "amount": 1}],
        inputs=[{"facility_id": "plant", "ref": "bg:electricity-cn-east", "amount": 1, "unit": "kWh"}])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "BRIGHTWAY", "FOOTPRINT_"))}
    env["HOME"] = str(user_home)
    run = subprocess.run([sys.executable, "-m", "footprint.cli.main", "--home", str(data_home), "calc", str(folder)],
                         env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert len(list((data_home / "cache").glob("background-*.npz"))) == 1
    assert list(user_home.iterdir()) == []


def test_a_deleted_background_database_is_reported_not_reused(tmp_path, project):
    import bw2data as bd

    from footprint.engine.calculation import compute_park
    from footprint.park.errors import ParkDataError

    name = _chain_background("deleted-bg")
    park = load_park(write_park(
        tmp_path, facilities=[{"facility_id": "plant"}],
        outputs=[{"product_id": "widget", "facility_id": "plant", "unit": "kg", "amount": 1}],
        inputs=[{"facility_id": "plant", "ref": f"bg:{name}:ore", "amount": 1, "unit": "kg"}]))
    compute_park(park)
    del bd.databases[name]
    with pytest.raises(ParkDataError, match="unknown background database 'deleted-bg'"):
        compute_park(park)


def test_collector_resumes_without_unfreezing_what_others_froze():
    """A calculation pauses the cyclic collector and resumes it; its objects join the oldest generation, and
    objects someone else froze (a server before forking) stay frozen."""
    import gc

    from footprint.engine.calculation import _collector_paused

    assert gc.isenabled()
    with _collector_paused():
        assert not gc.isenabled()
        made = [[] for _ in range(1000)]
    assert gc.isenabled() and gc.get_freeze_count() == 0 and made
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with _collector_paused():
            more = [[] for _ in range(1000)]
        assert gc.isenabled() and gc.get_freeze_count() == frozen and more
    finally:
        gc.unfreeze()
    gc.disable()
    try:
        with _collector_paused():
            pass
        assert not gc.isenabled()  # a caller that had it off keeps it off
    finally:
        gc.enable()
