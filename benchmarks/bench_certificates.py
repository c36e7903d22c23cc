"""Render N certificates single-process and with a process pool; print documents/s and peak memory.

    python benchmarks/bench_certificates.py [PARK_DIR] [-n 50] [--workers 2] [--lang zh-en]

The park is computed once (not timed); its results go to a JSON file, and each mode renders in a
fresh Python process that never imports Brightway, so its peak RSS is the rendering's own.
Times include the renderer's start-up (font, stylesheet, templates) once per process, reported apart.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ISSUER = ROOT / "inventories" / "demo-issuer.yaml"
ISSUE = date(2026, 3, 1)

_results = None


def _load(results_file: str):
    global _results
    from footprint.park.models import Results

    _results = Results.model_validate_json(Path(results_file).read_text(encoding="utf-8"))
    return _results


def _render(job: tuple[str, str, str]) -> tuple[int, float]:
    """Render one certificate; returns (PDF bytes, seconds)."""
    from footprint.certificates import document as certificate_document
    from footprint.registry.certificate import draft
    from footprint.registry.issuer import load_issuer

    results_file, product_id, lang = job
    results = _results or _load(results_file)
    cert = draft(results, product_id, load_issuer(ISSUER), ISSUE)
    started = time.perf_counter()
    pdf = certificate_document.render_certificate(results, cert, lang, "CN").pdf
    return len(pdf), time.perf_counter() - started


def _warm(results_file: str) -> float:
    from footprint import documents

    started = time.perf_counter()
    _load(results_file)
    documents.renderer()
    return time.perf_counter() - started


def _peak_mib(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def run_mode(results_file: str, n: int, workers: int, lang: str) -> dict:
    """One mode in this process: 0 workers = single process."""
    results = _load(results_file)
    ids = [p.product_id for p in results.products]
    jobs = [(results_file, ids[i % len(ids)], lang) for i in range(n)]
    if workers == 0:
        warm = _warm(results_file)
        started = time.perf_counter()
        out = [_render(j) for j in jobs]
        wall = time.perf_counter() - started
        peak = _peak_mib(resource.RUSAGE_SELF)
    else:
        started = time.perf_counter()
        with ProcessPoolExecutor(workers, initializer=_warm, initargs=(results_file,)) as pool:
            out = list(pool.map(_render, jobs))
        wall = time.perf_counter() - started  # includes workers' start-up and warm-up
        warm = float("nan")
        peak = _peak_mib(resource.RUSAGE_CHILDREN)  # the largest worker
    per_doc = sorted(t for _, t in out)
    return {"mode": "single process" if workers == 0 else f"pool of {workers}", "n": n, "wall_s": wall,
            "docs_per_s": n / wall, "median_ms": 1000 * per_doc[len(per_doc) // 2],
            "p90_ms": 1000 * per_doc[int(len(per_doc) * 0.9)], "warm_up_s": warm,
            "mean_kib": sum(size for size, _ in out) / len(out) / 1024, "peak_rss_mib": peak}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("park", nargs="?", default=str(ROOT / "inventories" / "demo-park"))
    ap.add_argument("-n", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--lang", default="zh-en")
    ap.add_argument("--mode-json", help=argparse.SUPPRESS)  # internal: run one mode, print JSON
    ap.add_argument("--mode-workers", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.mode_json:
        print(json.dumps(run_mode(args.mode_json, args.n, args.mode_workers, args.lang)))
        return

    from footprint import compute

    started = time.perf_counter()
    results = compute(args.park)
    print(f"computed {results.park}: {len(results.products)} products in {time.perf_counter() - started:.1f} s "
          f"(not timed below); {os.cpu_count()} CPUs", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        results_file = Path(tmp) / "results.json"
        results_file.write_text(results.model_dump_json(), encoding="utf-8")
        print(f"{'mode':<16}{'docs/s':>8}{'wall s':>8}{'median ms':>11}{'p90 ms':>8}{'warm-up s':>11}"
              f"{'KiB/doc':>9}{'peak RSS MiB/process':>22}")
        for workers in (0, args.workers):
            line = subprocess.run([sys.executable, __file__, "--mode-json", str(results_file), "-n", str(args.n),
                                   "--mode-workers", str(workers), "--lang", args.lang],
                                  capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
            r = json.loads(line)
            print(f"{r['mode']:<16}{r['docs_per_s']:>8.2f}{r['wall_s']:>8.2f}{r['median_ms']:>11.0f}"
                  f"{r['p90_ms']:>8.0f}{r['warm_up_s']:>11.2f}{r['mean_kib']:>9.0f}{r['peak_rss_mib']:>22.0f}")


if __name__ == "__main__":
    main()
