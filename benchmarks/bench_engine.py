"""Engine benchmark: every product of a park in one adjoint solve vs. one LCA per product vs. MultiLCA.

Not a test. Builds, in a throwaway data directory, a generated background database of ecoinvent's
size (default 20,000 activities, 250,000 technosphere exchanges) and generated parks of N products
linked to it, then times:

- engine end to end: ``footprint.engine.calculation.compute_park(park)`` (project check, linking, writing
  the park database, matrices, solve, contributions and results of every product);
- engine solve only: ``calculation.Solution`` (matrices from the written databases + the adjoint
  solve; wrapped for timing, not changed), and within it ``solve_adjoint`` alone;
- naive: a new ``bw2calc.LCA({product: 1}, method=...)`` + ``lci()`` + ``lcia()`` per product, on a
  seeded sample of products; the median × N is an EXTRAPOLATION, and is printed as one;
- MultiLCA: ``bw2calc.MultiLCA`` with one functional unit per product and the total method, in one
  run (data packages, matrices, LCI, LCIA), or in chunks of ``--multilca-chunk`` products run one
  after another (then the time is the measured sum of the chunks, and said so).

It checks that the engine's totals equal MultiLCA's (every product) and the naive LCAs' (the
sample) to 1e-6 relative and prints the largest relative difference.

    .venv/bin/python benchmarks/bench_engine.py                      # N = 100, 1000, 5000
    .venv/bin/python benchmarks/bench_engine.py --sizes 100 --activities 2000 --exchanges 25000

The background database is cached in the data directory (``--home``, default
/tmp/footprint-bench-home) and only regenerated when its parameters change. Results go to stdout and,
as JSON, to benchmarks/results/ (git-ignored). See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import statistics
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BACKGROUND = "bench-background"
GENERATOR = "market-zipf/1"  # bump when the background generator changes, to invalidate caches
EXPECTED = {"naive": 300.0, "multilca": 10.0}  # issue: at N = 1,000, engine ≥ 300× naive, ≥ 10× MultiLCA


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--sizes", default="100,1000,5000", help="park sizes N (products), comma-separated")
    p.add_argument("--activities", type=int, default=20_000, help="background activities")
    p.add_argument("--exchanges", type=int, default=250_000, help="background technosphere exchanges")
    p.add_argument("--home", default=os.environ.get("FOOTPRINT_BENCH_HOME", "/tmp/footprint-bench-home"),
                   help="throwaway data directory (never your real FOOTPRINT_HOME)")
    p.add_argument("--sample", type=int, default=5, help="products timed with a new bw2calc.LCA each")
    p.add_argument("--multilca-chunk", type=int, default=0,
                   help="run MultiLCA on at most this many products at a time (0: all N in one run)")
    p.add_argument("--skip-multilca", action="store_true", help="do not run MultiLCA")
    p.add_argument("--seed", type=int, default=20250101, help="seed of the generators and the sample")
    p.add_argument("--profile", metavar="DIR", help="also write a cProfile of an extra compute_park run to DIR")
    p.add_argument("--json", metavar="FILE", help="results JSON (default benchmarks/results/bench_engine-<time>.json)")
    return p.parse_args(argv)


def log(msg: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---- background ------------------------------------------------------------------------------


def background_structure(n: int, e: int, seed: int, market_share: float = 0.1, suppliers: int = 3,
                         zipf: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(input, consumer, amount) of ``e`` technosphere exchanges among ``n`` activities.

    Ecoinvent-like: a tenth of the activities are markets, each supplied by ``suppliers``
    transforming activities and one other market (transport, energy); the transforming activities
    consume only markets, chosen without repetition with Zipf popularity (a few markets such as
    electricity and transport are used by nearly everyone). Amounts are U(0, 0.05), so each column
    of inputs sums well below 1 and the system is solvable. A uniformly random structure would not
    be realistic: its LU factors fill in a hundredfold (minutes per factorisation, not ~1 s).
    """
    rng = np.random.default_rng(seed)
    m = max(2, round(n * market_share))
    t = n - m
    if e < m * (suppliers + 1) or (e - m * (suppliers + 1)) > t * m:
        raise SystemExit(f"--exchanges {e} does not fit {n} activities with this structure")
    order = rng.permutation(n)
    markets, trans = order[:m], order[m:]
    logw = -zipf * np.log(np.arange(1, m + 1))
    rows, cols = [], []
    for j, market in enumerate(markets):
        other = j
        while other == j:
            other = int(np.argmax(logw + rng.gumbel(size=m)))
        rows.append(np.append(trans[rng.choice(t, suppliers, replace=False)], markets[other]))
        cols.append(np.full(suppliers + 1, market))
    base, extra = divmod(e - m * (suppliers + 1), t)
    counts = np.full(t, base)
    counts[rng.choice(t, extra, replace=False)] += 1
    kmax = base + (1 if extra else 0)
    for start in range(0, t, 1000):  # Gumbel top-k: weighted sampling without replacement
        keys = logw + rng.gumbel(size=(min(t, start + 1000) - start, m))
        top = np.argpartition(-keys, kmax - 1, axis=1)[:, :kmax]
        for i in range(len(keys)):
            chosen = top[i][np.argsort(-keys[i, top[i]])][: counts[start + i]]
            rows.append(markets[chosen])
            cols.append(np.full(len(chosen), trans[start + i]))
    return np.concatenate(rows), np.concatenate(cols), rng.uniform(0.0, 0.05, e)


