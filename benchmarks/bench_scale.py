"""Scale benchmark: a park with many input rows (calc) and a deep supply chain (review).

Not a test. Issue 14 asks for 200,000 input rows computed well under a minute and the review of a
2,000-deep chain under a minute. This writes both parks into a throwaway folder and times the
command line end to end (a fresh process each, as a user runs it), in a throwaway data directory:

    .venv/bin/python benchmarks/bench_scale.py                       # 200,000 rows, depth 2,000
    .venv/bin/python benchmarks/bench_scale.py --rows 20000 --depth 200

The wide park has ``--rows`` input rows spread over 100 facilities (one product each), every row a
background or park factor, so the grouping of contributions by row, facility, enterprise and
category sees every row. The deep park is a chain p0 ← p1 ← … ← p(depth-1), each link adding one
kWh of grid electricity. Printed: wall and CPU seconds per command and its peak memory (wait4).
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOOTPRINT = [sys.executable, "-m", "footprint.cli.main"]  # the `footprint` command
PARK_YAML = ("format: footprint-park/1\nid: {id}\nname: Scale park\ncountry: CN\n"
             "period: {{start: 2025-01-01, end: 2025-12-31}}\nbackground: open-factors\n")
INPUT_HEADER = ["facility_id", "ref", "amount", "unit", "data_type", "source"]


def _write(path: Path, header: list[str], rows: list[list]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


def wide_park(folder: Path, rows: int, facilities: int = 100) -> Path:
    """``rows`` input rows over ``facilities`` one-product facilities."""
    folder.mkdir(parents=True)
    (folder / "park.yaml").write_text(PARK_YAML.format(id="scale-wide"))
    _write(folder / "facilities.csv", ["facility_id", "enterprise", "name"],
           [[f"f{n}", f"Enterprise {n % 7}", f"Plant {n}"] for n in range(facilities)])
    _write(folder / "outputs.csv", ["product_id", "facility_id", "name", "unit", "amount"],
           [[f"p{n}", f"f{n}", f"Product {n}", "kg", 1000] for n in range(facilities)])
    _write(folder / "factors.csv", ["code", "name", "unit", "fossil", "biogenic", "luc", "source"],
           [[f"m{n}", f"Material {n}", "kg", 1 + n / 100, 0, 0, "bench"] for n in range(50)])
    refs = ["bg:electricity-cn-east", *(f"factor:m{n}" for n in range(50))]
    _write(folder / "inputs.csv", INPUT_HEADER,
           [[f"f{n % facilities}", refs[n % len(refs)], 1 + n % 13, "kWh" if n % len(refs) == 0 else "kg",
             "secondary", f"bench row {n}"] for n in range(rows)])
    return folder


def deep_park(folder: Path, depth: int) -> Path:
    """A chain: product k uses 1 kg of product k+1 and 1 kWh of grid electricity."""
    folder.mkdir(parents=True)
    (folder / "park.yaml").write_text(PARK_YAML.format(id="scale-deep"))
    _write(folder / "facilities.csv", ["facility_id", "enterprise", "name"],
           [[f"f{n}", f"Enterprise {n}", f"Plant {n}"] for n in range(depth)])
    _write(folder / "outputs.csv", ["product_id", "facility_id", "name", "unit", "amount"],
           [[f"p{n}", f"f{n}", f"Product {n}", "kg", 1] for n in range(depth)])
    rows = [[f"f{n}", "bg:electricity-cn-east", 1, "kWh", "secondary", "bench"] for n in range(depth)]
    rows += [[f"f{n}", f"p{n + 1}", 1, "kg", "primary", "bench"] for n in range(depth - 1)]
    _write(folder / "inputs.csv", INPUT_HEADER, rows)
    return folder


def run(args: list[str], env: dict[str, str]) -> tuple[float, float, float, int]:
    """Wall seconds, CPU seconds and peak memory (MiB) of this child alone (wait4), and its exit code.

    CPU seconds (user + system) barely depend on what else the machine runs; wall seconds do."""
    started = time.perf_counter()
    child = subprocess.Popen([*FOOTPRINT, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code:
        print(stderr.decode(errors="replace")[-2000:], file=sys.stderr)
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, code


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=200_000, help="input rows of the wide park")
    p.add_argument("--depth", type=int, default=2_000, help="length of the deep park's supply chain")
    p.add_argument("--iterations", type=int, default=1000, help="Monte Carlo iterations of the review")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="footprint-bench-scale-") as tmp:
        env = {**os.environ, "FOOTPRINT_HOME": f"{tmp}/home"}
        run(["validate", str(deep_park(Path(tmp) / "warm", 2))], env)  # set up the project once
        wide = wide_park(Path(tmp) / "wide", args.rows)
        seconds, cpu, mib, code = run(["calc", str(wide)], env)
        print(f"calc, {args.rows:,} input rows: {seconds:.1f} s ({cpu:.1f} s CPU), peak {mib:,.0f} MiB, exit {code}")
        deep = deep_park(Path(tmp) / "deep", args.depth)
        out = Path(tmp) / "review"
        seconds, cpu, mib, code = run(["review", str(deep), "--out", str(out), "--iterations", str(args.iterations),
                                  "--issue-date", "2026-03-01"], env)
        made = sorted(p.name for p in out.iterdir()) if out.exists() else []
        print(f"review, chain of depth {args.depth:,}: {seconds:.1f} s ({cpu:.1f} s CPU), peak {mib:,.0f} MiB, "
              f"exit {code}, "
              f"wrote {', '.join(made) or 'nothing'}")


if __name__ == "__main__":
    main()
