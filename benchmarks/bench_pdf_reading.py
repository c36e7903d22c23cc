"""pyHanko's reading of a document during ``footprint verify``, with the one-pass reading against without it.

    python benchmarks/bench_pdf_reading.py [--home DIR] [--rounds 8] [-n 3] [--verify]

Not a test. The documents are benchmarks/bench_verify.py's (the demo park's certificates and the demo shipment
declaration, issued once into ``<home>/bench-verify/``). What is timed is verify's PDF object reading, per
document: ``PdfFileReader(io.BytesIO(pdf), strict=False)`` (both revisions' cross-reference streams, the trailer),
``reader.embedded_regular_signatures`` and ``embedded_timestamp_signatures`` (the form fields, the signature
dictionary), ``verification.embedded_files(pdf, reader)`` (the names tree, file specification, embedded file).

- **before**: pyHanko's reader with this module's earlier shortcuts (hex and literal strings, tokens, object
  streams' headers: main before the one-pass reading);
- **one pass**: the same, with ``certificates/pdf_reading.py``'s one-pass reading on (whole plain objects read with
  one regular expression, string objects made in one step, plain cross-reference streams' rows cut with
  ``int.from_bytes`` and entered without an entry object each).

Both in one process, switched per round in alternating order (before, one pass, one pass, before, …): the machine
drifts and is shared. Each round reads every document ``-n`` times; the figure is the median over the rounds of
the CPU time (``time.process_time``) per document, with wall time beside it. Both readings must give the same
signatures' byte ranges and embedded files, or it exits 1. With ``--verify``, whole ``verification.verify`` calls
(every check, every verdict valid) are timed the same way instead. JSON goes to benchmarks/results/ (git-ignored).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
GOAL_MS = 2.0  # issue 17's share for verify's PDF reading (CPU per document)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--home", default=os.environ.get("FOOTPRINT_BENCH_HOME", "/tmp/footprint-bench-home"),
                   help="throwaway data directory (never your real FOOTPRINT_HOME)")
    p.add_argument("--rounds", type=int, default=8, help="rounds of each reading, alternating (at least 6)")
    p.add_argument("-n", type=int, default=3, help="readings of every document per round")
    p.add_argument("--verify", action="store_true", help="time whole verify calls instead of the reading")
    return p.parse_args(argv)


def read(pdf: bytes) -> tuple:
    """verify's reading of one document: the signatures' byte ranges and the embedded files."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    from footprint.certificates import verification

    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    sigs = reader.embedded_regular_signatures
    stamps = reader.embedded_timestamp_signatures
    return [s.byte_range for s in sigs], len(stamps), verification.embedded_files(pdf, reader)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from footprint.engine import home

    data_dir = home.activate(args.home)  # before anything imports bw2data
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import logging

    from bench_verify import _verifying

    from footprint.certificates import pdf_reading, verification

    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    with _verifying(data_dir) as (paths, roots, source):
        return measure(args, [(p, p.read_bytes()) for p in paths], pdf_reading,
                       lambda path, pdf: verification.verify(path, roots, source, pdf=pdf).valid)


def measure(args: argparse.Namespace, documents: list, pdf_reading, verified) -> int:  # noqa: ANN001
    """The alternating rounds, the report and the JSON."""
    paths, pdfs = [p for p, _ in documents], [pdf for _, pdf in documents]
    what = "verify" if args.verify else "verify's PDF reading"

    def one(path: Path, pdf: bytes):  # noqa: ANN202
        return verified(path, pdf) if args.verify else read(pdf)

    pdf_reading.fast_pdf_reading()
    results = {}
    for on in (False, True):
        pdf_reading._use_one_pass_reading(on)
        results[on] = [one(path, pdf) for path, pdf in documents]  # also warms both up
    same = results[False] == results[True] and (not args.verify or all(results[True]))
    load = os.getloadavg()[0]
    cpu: dict[bool, list[float]] = {False: [], True: []}
    wall: dict[bool, list[float]] = {False: [], True: []}
    for r in range(max(args.rounds, 6)):
        for on in (False, True) if r % 2 == 0 else (True, False):
            pdf_reading._use_one_pass_reading(on)
            w, c = time.perf_counter(), time.process_time()
            for _ in range(args.n):
                for path, pdf in documents:
                    one(path, pdf)
            count = args.n * len(pdfs)
            cpu[on].append((time.process_time() - c) * 1000 / count)
            wall[on].append((time.perf_counter() - w) * 1000 / count)
    pdf_reading._use_one_pass_reading(True)
    before, after = statistics.median(cpu[False]), statistics.median(cpu[True])
    kib = statistics.median(len(p) for p in pdfs) / 1024
    print(f"{what} per document ({len(paths)} documents, median {kib:.0f} KiB; {os.cpu_count()} CPUs, "
          f"load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end), median of "
          f"{len(cpu[True])} alternating rounds of {args.n} {'verifications' if args.verify else 'readings'} each:")
    print(f"  before (pyHanko + token shortcuts): CPU {before:.2f} ms, wall {statistics.median(wall[False]):.2f} ms")
    print(f"  one pass:                           CPU {after:.2f} ms, wall {statistics.median(wall[True]):.2f} ms")
    print(f"  ratio {before / after:.2f}x CPU ({before - after:.2f} ms saved); rounds' CPU ms before "
          f"{[round(x, 2) for x in cpu[False]]}, one pass {[round(x, 2) for x in cpu[True]]}")
    print(f"  the same {'verdicts (all valid)' if args.verify else 'signatures and embedded files'} both ways: {same}"
          + ("" if args.verify else f"; goal <= {GOAL_MS} ms CPU: {'MET' if after <= GOAL_MS else 'NOT met'}"))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"bench_pdf_reading-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps({"what": what, "n": args.n, "documents": len(pdfs), "load": [load, os.getloadavg()[0]],
                               "cpu_ms": {"before": cpu[False], "one_pass": cpu[True]},
                               "wall_ms": {"before": wall[False], "one_pass": wall[True]}}, indent=1))
    print(f"JSON: {out}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