def ensure_background(n: int, e: int, seed: int) -> dict:
    """Write (or reuse) the background database; returns its size."""
    import bw2data as bd

    from footprint.engine.background import biosphere_codes
    from footprint.park.flows import ALIASES

    params = {"generator": GENERATOR, "activities": n, "exchanges": e, "seed": seed}
    meta = bd.databases.get(BACKGROUND, {})
    if meta.get("bench") == params:
        log(f"background {BACKGROUND} cached ({n:,} activities, {e:,} exchanges)")
        return meta["bench_size"]
    log(f"generating background {BACKGROUND}: {n:,} activities, {e:,} technosphere exchanges (once; cached)")
    t0 = time.perf_counter()
    rows, cols, amounts = background_structure(n, e, seed)
    rng = np.random.default_rng(seed + 1)
    bio = {alias: ("biosphere3", biosphere_codes()[ALIASES[alias]]) for alias in ("CO2", "CH4", "N2O")}
    codes = [f"a{i:06d}" for i in range(n)]
    data = {}
    for i, code in enumerate(codes):
        data[(BACKGROUND, code)] = {
            "name": f"generated activity {i}", "reference product": f"generated product {i}", "unit": "kilogram",
            "location": "GLO", "type": "process",
            "exchanges": [{"input": (BACKGROUND, code), "amount": 1.0, "type": "production"},
                          {"input": bio["CO2"], "amount": float(rng.uniform(0.05, 1.0)), "type": "biosphere"}],
        }
        if rng.random() < 0.3:
            data[(BACKGROUND, code)]["exchanges"].append(
                {"input": bio["CH4"], "amount": float(rng.uniform(0, 0.005)), "type": "biosphere"})
        if rng.random() < 0.1:
            data[(BACKGROUND, code)]["exchanges"].append(
                {"input": bio["N2O"], "amount": float(rng.uniform(0, 0.0005)), "type": "biosphere"})
    for r, c, a in zip(rows.tolist(), cols.tolist(), amounts.tolist()):
        data[(BACKGROUND, codes[c])]["exchanges"].append({"input": (BACKGROUND, codes[r]), "amount": a,
                                                           "type": "technosphere"})
    n_bio = sum(len(d["exchanges"]) for d in data.values()) - n - e
    log(f"  generated in {time.perf_counter() - t0:.1f} s; writing with bw2data (about a minute)")
    if BACKGROUND in bd.databases:
        del bd.databases[BACKGROUND]
    db = bd.Database(BACKGROUND)
    db.register(description="footprint benchmark: generated ecoinvent-sized background")
    db.write(data, searchable=False)
    size = {"activities": n, "technosphere_exchanges": e, "biosphere_exchanges": n_bio}
    bd.databases[BACKGROUND]["bench"] = params
    bd.databases[BACKGROUND]["bench_size"] = size
    bd.databases.flush()
    log(f"  background written in {time.perf_counter() - t0:.1f} s")
    return size


