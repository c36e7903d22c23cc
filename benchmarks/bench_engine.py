"""Engine benchmark: the in-memory engine against today's path (main before issue 17) and bw2calc's MultiLCA.

Not a test. Builds, in a throwaway data directory (``--home``), a generated background database of
ecoinvent's size (default 20,000 activities, 250,000 technosphere exchanges) and generated parks of N
products linked to it. For each N it runs, each in its own process so that time, CPU and peak memory are
its own (peak = the process's resident high-water mark, reset after start-up via /proc/self/clear_refs):

- baseline: ``compute_park`` of main at BASELINE (extracted with ``git archive``), which writes the park
  database through bw2data on every run, builds the matrices with bw2calc and solves; its first write of
  the park, as every calc, review and certify did;
- engine: this checkout's ``compute_park`` in a process that has imported everything and opened the
  project (a server or batch worker): the first calculation of the park (background footprints read from
  the data directory's cache), the same park again (unchanged), a changed row (background in memory), the
  park database written (what review, bundle and ``calc --brightway`` add) and not rewritten; and, in
  another process, the first calculation with no background cache (the background is solved);
- previous engine: the same engine run of main at PREVIOUS (the engine before its second speed pass), whose
  whole results must be identical to this checkout's (SHA-256 of the results JSON);
- MultiLCA: ``bw2calc.MultiLCA`` with one functional unit per product and the total method on the written
  database (data packages, matrices, LCI, LCIA), and a new ``bw2calc.LCA`` per product for ``--sample``
  products (the median × N is an EXTRAPOLATION, printed as one).

It exits 1 unless every product's fossil, biogenic, luc and total agree with the baseline's within 1e-9
relative and the totals with MultiLCA's within 1e-6 (bw2calc rounds characterisation factors to float32).

    .venv/bin/python benchmarks/bench_engine.py --home /tmp/footprint-bench-home             # N = 100, 1000
    .venv/bin/python benchmarks/bench_engine.py --sizes 100 --activities 2000 --exchanges 25000   # quick check

The background database is kept in the data directory and only regenerated when its parameters change.
Results go to stdout and, as JSON, to benchmarks/results/ (git-ignored). See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BACKGROUND = "bench-background"
GENERATOR = "market-zipf/1"  # bump when the background generator changes, to invalidate caches
BASELINE = "9bc659c"  # main before issue 17's engine change: the park database written on every run
PREVIOUS = "869285c"  # main before the engine's second speed pass (first calculation 0.93 s CPU at N = 1,000)
GOALS = {"first_s": 1.0, "unchanged_s": 0.050}  # issue 17 at N = 1,000: first calculation, unchanged park
USER_DATA = Path("~/.local/share/footprint").expanduser()  # the default data directory a benchmark must not touch


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--sizes", default="100,1000", help="park sizes N (products), comma-separated")
    p.add_argument("--activities", type=int, default=20_000, help="background activities")
    p.add_argument("--exchanges", type=int, default=250_000, help="background technosphere exchanges")
    p.add_argument("--home", default=os.environ.get("FOOTPRINT_BENCH_HOME", "/tmp/footprint-bench-home"),
                   help="throwaway data directory (never your real FOOTPRINT_HOME); everything goes here")
    p.add_argument("--sample", type=int, default=3, help="products timed with a new bw2calc.LCA each")
    p.add_argument("--repeat", type=int, default=5, help="runs of the unchanged park (the median is reported)")
    p.add_argument("--skip-baseline", action="store_true", help="do not run main's path")
    p.add_argument("--skip-multilca", action="store_true", help="do not run MultiLCA and the naive LCAs")
    p.add_argument("--skip-previous", action="store_true", help=f"do not run the engine of main at {PREVIOUS}")
    p.add_argument("--seed", type=int, default=20250101, help="seed of the generators and the sample")
    p.add_argument("--json", metavar="FILE", help="results JSON (default benchmarks/results/bench_engine-<time>.json)")
    p.add_argument("--child", choices=("baseline", "engine", "engine-cold", "multilca"), help=argparse.SUPPRESS)
    p.add_argument("--park", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
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


# ---- measuring, in a child process ----------------------------------------------------------


def reset_peak() -> None:
    """Start a new resident-memory high-water mark (Linux ≥ 4.0), so a phase's peak is its own."""
    Path("/proc/self/clear_refs").write_text("5")


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measured(fn):
    """(value, {wall_s, cpu_s, peak_mb}) of one call; CPU is this process's (the machine is shared)."""
    reset_peak()
    t0, c0 = time.perf_counter(), time.process_time()
    value = fn()
    return value, {"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0, "peak_mb": peak_mb()}


def parts(results) -> dict:
    return {p.product_id: [p.fossil, p.biogenic, p.luc, p.total] for p in results.products}


def child(args: argparse.Namespace) -> dict:
    """One measured run, in this (fresh) process; returns what the parent reports."""
    from footprint.engine import home

    home.activate(args.home)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import bw2calc  # noqa: F401 - imported before timing, as in a running process
    import footprint
    from footprint.engine.background import ensure_project
    from footprint.engine.calculation import compute_park
    from footprint.park.loading import load_park

    park = load_park(args.park)
    ensure_project()  # the process has opened the project before (start-up, not the calculation)
    out: dict = {"footprint": footprint.__file__}
    if args.child == "baseline":
        import bw2data as bd

        name = f"park:{park.park.id}"
        if name in bd.databases:  # main wrote the park on every run; time its first write, the same each time
            del bd.databases[name]
        marks: list[tuple[str, float, float]] = []
        results, out["run"] = measured(lambda: compute_park(
            park, step=lambda s: marks.append((s.split()[0].lower(), time.perf_counter(), time.process_time()))))
        marks.append(("end", time.perf_counter(), time.process_time()))
        out["steps"] = {a: {"wall_s": w2 - w1, "cpu_s": c2 - c1} for (a, w1, c1), (_, w2, c2) in zip(marks, marks[1:])}
        out["parts"] = parts(results)
        return out
    if args.child == "engine-cold":
        for path in (home.resolve() / "cache").glob("background-*.npz"):
            path.unlink()
        results, out["first_no_cache"] = measured(lambda: compute_park(park))
        return out
    if args.child == "engine":
        marks: list[tuple[str, float, float]] = []
        results, out["first"] = measured(lambda: compute_park(
            park, step=lambda s: marks.append((s.split()[0].lower(), time.perf_counter(), time.process_time()))))
        marks.append(("end", time.perf_counter(), time.process_time()))
        out["first_steps"] = {a: {"wall_s": w2 - w1, "cpu_s": c2 - c1}
                              for (a, w1, c1), (_, w2, c2) in zip(marks, marks[1:])}
        out["results_sha256"] = hashlib.sha256(results.model_dump_json().encode()).hexdigest()
        out["results_bytes"] = len(results.model_dump_json())
        runs = [measured(lambda: compute_park(park))[1] for _ in range(args.repeat)]
        out["unchanged"] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        again = load_park(args.park)
        _, out["unchanged_reloaded"] = measured(lambda: compute_park(again))
        edited = again.model_copy(deep=True)
        edited.inputs[0].amount *= 1.01
        _, out["changed_row"] = measured(lambda: compute_park(edited))
        import bw2data as bd

        if f"park:{park.park.id}" in bd.databases:  # written by an earlier run (the previous engine's): write it anew
            del bd.databases[f"park:{park.park.id}"]
        _, out["write"] = measured(lambda: compute_park(park, write_database=True))
        _, out["write_unchanged"] = measured(lambda: compute_park(park, write_database=True))
        out["parts"] = parts(results)
        return out
    # multilca: on the park database the engine child wrote
    import bw2calc as bc
    import bw2data as bd

    from footprint.engine.background import METHODS, node_ids

    ids = node_ids(f"park:{park.park.id}")
    pids = [o.product_id for o in park.outputs if o.kind == "product"]
    config = {"impact_categories": [METHODS["total"]]}
    demands = {pid: {ids[pid]: 1.0} for pid in pids}

    def multilca() -> dict:
        mlca = bc.MultiLCA(demands, config, bd.get_multilca_data_objs(demands, config))
        mlca.lci()
        mlca.lcia()
        return {key[1] if key[1] in demands else key[0]: float(v) for key, v in mlca.scores.items()}

    out["scores"], out["multilca"] = measured(multilca)
    sample = sorted(np.random.default_rng(args.seed).choice(pids, min(args.sample, len(pids)), replace=False))
    naive = []
    for pid in sample:
        lca = bc.LCA({ids[pid]: 1.0}, method=METHODS["total"])
        _, m = measured(lambda lca=lca: (lca.lci(), lca.lcia()))
        naive.append(m)
    out["naive"] = {"sampled": len(sample), "each": naive}
    return out


def run_child(mode: str, args: argparse.Namespace, park_dir: Path, baseline_tree: Path | None = None) -> dict:
    """Run one measurement in a new process (the baseline with main's package first on its path)."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = Path(fh.name)
    env = dict(os.environ)
    if baseline_tree:
        env["PYTHONPATH"] = str(baseline_tree)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", mode, "--park", str(park_dir), "--home",
           args.home, "--out", str(out), "--repeat", str(args.repeat), "--sample", str(args.sample),
           "--seed", str(args.seed)]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=baseline_tree or ROOT, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{mode} run failed:\n{done.stderr[-3000:]}")
    data = json.loads(out.read_text())
    out.unlink()
    data["process_s"] = time.perf_counter() - t0
    return data


def extract_baseline(folder: Path, revision: str = BASELINE) -> Path:
    """main at a revision: its package and the open-factors CSV it reads, from git."""
    folder.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "footprint", "inventories/background"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def rel_diff(a: dict, b: dict, column: int | None = None) -> float:
    """Largest relative difference over the products of both (one column of ``parts``, or plain values)."""
    diffs = []
    for p in a.keys() & b.keys():
        x, y = (a[p][column], b[p][column]) if column is not None else (a[p], b[p])
        diffs.append(abs(x - y) / max(abs(y), 1e-300) if y or x else 0.0)
    return max(diffs, default=float("nan"))


# ---- main ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        Path(args.out).write_text(json.dumps(child(args)))
        return 0
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if min(sizes, default=0) < 3:
        raise SystemExit("--sizes: each park needs at least 3 products (its three utilities)")
    user_data_before = _tree_state(USER_DATA)
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
    ensure_project()
    bg_size = ensure_background(args.activities, args.exchanges, args.seed)
    bg_codes = sorted(node_ids(BACKGROUND))
    rows = []
    with tempfile.TemporaryDirectory(prefix="footprint-baseline-") as tmp:
        tree = None if args.skip_baseline else extract_baseline(Path(tmp) / "baseline")
        previous = None if args.skip_previous else extract_baseline(Path(tmp) / "previous", PREVIOUS)
        for n in sizes:
            print(f"\nN = {n:,} products", flush=True)
            folder = data_dir / "parks" / f"bench-{n}"
            park_size = write_park(folder, n, bg_codes, args.seed + n)
            park = load_park(folder)
            row = {"N": n, "background": bg_size, "park": park_size}
            row["engine_cold"] = run_child("engine-cold", args, folder)  # leaves the background cache for the rest
            log(f"engine, no background cache: {_fmt(row['engine_cold']['first_no_cache'])}")
            if tree:
                row["baseline"] = run_child("baseline", args, folder, tree)
                log(f"baseline (main {BASELINE}): {_fmt(row['baseline']['run'])}")
            if previous:
                row["previous"] = run_child("engine", args, folder, previous)
                log(f"previous engine (main {PREVIOUS}): first {_fmt(row['previous']['first'])}")
            row["engine"] = run_child("engine", args, folder)
            e = row["engine"]
            log(f"engine: first {_fmt(e['first'])}; unchanged {_fmt(e['unchanged'])}; changed row "
                f"{_fmt(e['changed_row'])}; write {_fmt(e['write'])}")
            if not args.skip_multilca:
                row["multilca"] = run_child("multilca", args, folder)
                log(f"MultiLCA: {_fmt(row['multilca']['multilca'])}")
            row["matrix"] = {"activities": bg_size["activities"] + len(park.outputs) + len(park.factors)}
            rows.append(row)
    home_ok = all(p.is_relative_to(data_dir) for p in _written_caches(data_dir))
    untouched = _tree_state(USER_DATA) == user_data_before
    report(rows, args, bc.__version__, bd.__version__, data_dir, home_ok and untouched)
    return 0 if all(_agrees(r) for r in rows) and untouched else 1


def _tree_state(folder: Path) -> list[tuple[str, int]]:
    """Every file under a folder with its modification time (empty when there is no folder)."""
    return sorted((str(p), p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def _written_caches(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "cache").glob("background-*.npz"))


def _fmt(m: dict) -> str:
    return f"{m['wall_s'] * 1000:,.0f} ms wall / {m['cpu_s'] * 1000:,.0f} ms CPU, peak {m['peak_mb']:,.0f} MiB"


def _agrees(row: dict) -> bool:
    ok = True
    if "baseline" in row:
        ok &= all(rel_diff(row["engine"]["parts"], row["baseline"]["parts"], k) <= 1e-9 for k in range(4))
    if "previous" in row:
        ok &= row["engine"]["results_sha256"] == row["previous"]["results_sha256"]
    if "multilca" in row:
        totals = {p: v[3] for p, v in row["engine"]["parts"].items()}
        ok &= rel_diff(totals, row["multilca"]["scores"]) <= 1e-6
    return ok


def report(rows: list[dict], args: argparse.Namespace, bc_version: str, bd_version, data_dir: Path,
           home_ok: bool) -> None:
    bg = rows[0]["background"] if rows else {}
    print(f"\nBackground {BACKGROUND}: {bg.get('activities', 0):,} activities, {bg.get('technosphere_exchanges', 0):,} "
          f"technosphere + {bg.get('biosphere_exchanges', 0):,} biosphere exchanges. bw2calc {bc_version}, "
          f"bw2data {bd_version}, SciPy SuperLU, {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}.")
    print("Each cell: wall ms / CPU ms of the measuring process / its peak resident memory MiB.\n")
    cases = [("baseline", "run", f"main {BASELINE}: compute_park (writes the park)"),
             ("previous", "first", f"engine of main {PREVIOUS}: first calculation"),
             ("engine", "first", "engine: first calculation (cache on disk)"),
             ("engine_cold", "first_no_cache", "engine: first calculation, no cache"),
             ("engine", "changed_row", "engine: a changed row (background in memory)"),
             ("engine", "unchanged", f"engine: unchanged park (median of {args.repeat})"),
             ("engine", "unchanged_reloaded", "engine: unchanged park, read again"),
             ("engine", "write", "engine: write the park database"),
             ("engine", "write_unchanged", "engine: write requested, unchanged"),
             ("multilca", "multilca", "bw2calc MultiLCA, all products")]
    print(f"{'':48}" + "".join(f"{'N = ' + format(r['N'], ','):>26}" for r in rows))
    for group, key, label in cases:
        cells = [r[group][key] if group in r else None for r in rows]
        if any(cells):
            print(f"{label:48}" + "".join(f"{_cell(c):>26}" for c in cells))
    print(f"{'naive bw2calc.LCA per product × N (EXTRAPOLATED)':48}" + "".join(
        f"{_naive(r):>26}" for r in rows))
    print("\nRatios (wall; CPU in brackets):")
    for r in rows:
        e = r["engine"]
        line = [f"N = {r['N']:,}:"]
        for label, other in (("main", r.get("baseline", {}).get("run")),
                             (f"engine {PREVIOUS}", r.get("previous", {}).get("first")),
                             ("MultiLCA", r.get("multilca", {}).get("multilca"))):
            if other:
                line.append(f"{label} ÷ first {_ratio(other, e['first'])}, "
                            f"{label} ÷ unchanged {_ratio(other, e['unchanged'])}")
        print(f"  {line[0]} " + "; ".join(line[1:]))
    print("\nSizes:")
    for r in rows:
        p = r["park"]
        print(f"  N = {r['N']:,}: {p['products']:,} products, {p['facilities']:,} facilities, "
              f"{p['input_rows']:,} input and {p['emission_rows']:,} emission rows; "
              f"matrix {r['matrix']['activities']:,} activities")
    print("\nAgreement (largest relative difference over all products):")
    for r in rows:
        parts_ = [f"N = {r['N']:,}:"]
        if "baseline" in r:
            d = max(rel_diff(r["engine"]["parts"], r["baseline"]["parts"], k) for k in range(4))
            parts_.append(f"engine vs main, fossil/biogenic/luc/total {d:.1e} (bound 1e-9)")
        if "previous" in r:
            same = r["engine"]["results_sha256"] == r["previous"]["results_sha256"]
            parts_.append(f"whole results JSON ({r['engine']['results_bytes']:,} bytes) "
                          f"{'identical to' if same else 'DIFFERENT FROM'} engine {PREVIOUS}'s")
        if "multilca" in r:
            totals = {p: v[3] for p, v in r["engine"]["parts"].items()}
            parts_.append(f"engine vs MultiLCA, total {rel_diff(totals, r['multilca']['scores']):.1e} (bound 1e-6)")
        print(f"  {parts_[0]} " + "; ".join(parts_[1:]))
    at = next((r for r in rows if r["N"] == 1000), None)
    if at:
        e = at["engine"]
        steps = ", ".join(f"{k} {v['wall_s'] * 1000:,.0f} / {v['cpu_s'] * 1000:,.0f}"
                          for k, v in e["first_steps"].items())
        print(f"\nFirst calculation at N = 1,000 by step (wall / CPU ms): {steps}")
        print("\nGoals at N = 1,000 (issue 17), in a running process:")
        for label, m, goal in (("first calculation", e["first"], GOALS["first_s"]),
                               ("unchanged park", e["unchanged"], GOALS["unchanged_s"])):
            print(f"  {label} ≤ {goal * 1000:.0f} ms: wall {m['wall_s'] * 1000:,.0f} ms "
                  f"({'met' if m['wall_s'] <= goal else 'NOT met'}), CPU {m['cpu_s'] * 1000:,.0f} ms "
                  f"({'met' if m['cpu_s'] <= goal else 'NOT met'})")
    caches = ", ".join(p.name for p in _written_caches(data_dir))
    print(f"\nData directory: background caches in {data_dir / 'cache'} ({caches}); {USER_DATA} "
          f"{'untouched' if home_ok else 'WRITTEN TO (bug)'}.")
    out = Path(args.json) if args.json else RESULTS / f"bench_engine-{datetime.now():%Y%m%dT%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "benchmark": "bench_engine", "date": datetime.now(UTC).isoformat(timespec="seconds"), "baseline": BASELINE,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_average": os.getloadavg()},
        "versions": {"bw2calc": bc_version, "bw2data": str(bd_version)}, "args": vars(args), "goals": GOALS,
        "rows": rows,
    }, indent=2, default=str), encoding="utf-8")
    print(f"\nJSON: {out}")


def _cell(m: dict | None) -> str:
    return "-" if m is None else f"{m['wall_s'] * 1000:,.0f} / {m['cpu_s'] * 1000:,.0f} / {m['peak_mb']:,.0f}"


def _naive(row: dict) -> str:
    each = row.get("multilca", {}).get("naive", {}).get("each")
    if not each:
        return "-"
    w = statistics.median(m["wall_s"] for m in each) * row["N"]
    c = statistics.median(m["cpu_s"] for m in each) * row["N"]
    return f"{w * 1000:,.0f} / {c * 1000:,.0f} / -"


def _ratio(other: dict, new: dict) -> str:
    return f"{other['wall_s'] / new['wall_s']:,.1f}× ({other['cpu_s'] / new['cpu_s']:,.1f}×)"


if __name__ == "__main__":
    sys.exit(main())
