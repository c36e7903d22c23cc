"""Batch benchmark: many parks and a big Monte Carlo on a Dask LocalCluster of 1 and 2 workers.

Not a test. In a throwaway data directory (default /tmp/footprint-bench-home, shared with
bench_engine.py, whose generated 20,000-activity background it reuses), it:

1. writes ``--parks`` generated parks of ``--products`` products each (bench_engine's generator,
   each park its own id and seed), linked to the generated background;
2. for each worker count in ``--workers``: starts a LocalCluster, prepares every worker (its data
   directory seeded from this one, then one park computed: setup, timed apart), then times
   ``footprint.batch.parks.run_batch`` computing every park (calc; results JSON written);
3. runs ``--iterations`` Monte Carlo iterations on one generated park of ``--mc-products``
   products: in this process, then with the chunks on each cluster; only the simulation is timed
   (``uncertainty.simulate``, wrapped, no engine code changed);
4. checks that every results file and every Monte Carlo distribution is identical across the worker
   counts (exit 1 if not), and prints time, speed-up and an Amdahl estimate for 16 workers from the
   measured 1 → 2 worker scaling (an ESTIMATE, not a measurement).

    .venv/bin/python benchmarks/bench_batch.py                        # 100 parks × 20, 10,000 iterations
    .venv/bin/python benchmarks/bench_batch.py --parks 10 --iterations 1000 --activities 2000 --exchanges 25000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_engine  # noqa: E402 - the background and park generators

RESULTS = bench_engine.RESULTS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--parks", type=int, default=100, help="generated parks in the batch")
    p.add_argument("--products", type=int, default=20, help="products per park (at least 3)")
    p.add_argument("--iterations", type=int, default=10_000, help="Monte Carlo iterations")
    p.add_argument("--mc-products", type=int, default=1000, help="products of the Monte Carlo park")
    p.add_argument("--workers", default="1,2", help="worker counts to time, comma-separated")
    p.add_argument("--estimate", type=int, default=16, help="worker count to estimate from the measured scaling")
    p.add_argument("--activities", type=int, default=20_000, help="background activities")
    p.add_argument("--exchanges", type=int, default=250_000, help="background technosphere exchanges")
    p.add_argument("--home", default=os.environ.get("FOOTPRINT_BENCH_HOME", "/tmp/footprint-bench-home"),
                   help="throwaway data directory (never your real FOOTPRINT_HOME)")
    p.add_argument("--seed", type=int, default=20250101, help="seed of the generators and the Monte Carlo")
    p.add_argument("--json", metavar="FILE", help="results JSON (default benchmarks/results/bench_batch-<time>.json)")
    return p.parse_args(argv)


log = bench_engine.log


def write_parks(root: Path, count: int, products: int, bg_codes: list[str], seed: int) -> list[Path]:
    """``count`` parks of ``products`` products, ids bench-batch-000..., each from its own seed."""
    folders = []
    for i in range(count):
        folder = root / f"bench-batch-{i:03d}"
        bench_engine.write_park(folder, products, bg_codes, seed + i)
        meta = folder / "park.yaml"
        meta.write_text(meta.read_text(encoding="utf-8").replace(f"id: bench-{products}\n",
                                                                 f"id: bench-batch-{i:03d}\n"), encoding="utf-8")
        folders.append(folder)
    return folders


def amdahl(t1: float, t2: float, n: int) -> dict:
    """Serial fraction s from T2 = T1·(s + (1 − s)/2), and the time it predicts on n workers."""
    s = min(max(2 * t2 / t1 - 1, 0.0), 1.0)
    tn = t1 * (s + (1 - s) / n)
    return {"serial_fraction": s, "workers": n, "estimated_s": tn, "estimated_speedup": t1 / tn}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    counts = [int(w) for w in args.workers.split(",") if w.strip()]
    if args.products < 3 or args.mc_products < 3:
        raise SystemExit("--products and --mc-products: each park needs at least 3 products (its utilities)")
    from footprint.engine import home

    data_dir = home.activate(args.home)
    from footprint.batch.cluster import connect, monte_carlo_on
    from footprint.batch.parks import Job, run_batch, run_park
    from footprint.engine import calculation, uncertainty
    from footprint.engine.background import ensure_project, node_ids
    from footprint.park.loading import load_park

    print(f"footprint batch benchmark — data directory {data_dir}, {os.cpu_count()} CPUs", flush=True)
    ensure_project()
    bg_size = bench_engine.ensure_background(args.activities, args.exchanges, args.seed)
    bg_codes = sorted(node_ids(bench_engine.BACKGROUND))
    parks = write_parks(data_dir / "parks" / "batch", args.parks, args.products, bg_codes, args.seed)
    mc_folder = data_dir / "parks" / f"bench-{args.mc_products}"
    bench_engine.write_park(mc_folder, args.mc_products, bg_codes, args.seed + args.mc_products)
    mc_park = load_park(mc_folder)
    log(f"{len(parks)} parks of {args.products} products written; Monte Carlo park of {args.mc_products} products")
    calculation.compute_park(load_park(parks[0]))  # the background's footprints cached here, copied to workers

    timed: list[float] = []
    simulate = uncertainty.simulate

    def timed_simulate(*a, **k):  # noqa: ANN002, ANN003, ANN202
        t0 = time.perf_counter()
        try:
            return simulate(*a, **k)
        finally:
            timed.append(time.perf_counter() - t0)

    uncertainty.simulate = timed_simulate

    def monte_carlo() -> tuple[float, dict]:
        results = calculation.compute_park(mc_park, iterations=args.iterations, seed=args.seed)
        return timed[-1], {p.product_id: p.uncertainty.model_dump() for p in results.products}

    mc_here_s, mc_here = monte_carlo()
    log(f"Monte Carlo in this process: {args.iterations:,} iterations in {mc_here_s:.1f} s")

    runs, outputs = [], {}
    for w in counts:
        out = data_dir / "batch-out" / f"workers-{w}"
        workers_root = data_dir / "batch-workers"
        jobs = [Job("calc", str(p), str(out), workers_root=str(workers_root), template=str(data_dir)) for p in parks]
        t0 = time.perf_counter()
        with connect(None, w) as client:
            started = time.perf_counter() - t0
            addresses = list(client.scheduler_info()["workers"])
            t0 = time.perf_counter()
            warm = [client.submit(run_park, jobs[0], workers=[a], allow_other_workers=False, pure=False)
                    for a in addresses]
            setup = [f.result() for f in warm]
            setup_s = time.perf_counter() - t0
            if not all(o.ok for o in setup):
                raise SystemExit(f"worker setup failed: {[o.error or o.problems for o in setup]}")
            log(f"{w} worker(s): cluster started in {started:.1f} s, workers prepared in {setup_s:.1f} s")
            t0 = time.perf_counter()
            outcomes = run_batch(client, jobs)
            batch_s = time.perf_counter() - t0
            failed = [o for o in outcomes if not o.ok]
            if failed:
                raise SystemExit(f"{len(failed)} park(s) failed: {failed[0].error or failed[0].problems[:3]}")
            log(f"{w} worker(s): {len(jobs)} parks in {batch_s:.1f} s")
            with uncertainty.running(monte_carlo_on(client)):
                mc_s, mc = monte_carlo()
            log(f"{w} worker(s): Monte Carlo {args.iterations:,} iterations in {mc_s:.1f} s")
        outputs[w] = {p.name: p.read_bytes() for p in sorted(out.iterdir())}
        runs.append({"workers": w, "cluster_start_s": started, "worker_setup_s": setup_s, "batch_s": batch_s,
                     "parks": len(jobs), "mc_s": mc_s, "mc_identical_to_one_process": mc == mc_here,
                     "per_worker_parks": {str(k): sum(1 for o in outcomes if o.worker == k)
                                          for k in sorted({o.worker for o in outcomes})}})
    same_results = all(outputs[w] == outputs[counts[0]] for w in counts)
    same_mc = all(r["mc_identical_to_one_process"] for r in runs)
    report = {"benchmark": "bench_batch", "date": datetime.now(UTC).isoformat(timespec="seconds"),
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                          "python": platform.python_version(), "load_average": os.getloadavg()},
              "args": vars(args), "background": bg_size, "mc_in_process_s": mc_here_s, "runs": runs,
              "results_identical": same_results, "mc_identical": same_mc}
    print(f"\n{args.parks} parks × {args.products} products (calc), and {args.iterations:,} Monte Carlo iterations on "
          f"a park of {args.mc_products} products; background {bg_size['activities']:,} activities, "
          f"{bg_size['technosphere_exchanges']:,} exchanges.")
    head = f"{'workers':>7} {'start':>6} {'setup':>6} {'batch':>7} {'speed-up':>8} {'MC':>7} {'speed-up':>8}"
    print(head + "\n" + "-" * len(head))
    print(f"{'-':>7} {'':>6} {'':>6} {'':>7} {'':>8} {mc_here_s:>7.1f} {'':>8}   (Monte Carlo in this process)")
    base = runs[0]
    for r in runs:
        print(f"{r['workers']:>7} {r['cluster_start_s']:>6.1f} {r['worker_setup_s']:>6.1f} {r['batch_s']:>7.1f} "
              f"{base['batch_s'] / r['batch_s']:>7.2f}× {r['mc_s']:>7.1f} {base['mc_s'] / r['mc_s']:>7.2f}×")
    one = next((r for r in runs if r["workers"] == 1), None)
    two = next((r for r in runs if r["workers"] == 2), None)
    if one and two:
        report["estimate"] = {"batch": amdahl(one["batch_s"], two["batch_s"], args.estimate),
                              "mc": amdahl(one["mc_s"], two["mc_s"], args.estimate)}
        for name, e in report["estimate"].items():
            print(f"ESTIMATE for {args.estimate} workers ({name}, Amdahl from the measured 1 → 2 scaling, serial "
                  f"fraction {e['serial_fraction']:.2f}): {e['estimated_s']:.1f} s, {e['estimated_speedup']:.1f}× "
                  "— not measured")
    print(f"Results files identical across worker counts: {same_results}; Monte Carlo identical to one process: "
          f"{same_mc}. Times in seconds, wall clock; start = LocalCluster start, setup = each worker's data "
          "directory seeded and one park computed (not in batch).")
    out = Path(args.json) if args.json else RESULTS / f"bench_batch-{datetime.now():%Y%m%dT%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    print(f"JSON: {out}")
    return 0 if same_results and same_mc else 1


if __name__ == "__main__":
    sys.exit(main())