# ---- parks -----------------------------------------------------------------------------------


def write_park(folder: Path, n: int, bg_codes: list[str], seed: int) -> dict:
    """A park folder of ``n`` products (DESIGN §2), like tests/parks.py writes them.

    Three utilities form a loop (heat uses power, power uses spare parts, spare parts use heat);
    every other product buys five background activities (a fifth carried by a park truck factor),
    power and heat from the park, sometimes an earlier product of the park; every 50th pair of
    products supply each other (a small loop); every 10th facility has two outputs (mass
    allocation). Every facility reports direct CO2, some CH4. Uses stay below outputs (balance).
    """
    rng = np.random.default_rng(seed)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    park_id = f"bench-{n}"
    (folder / "park.yaml").write_text(
        f"format: footprint-park/1\nid: {park_id}\nname: Benchmark park of {n} products\ncountry: CN\n"
        f"period: {{start: 2025-01-01, end: 2025-12-31}}\nbackground: {BACKGROUND}\n", encoding="utf-8")
    facilities, outputs, inputs, emissions = [], [], [], []

    def bg() -> str:
        return f"bg:{BACKGROUND}:{bg_codes[rng.integers(len(bg_codes))]}"

    def add_input(fid: str, ref: str, amount: float, unit: str, data_type: str, transport: bool = False) -> None:
        row = {"facility_id": fid, "ref": ref, "amount": f"{amount:.6g}", "unit": unit, "data_type": data_type,
               "source": "meter" if data_type == "primary" else "invoice + database 2024"}
        if transport:
            row.update(transport_ref="factor:truck", distance_km=f"{rng.uniform(50, 800):.0f}")
        inputs.append(row)

    utilities = [("heat", "GJ", None), ("power", "kWh", None), ("parts", "piece", 2.0)]
    for pid, unit, mass in utilities:
        facilities.append({"facility_id": f"f-{pid}", "enterprise": f"Park {pid} company", "name": f"{pid} plant"})
        outputs.append({"product_id": pid, "facility_id": f"f-{pid}", "name": f"Park {pid}", "unit": unit,
                        "amount": None, "mass_kg": mass})
    regular, amount_of = [], {}
    fac_of: dict[str, list[str]] = {}
    k = 0
    while len(regular) < n - len(utilities):
        k += 1
        fid = f"f{k:05d}"
        two = k % 10 == 0 and n - len(utilities) - len(regular) >= 2
        facilities.append({"facility_id": fid, "enterprise": f"Enterprise {k}", "name": f"Plant {k}",
                           "allocation": "mass" if two else None})
        for _ in range(2 if two else 1):
            pid = f"p{len(regular) + 1:05d}"
            amount_of[pid] = float(f"{rng.uniform(1e4, 1e6):.6g}")
            outputs.append({"product_id": pid, "facility_id": fid, "name": f"Product {pid}", "unit": "kg",
                            "amount": f"{amount_of[pid]:.6g}", "mass_kg": 1})
            regular.append(pid)
            fac_of.setdefault(fid, []).append(pid)
    demand = {"heat": 0.0, "power": 0.0, "parts": 0.0}
    remaining = dict(amount_of)
    position = {pid: i for i, pid in enumerate(regular)}
    order = list(fac_of)
    for j, fid in enumerate(order):
        own = fac_of[fid]
        out = sum(amount_of[p] for p in own)
        for _ in range(5):
            kg = rng.uniform(0.05, 0.5) * out
            if rng.random() < 0.3:
                add_input(fid, bg(), kg / 1000, "t", "primary", transport=rng.random() < 0.2)
            else:
                add_input(fid, bg(), kg, "kg", "secondary", transport=rng.random() < 0.2)
        power, heat = rng.uniform(0.1, 1.0) * out, rng.uniform(0.0005, 0.003) * out
        demand["power"] += power
        demand["heat"] += heat
        add_input(fid, "power", power, "kWh", "primary")
        add_input(fid, "heat", heat, "GJ", "primary")
        emissions.append({"facility_id": fid, "flow": "CO2", "amount": f"{rng.uniform(0.05, 0.5) * out:.6g}",
                          "unit": "kg", "kind": "combustion", "source": "fuel records"})
        if rng.random() < 0.2:
            emissions.append({"facility_id": fid, "flow": "CH4", "amount": f"{rng.uniform(1e-4, 1e-3) * out:.6g}",
                              "unit": "kg", "kind": "fugitive", "source": "leak survey"})
        suppliers = []
        first = position[own[0]]
        if first > 0 and rng.random() < 0.3:  # an earlier product of the park (supply chains)
            suppliers.append(regular[rng.integers(0, first)])
        if j % 50 == 0 and j + 1 < len(order):  # a loop: this facility and the next supply each other
            suppliers.append(fac_of[order[j + 1]][0])
        if j % 50 == 1:
            suppliers.append(fac_of[order[j - 1]][0])
        for s in suppliers:
            kg = min(0.02 * amount_of[s], 0.1 * out)
            if kg <= remaining[s]:
                remaining[s] -= kg
                add_input(fid, s, kg, "kg", "primary")
    # Utilities: x = d + U x (heat uses power, power uses parts, parts use heat), outputs 1.25 x.
    per_unit = {"heat": ("power", 5.0, "kWh"), "power": ("parts", 1e-5, "piece"), "parts": ("heat", 0.05, "GJ")}
    x = dict(demand)
    for _ in range(100):
        x = {u: demand[u] + sum(x[c] * r for c, (s, r, _) in per_unit.items() if s == u) for u in x}
    for o in outputs[:3]:
        o["amount"] = f"{max(1.25 * x[o['product_id']], 1.0):.6g}"
    for u, (supplier, rate, unit) in per_unit.items():
        made = float(next(o["amount"] for o in outputs if o["product_id"] == u))
        add_input(f"f-{u}", supplier, rate * made, unit, "primary")
        add_input(f"f-{u}", bg(), rng.uniform(1, 30) * made, "kg", "secondary", transport=True)
    emissions.append({"facility_id": "f-heat", "flow": "CO2", "amount": f"{56 * float(outputs[0]['amount']):.6g}",
                      "unit": "kg", "kind": "combustion", "source": "fuel records"})
    factors = [{"code": "truck", "name": "Park truck fleet", "unit": "tkm", "fossil": 0.09, "biogenic": 0, "luc": 0,
                "source": "fleet fuel records 2025", "dqr": 2, "category": "transport"}]
    tables = {"facilities": facilities, "outputs": outputs, "inputs": inputs, "emissions": emissions,
              "factors": factors}
    for name, rows in tables.items():
        columns = list(dict.fromkeys(c for r in rows for c in r))
        with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, columns)
            w.writeheader()
            w.writerows({c: ("" if v is None else v) for c, v in r.items()} for r in rows)
    return {"products": len(tables["outputs"]), "facilities": len(facilities), "input_rows": len(inputs),
            "emission_rows": len(emissions)}


# ---- timing ----------------------------------------------------------------------------------


class Timers:
    """Wraps calculation.Solution and calculation.solve_adjoint to time them (no code changed)."""

    def __init__(self):
        from footprint.engine import calculation

        self.calc = calculation
        self.solution_s: list[float] = []
        self.adjoint_s: list[float] = []
        self.matrix: dict = {}
        timers = self
        base, adjoint = calculation.Solution, calculation.solve_adjoint

        class TimedSolution(base):
            def __init__(self, fg):
                t0 = time.perf_counter()
                super().__init__(fg)
                timers.solution_s.append(time.perf_counter() - t0)
                timers.matrix = {"technosphere": list(self.A.shape), "technosphere_nnz": int(self.A.nnz),
                                 "biosphere_flows": int(self.lca.biosphere_matrix.shape[0])}

        def timed_adjoint(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return adjoint(*args, **kwargs)
            finally:
                timers.adjoint_s.append(time.perf_counter() - t0)

        calculation.Solution = TimedSolution
        calculation.solve_adjoint = timed_adjoint


def engine_run(park, timers: Timers) -> tuple[dict, dict]:
    """compute_park with the time of each step; returns (totals by product, seconds)."""
    from footprint.engine.calculation import compute_park

    _drop_park_database(park)
    marks: list[tuple[str, float]] = []

    def step(msg: str) -> None:
        marks.append((msg.split()[0].lower(), time.perf_counter()))

    t0 = time.perf_counter()
    results = compute_park(park, step=step)
    marks.append(("end", time.perf_counter()))
    phases = {a: b_t - a_t for (a, a_t), (_, b_t) in zip(marks, marks[1:])}
    seconds = {
        "end_to_end": marks[-1][1] - t0,
        "project": phases.get("preparing", 0.0),
        "link": phases.get("linking", 0.0),
        "write": phases.get("writing", 0.0),
        "calculate": phases.get("solving", 0.0),
        "solve": timers.solution_s[-1],
        "adjoint": timers.adjoint_s[-1],
    }
    seconds["results"] = seconds["calculate"] - seconds["solve"]
    return {p.product_id: p.total for p in results.products}, seconds


def _drop_park_database(park) -> None:
    """Time the first write of a park, the same on every run (a rewrite also reloads the old one)."""
    import bw2data as bd

    from footprint.engine.inventory import database_name

    if database_name(park.park.id) in bd.databases:
        del bd.databases[database_name(park.park.id)]


def profile_run(park, folder: Path) -> Path:
    """One more, untimed compute_park under cProfile (the profiler slows it down)."""
    import cProfile

    from footprint.engine.calculation import compute_park

    _drop_park_database(park)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"compute_park-{park.park.id}.prof"
    profiler = cProfile.Profile()
    profiler.runcall(compute_park, park)
    profiler.dump_stats(out)
    return out


def naive_run(ids: dict[str, int], sample: list[str]) -> tuple[dict, list[float]]:
    """A new bw2calc.LCA per sampled product: (scores, seconds each)."""
    import bw2calc as bc

    from footprint.engine.background import METHODS

    scores, times = {}, []
    for pid in sample:
        t0 = time.perf_counter()
        lca = bc.LCA({ids[pid]: 1.0}, method=METHODS["total"])
        lca.lci()
        lca.lcia()
        times.append(time.perf_counter() - t0)
        scores[pid] = float(lca.score)
    return scores, times


def multilca_run(ids: dict[str, int], pids: list[str], chunk: int) -> tuple[dict, float, int]:
    """bw2calc.MultiLCA over all products (in chunks if asked): (scores, seconds, runs)."""
    import bw2calc as bc
    import bw2data as bd

    from footprint.engine.background import METHODS

    config = {"impact_categories": [METHODS["total"]]}
    chunk = chunk or len(pids)
    scores, runs = {}, 0
    t0 = time.perf_counter()
    for start in range(0, len(pids), chunk):
        demands = {pid: {ids[pid]: 1.0} for pid in pids[start:start + chunk]}
        mlca = bc.MultiLCA(demands, config, bd.get_multilca_data_objs(demands, config))
        mlca.lci()
        mlca.lcia()
        for key, value in mlca.scores.items():
            scores[key[1] if key[1] in demands else key[0]] = float(value)
        runs += 1
        del mlca
    return scores, time.perf_counter() - t0, runs


def rel_diff(engine: dict, other: dict) -> float:
    return max((abs(engine[p] - v) / max(abs(v), 1e-300) for p, v in other.items()), default=float("nan"))


# ---- main ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if min(sizes, default=0) < 3:
        raise SystemExit("--sizes: each park needs at least 3 products (its three utilities)")
    from footprint.engine import home

    data_dir = home.activate(args.home)  # before anything imports bw2data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import bw2calc as bc
    import bw2data as bd

    from footprint import __version__
    from footprint.engine.background import ensure_project, node_ids
    from footprint.park.loading import load_park

    print(f"footprint {__version__} engine benchmark — data directory {data_dir}", flush=True)
    t0 = time.perf_counter()
    ensure_project()
    log(f"project ready in {time.perf_counter() - t0:.1f} s")
    bg_size = ensure_background(args.activities, args.exchanges, args.seed)
    bg_codes = sorted(node_ids(BACKGROUND))
    timers = Timers()
    rows = []
    for n in sizes:
        print(f"\nN = {n:,} products", flush=True)
        folder = data_dir / "parks" / f"bench-{n}"
        park_size = write_park(folder, n, bg_codes, args.seed + n)
        t0 = time.perf_counter()
        park = load_park(folder)
        load_s = time.perf_counter() - t0
        log(f"park loaded and validated in {load_s:.2f} s: {park_size}")
        engine, sec = engine_run(park, timers)
        log(f"engine: end to end {sec['end_to_end']:.2f} s (link {sec['link']:.2f}, write {sec['write']:.2f}, "
            f"solve {sec['solve']:.2f} of which adjoint {sec['adjoint']:.2f}, results {sec['results']:.2f})")
        if args.profile:
            log(f"profile: {profile_run(park, Path(args.profile))} (an extra, untimed run)")
        pids = [o.product_id for o in park.outputs]
        ids = node_ids(f"park:{park.park.id}")
        sample = sorted(np.random.default_rng(args.seed).choice(pids, min(args.sample, n), replace=False).tolist())
        naive_scores, naive_times = naive_run(ids, sample)
        naive_each = statistics.median(naive_times)
        log(f"naive: {len(sample)} products, median {naive_each:.2f} s each → {naive_each * n:,.0f} s for {n:,} "
            "(extrapolated)")
        row = {
            "N": n, "background": bg_size, "park": park_size, "matrix": timers.matrix,
            "load_s": load_s, "engine_s": sec,
            "naive": {"sampled": len(sample), "median_s_per_product": naive_each, "times_s": naive_times,
                      "extrapolated_s": naive_each * n, "max_rel_diff": rel_diff(engine, naive_scores)},
        }
        if not args.skip_multilca:
            ml_scores, ml_s, runs = multilca_run(ids, pids, args.multilca_chunk)
            row["multilca"] = {"s": ml_s, "runs": runs, "chunk": args.multilca_chunk or n,
                               "max_rel_diff": rel_diff(engine, ml_scores), "products": len(ml_scores)}
            log(f"MultiLCA: {ml_s:.2f} s in {runs} run(s); max rel. diff vs engine "
                f"{row['multilca']['max_rel_diff']:.1e} over {len(ml_scores):,} products")
        rows.append(row)
    report(rows, args, bc.__version__, bd.__version__)
    return 0 if all(_agrees(r) for r in rows) else 1


def _agrees(row: dict) -> bool:
    diffs = [row["naive"]["max_rel_diff"]] + ([row["multilca"]["max_rel_diff"]] if "multilca" in row else [])
    return all(d < 1e-6 for d in diffs)


def report(rows: list[dict], args: argparse.Namespace, bc_version: str, bd_version) -> None:
    bg = rows[0]["background"] if rows else {}
    print(f"\nBackground {BACKGROUND}: {bg.get('activities', 0):,} activities, "
          f"{bg.get('technosphere_exchanges', 0):,} technosphere + {bg.get('biosphere_exchanges', 0):,} biosphere "
          f"exchanges. bw2calc {bc_version}, SciPy SuperLU (no PARDISO), {os.cpu_count()} CPUs.")
    head = (f"{'N':>6} {'matrix':>13} {'load':>6} {'solve':>6} {'e2e':>7} {'MultiLCA':>9} {'naive*':>9} "
            f"{'naive/e2e':>9} {'naive/solve':>11} {'ML/e2e':>7} {'ML/solve':>8} {'max rel diff':>12}")
    print(head)
    print("-" * len(head))
    for r in rows:
        e, nv = r["engine_s"], r["naive"]
        ml = r.get("multilca", {}).get("s")
        diff = max(nv["max_rel_diff"], r.get("multilca", {}).get("max_rel_diff", 0.0))
        size = f"{r['matrix']['technosphere'][0]:,}²"
        ml_cols = (f"{ml:>9.2f}", f"{ml / e['end_to_end']:>6.1f}×", f"{ml / e['solve']:>7.1f}×") if ml else \
            (f"{'-':>9}", f"{'-':>7}", f"{'-':>8}")
        print(f"{r['N']:>6,} {size:>13} {r['load_s']:>6.2f} {e['solve']:>6.2f} {e['end_to_end']:>7.2f} {ml_cols[0]} "
              f"{nv['extrapolated_s']:>9.0f} {nv['extrapolated_s'] / e['end_to_end']:>8.0f}× "
              f"{nv['extrapolated_s'] / e['solve']:>10.0f}× {ml_cols[1]} {ml_cols[2]} {diff:>12.1e}")
    print("\nAll times in seconds, wall clock. solve = matrices from the written databases + one adjoint solve "
          "(calculation.Solution); e2e = compute_park: link + write park database + solve + results.")
    print(f"* naive = median of a new bw2calc.LCA per product over a sample of {args.sample}, × N: EXTRAPOLATED, "
          "not run for every product.")
    if args.multilca_chunk:
        print(f"MultiLCA ran in chunks of {args.multilca_chunk} products, one after another; its time is the sum.")
    print("\nEngine breakdown (s):")
    print(f"{'N':>6} {'link':>6} {'write':>6} {'matrices':>8} {'adjoint':>8} {'results':>8} {'naive/product':>13}")
    for r in rows:
        e = r["engine_s"]
        print(f"{r['N']:>6,} {e['link']:>6.2f} {e['write']:>6.2f} {e['solve'] - e['adjoint']:>8.2f} "
              f"{e['adjoint']:>8.2f} {e['results']:>8.2f} {r['naive']['median_s_per_product']:>13.2f}")
    at = next((r for r in rows if r["N"] == 1000), None)
    if at:
        e, naive = at["engine_s"], at["naive"]["extrapolated_s"]
        ml = at.get("multilca", {}).get("s")
        print("\nExpectation at N = 1,000: engine ≥ 300× faster than naive, ≥ 10× faster than MultiLCA.")
        for label, t in (("end to end", e["end_to_end"]), ("solve only", e["solve"])):
            verdicts = [f"{naive / t:.0f}× naive ({'met' if naive / t >= EXPECTED['naive'] else 'NOT met'})"]
            if ml:
                verdicts.append(f"{ml / t:.1f}× MultiLCA ({'met' if ml / t >= EXPECTED['multilca'] else 'NOT met'})")
            print(f"  engine {label}: " + ", ".join(verdicts))
    out = Path(args.json) if args.json else RESULTS / f"bench_engine-{datetime.now():%Y%m%dT%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "benchmark": "bench_engine", "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "versions": {"bw2calc": bc_version, "bw2data": str(bd_version)}, "args": vars(args),
        "expectation_at_1000": EXPECTED, "rows": rows,
    }, indent=2, default=str), encoding="utf-8")
    print(f"\nJSON: {out}")


if __name__ == "__main__":
    sys.exit(main())
